"""``tailq compare EST_DIR FULL_DIR``: the side-by-side table of spec §6; --fail-if gates."""

import sys

from .. import workflow


def add_parser(sub):
    p = sub.add_parser("compare", help="reduced estimate vs full reference, per threshold")
    p.add_argument("estimate_dir")
    p.add_argument("full_dir", help="the `tailq full` run (it must not be smaller than the estimate)")
    p.add_argument("--force", action="store_true",
                   help="compare runs that do not match, or a reference smaller than the estimate")
    p.add_argument("--thresholds", default=None, help="default: the estimate's")
    p.add_argument("--out", default=None, help="compare.json path (default: in ESTIMATE_DIR)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier compare.json")
    p.add_argument("--fail-if", action="append", default=[],
                   help="exit 1 when it holds: jsd>0.05, mean_diff>0.005, mean_z>2, ratio<10, "
                        "worst_outside, no_match, mean_outside, reference_unstable, self_check "
                        "(repeatable, or comma-separated; docs/workflow.md)")
    p.set_defaults(func=main)


def main(args):
    conditions = workflow.parse_conditions(args.fail_if)
    path = workflow.compare_path(args.estimate_dir, args.out, overwrite=args.overwrite)
    workflow.check_reference(args.estimate_dir, args.full_dir, force=args.force)
    doc = workflow.compare_runs(args.estimate_dir, args.full_dir, force=args.force,
                                thresholds=args.thresholds)
    workflow.write_compare(doc, path)
    print(workflow.format_compare(doc))
    print(f"written: {path}")
    hits = workflow.failed_conditions(doc, conditions)
    for h in hits:
        print(f"tailq: fail-if: {h}", file=sys.stderr)
    return 1 if hits else 0
