"""``tailq estimate``: real passes in rounds until the prediction converges (spec §5)."""

from .. import tailquality, workflow
from ._common import add_analysis_args, add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("estimate", help="reduced-inference estimate: passes until rJSD ≤ τ")
    add_capture_args(p)
    add_analysis_args(p)
    p.add_argument("--tau", type=float, default=0.05)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--round", type=int, default=1, help="real passes per round")
    p.add_argument("--max-passes", type=int, default=60)
    p.add_argument("--max-time", type=float, default=None, help="seconds")
    p.add_argument("--model", default=tailquality.DEFAULT_MODEL, choices=tuple(tailquality.MODELS),
                   help="per-sample latency model (docs/analysis.md)")
    p.set_defaults(func=main)


def main(args):
    experiment, overrides = capture_options(args)
    harness = harness_from_args(args)
    result = workflow.estimate(
        harness, scenario=args.scenario, out=args.out, thresholds=args.thresholds, tau=args.tau,
        window=args.window, round_passes=args.round, max_passes=args.max_passes,
        max_time_s=args.max_time, mc=args.mc, seed=args.seed, model=args.model,
        user_conf=args.user_conf,
        experiment=experiment, overrides=overrides, overwrite=args.overwrite)
    print(workflow.format_analysis(result.analysis))
    print(f"{result.stop_reason}; {result.passes} passes = {result.real_inferences:,} real "
          f"inferences in {result.seconds:.1f} s")
    print(f"run directory: {args.out} (analysis.json inside)")
