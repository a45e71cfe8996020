"""``tailq show DIR``: counts, errors, LoadGen's verdict and percentiles, ours beside them."""

import json

from .. import records, report


def add_parser(sub):
    p = sub.add_parser("show", help="summarise a run directory")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def main(args):
    summary = report.summarize_run(records.load_run(args.run_dir))
    print(json.dumps(summary, indent=2) if args.json else report.format_summary(summary))
