"""``tailq full``: MLPerf's query count for a percentile, organised in passes."""

from .. import records, workflow
from ._common import add_analysis_args, add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("full", help="full MLPerf-style reference run, in passes")
    add_capture_args(p)
    add_analysis_args(p)
    p.add_argument("--percentile", type=float, default=99.0,
                   help="latency percentile whose MLPerf query count the run must reach (the "
                        "performance test keeps the scenario's own metric percentile)")
    p.add_argument("--passes", type=int, default=None,
                   help="override the computed pass count (default: MLPerf's count / samples)")
    p.add_argument("--no-performance-test", action="store_true",
                   help="skip the PerformanceOnly test that gives LoadGen's own verdict")
    p.set_defaults(func=main)


def main(args):
    options = capture_options(args)
    harness = harness_from_args(args)
    result = workflow.full_run(
        harness, scenario=args.scenario, out=args.out, percentile=args.percentile,
        passes=args.passes, performance_test=not args.no_performance_test,
        thresholds=args.thresholds, mc=args.mc, seed=args.seed, overwrite=args.overwrite,
        **options)
    print(f"full run: {result.passes} passes, {result.real_inferences:,} inferences "
          f"(MLPerf's count at p{result.percentile:g}: {result.mlperf_query_count:,})")
    if result.verdict is not None:
        print(f"LoadGen, performance test: {records.format_verdict(result.verdict)}")
        metric = records.format_metric(result.verdict.get("metric"))
        if metric:
            print(f"{result.verdict['scenario']} metric: {metric}")
    print(f"run directory: {args.out} (analysis.json inside)")
