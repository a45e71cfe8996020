"""``tailq show DIR``: counts, errors, LoadGen's verdict and percentiles, ours beside them."""

import json

from .. import report, workflow


def add_parser(sub):
    p = sub.add_parser("show", help="summarise a run directory")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def main(args):
    summary = workflow.summarize(args.run_dir)
    routed = workflow.routing_of(args.run_dir)  # a `tailq route` run: its routing.json too
    if routed is not None:
        summary["routing"] = routed
    adapted = workflow.adapt_of(args.run_dir)  # a `tailq adapt` run: its adapt.json too
    if adapted is not None:
        summary["adaptation"] = adapted
    print(json.dumps(summary, indent=2) if args.json else report.format_summary(summary))
    if routed is not None and not args.json:
        print("\n".join(workflow.routing_lines(routed)))
    if adapted is not None and not args.json:
        print("\n".join(workflow.adapt_lines(adapted)))

