"""``tailq run``: capture a harness under LoadGen into a run directory."""

from .. import report, workflow
from ._common import harness_from_args, add_harness_args


def add_parser(sub):
    p = sub.add_parser("run", help="run a harness under LoadGen and record every sample")
    add_harness_args(p)
    p.add_argument("--scenario", required=True, help="SingleStream | MultiStream | Server | Offline")
    p.add_argument("--mode", default=None,
                   help="PerformanceOnly (default) | AccuracyOnly | SubmissionRun")
    p.add_argument("--passes", type=int, default=None,
                   help="issue every sample exactly K times (K AccuracyOnly tests)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--user_conf", default=None, help="LoadGen user.conf")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    p.add_argument("--count", type=int, default=None, help="use only the first N dataset items")
    p.add_argument("--time", type=float, default=None, help="LoadGen min/max duration, seconds")
    p.add_argument("--qps", type=float, default=None, help="Server target / Offline expected QPS")
    p.add_argument("--max-queries", type=int, default=None, help="LoadGen min/max query count")
    p.add_argument("--no-trace", action="store_true",
                   help="cheaper: skip LoadGen's trace, record the wrapper's stamps only")
    p.set_defaults(func=main)


def main(args):
    from .. import capture  # LoadGen is loaded only by the commands that drive it

    experiment = capture.load_experiment(args.experiment)
    if args.no_trace:
        experiment = capture.Experiment(**dict(experiment.as_dict(), trace=False))
    overrides = capture.cli_overrides(time_s=args.time, qps=args.qps, max_queries=args.max_queries)
    harness = harness_from_args(args)
    capture.plan_tests(args.mode, args.passes)  # reject bad --mode/--passes before loading
    capture.run_capture(harness, scenario=args.scenario, mode=args.mode, passes=args.passes,
                        out=args.out, user_conf=args.user_conf, experiment=experiment,
                        overrides=overrides, count=args.count, overwrite=args.overwrite)
    print(report.format_summary(workflow.summarize(args.out)))
    print(f"run directory: {args.out}")

