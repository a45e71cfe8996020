"""``tailq compare-systems RUN_A RUN_B [RUN_C ...]``: one harness on several systems."""

import sys

from .. import workflow


def add_parser(sub):
    p = sub.add_parser("compare-systems",
                       help="the same harness and dataset on several systems, side by side")
    p.add_argument("run_dirs", nargs="+", help="run directories (the first is the reference)")
    p.add_argument("--thresholds", default="p90,p99",
                   help="comma-separated: deadlines common to all (20ms) and percentiles of "
                        "each system's own latencies (p99)")
    p.add_argument("--names", default=None, help="comma-separated system names (default: "
                                                 "the directories' names)")
    p.add_argument("--force", action="store_true", help="compare runs of different models or "
                                                        "datasets anyway")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the comparison as JSON here")
    p.set_defaults(func=main)


def main(args):
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    doc = workflow.compare_systems(args.run_dirs, thresholds=args.thresholds, names=names,
                                   force=args.force, level=args.level, n_boot=args.bootstrap,
                                   seed=args.seed)
    print(workflow.format_compare_systems(doc))
    if args.out:
        print(f"written: {workflow.write_compare_systems(doc, args.out)}", file=sys.stderr)
