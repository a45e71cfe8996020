"""``tailq estimate``: real passes in rounds until the prediction converges (spec §5)."""

from .. import tailquality, workflow
from ._common import add_analysis_args, add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("estimate", help="reduced-inference estimate: passes until rJSD ≤ τ",
                       description="Capture AccuracyOnly passes in rounds, refit the per-sample "
                                   "latency model after each and stop when the predicted "
                                   "tail-quality distribution no longer moves (docs/workflow.md).")
    add_capture_args(p)
    add_analysis_args(p)
    p.add_argument("--tau", type=float, default=0.05,
                   help="stop when rJSD (base 2) ≤ τ at every threshold")
    p.add_argument("--window", type=int, default=5,
                   help="rJSD compares the new prediction with this many previous ones")
    p.add_argument("--round", type=int, default=1, help="real passes per round")
    p.add_argument("--max-passes", type=int, default=60,
                   help="budget: stop (not converged) after this many real passes")
    p.add_argument("--max-time", type=float, default=None,
                   help="budget: stop (not converged) after this many seconds (default: no time budget)")
    p.add_argument("--model", default=tailquality.DEFAULT_MODEL, choices=tuple(tailquality.MODELS),
                   help="per-sample latency model (docs/analysis.md)")
    p.set_defaults(func=main)


def main(args):
    options = capture_options(args)
    harness = harness_from_args(args)
    result = workflow.estimate(
        harness, scenario=args.scenario, out=args.out, thresholds=args.thresholds, tau=args.tau,
        window=args.window, round_passes=args.round, max_passes=args.max_passes,
        max_time_s=args.max_time, mc=args.mc, seed=args.seed, model=args.model,
        overwrite=args.overwrite, **options)
    print(workflow.format_analysis(result.analysis))
    print(f"{result.stop_reason}; {result.passes} passes = {result.real_inferences:,} real "
          f"inferences in {result.seconds:.1f} s")
    print(f"run directory: {args.out} (analysis.json inside)")
