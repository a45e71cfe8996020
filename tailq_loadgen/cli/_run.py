"""``tailq run``: capture a harness under LoadGen into a run directory."""

from .. import report, workflow
from .._errors import UserError
from ._common import add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("run", help="run a harness under LoadGen and record every sample")
    add_capture_args(p)
    p.add_argument("--mode", default=None,
                   help="PerformanceOnly (default) | AccuracyOnly | SubmissionRun | FindPeakPerformance")
    p.add_argument("--accuracy", action="store_true", help="AccuracyOnly (the reference harness's flag)")
    p.add_argument("--find-peak-performance", action="store_true",
                   help="FindPeakPerformance: LoadGen searches the highest valid Server QPS")
    p.add_argument("--passes", type=int, default=None,
                   help="issue every sample exactly K times (K AccuracyOnly tests)")
    p.add_argument("--audit_conf", default=None,
                   help="LoadGen audit.config of a compliance test (mlperf_configs/audit/; "
                        "`tailq audit` runs and verifies one); never read from the working directory")
    p.add_argument("--count", type=int, default=None,
                   help="use the first N dataset items, and N queries (LoadGen min/max query "
                        "count), as the reference harness does")
    p.set_defaults(func=main)


def mode_from_flags(mode, accuracy, find_peak):
    """The reference harness's --accuracy / --find-peak-performance as a --mode."""
    wanted = {m for m, on in (("AccuracyOnly", accuracy), ("FindPeakPerformance", find_peak)) if on}
    if mode is not None:
        wanted.add(mode)
    if len(wanted) > 1:
        raise UserError(f"--mode, --accuracy and --find-peak-performance ask for different modes "
                        f"({', '.join(sorted(wanted))}); give one")
    return wanted.pop() if wanted else None


def main(args):
    from .. import capture  # LoadGen is loaded only by the commands that drive it

    mode = mode_from_flags(args.mode, args.accuracy, args.find_peak_performance)
    options = capture_options(args)
    harness = harness_from_args(args)
    capture.plan_tests(mode, args.passes)  # reject bad --mode/--passes before loading
    capture.run_capture(harness, scenario=args.scenario, mode=mode, passes=args.passes,
                        out=args.out, count=args.count, overwrite=args.overwrite,
                        audit_conf=args.audit_conf, **options)
    print(report.format_summary(workflow.summarize(args.out)))
    print(f"run directory: {args.out}")
