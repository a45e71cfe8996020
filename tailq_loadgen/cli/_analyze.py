"""``tailq analyze RUN_DIR``: observed and predicted tail quality → analysis.json."""

from .. import tailquality, workflow
from ._common import progress_bar


def add_parser(sub):
    p = sub.add_parser("analyze", help="tail quality of a captured run (writes analysis.json)")
    p.add_argument("run_dir")
    p.add_argument("--thresholds", default="p90,p95,p99",
                   help="comma-separated: percentiles of pooled latency (p99) or times (50ms)")
    p.add_argument("--mc", type=int, default=2000, help="synthetic passes (Monte Carlo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=tailquality.DEFAULT_MODEL, choices=tuple(tailquality.MODELS),
                   help="per-sample latency model (docs/analysis.md)")
    p.add_argument("--no-run-level", action="store_true", help="turn off the per-pass shift")
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--tau", type=float, default=0.05)
    p.add_argument("--bin-width", type=float, default=0.001, help="quality units (0.001 = 0.1 pp)")
    p.add_argument("--percentile-rule", default="linear", choices=("linear", "loadgen"))
    p.set_defaults(func=main)


def main(args):
    with progress_bar("analysing", unit="refit") as progress:
        analysis, _ = workflow.analyze_run(
            args.run_dir, thresholds=args.thresholds, mc=args.mc, seed=args.seed, model=args.model,
            run_level=not args.no_run_level, window=args.window, tau=args.tau,
            bin_width=args.bin_width, percentile_rule=args.percentile_rule, progress=progress)
    print(workflow.format_analysis(analysis))
    print(f"written: {args.run_dir}/analysis.json")
