"""Argument helpers shared by the subcommands."""

from .._errors import UserError


def add_harness_args(p):
    p.add_argument("--harness", required=True, help="harness name (`tailq harnesses`) or module:function")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter passed to the harness factory (repeatable)")


def add_capture_args(p, out_help="run directory to create"):
    """The flags every capturing command shares (MLPerf reference-harness names)."""
    add_harness_args(p)
    p.add_argument("--scenario", required=True, help="SingleStream | MultiStream | Server | Offline")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--user_conf", default=None, help="LoadGen user.conf")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    p.add_argument("--time", type=float, default=None, help="LoadGen min/max duration, seconds")
    p.add_argument("--qps", type=float, default=None, help="Server target / Offline expected QPS")
    p.add_argument("--max-queries", type=int, default=None, help="LoadGen min/max query count")
    p.add_argument("--no-trace", action="store_true",
                   help="cheaper: skip LoadGen's trace, record the wrapper's stamps only")
    p.add_argument("--remote", default=None, metavar="URL",
                   help="the model runs on a V2 inference server (Triton, KServe, MLServer): "
                        "v2+grpc://HOST:PORT/MODEL or v2+http://HOST:PORT/MODEL; the harness "
                        "keeps the dataset and the metric (docs/vendor-evaluation.md)")
    p.add_argument("--max-in-flight", type=int, default=None, metavar="K",
                   help="requests in flight at once (MultiStream, Server, Offline); "
                        "experiment option max_in_flight")


def capture_options(args):
    """(experiment, overrides) from the shared flags."""
    from .. import capture

    experiment = capture.load_experiment(args.experiment)
    if args.no_trace:
        experiment = capture.Experiment(**dict(experiment.as_dict(), trace=False))
    if getattr(args, "max_in_flight", None) is not None:
        if args.max_in_flight < 1:
            raise UserError(f"--max-in-flight {args.max_in_flight}: must be at least 1")
        experiment = capture.Experiment(**dict(experiment.as_dict(), max_in_flight=args.max_in_flight))
    overrides = capture.cli_overrides(time_s=args.time, qps=args.qps, max_queries=args.max_queries)
    return experiment, overrides


def add_analysis_args(p, thresholds="p90,p95,p99"):
    p.add_argument("--thresholds", default=thresholds,
                   help="comma-separated: percentiles of pooled latency (p99) or times (50ms)")
    p.add_argument("--mc", type=int, default=2000, help="synthetic passes (Monte Carlo)")
    p.add_argument("--seed", type=int, default=0)


def harness_from_args(args):
    from .. import harnesses  # the registry imports no framework until a harness is built

    harness = harnesses.get_harness(args.harness, **harnesses.parse_harness_args(args.harness_arg))
    if getattr(args, "remote", None):
        from ..capture import remote_harness  # tritonclient is loaded only for --remote

        harness = remote_harness(harness, args.remote)
    return harness


class progress_bar:
    """A tqdm bar on stderr that shows itself only when the work takes over a second."""

    def __init__(self, desc, unit="step"):
        self.desc, self.unit, self.bar = desc, unit, None

    def __enter__(self):
        return self

    def __call__(self, done, total):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, delay=1.0, leave=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
