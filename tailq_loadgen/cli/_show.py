"""``tailq show DIR``: counts, errors, LoadGen's verdict and percentiles, ours beside them
(and a routing run's routing section; a `tailq route --simulate` directory, that alone)."""

from .. import workflow


def add_parser(sub):
    p = sub.add_parser("show", help="summarise a run directory (or a `tailq route --simulate` one)")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def main(args):
    print(workflow.show(args.run_dir, as_json=args.json))
