"""``tailq run``: capture a harness under LoadGen into a run directory."""

from .. import report, workflow
from ._common import add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("run", help="run a harness under LoadGen and record every sample")
    add_capture_args(p)
    p.add_argument("--mode", default=None,
                   help="PerformanceOnly (default) | AccuracyOnly | SubmissionRun")
    p.add_argument("--passes", type=int, default=None,
                   help="issue every sample exactly K times (K AccuracyOnly tests)")
    p.add_argument("--count", type=int, default=None, help="use only the first N dataset items")
    p.set_defaults(func=main)


def main(args):
    from .. import capture  # LoadGen is loaded only by the commands that drive it

    experiment, overrides = capture_options(args)
    harness = harness_from_args(args)
    capture.plan_tests(args.mode, args.passes)  # reject bad --mode/--passes before loading
    capture.run_capture(harness, scenario=args.scenario, mode=args.mode, passes=args.passes,
                        out=args.out, user_conf=args.user_conf, experiment=experiment,
                        overrides=overrides, count=args.count, overwrite=args.overwrite)
    print(report.format_summary(workflow.summarize(args.out)))
    print(f"run directory: {args.out}")
