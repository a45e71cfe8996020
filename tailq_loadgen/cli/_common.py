"""Argument helpers shared by the subcommands (MLPerf reference-harness names and meanings)."""

import os

from .._errors import UserError
from ._progress import ConsoleProgress, progress_bar

__all__ = ["ConsoleProgress", "add_analysis_args", "add_capture_args", "add_harness_args",
           "capture_options", "harness_from_args", "progress_bar"]

# The project's user.conf, when tailq runs from its source tree (as `make run` does).
_DEFAULT_USER_CONF = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "mlperf_configs", "user.conf"))


def add_harness_args(p):
    p.add_argument("--harness", required=True, help="harness name (`tailq harnesses`) or module:function")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter passed to the harness factory (repeatable)")


def add_executor_arg(p, when=""):
    """``--executor`` of the pool SUT's servers (``tailq route``, ``tailq plan --verify``)."""
    from .. import workflow

    p.add_argument("--executor", default="auto", choices=workflow._route.EXECUTORS,
                   help=f"{when}where each server's model computes: auto (threads where the "
                        "family's runtime releases the GIL, else a worker process per server), "
                        "threads, processes")


def add_capture_args(p, out_help="run directory to create"):
    """The flags every capturing command shares (MLPerf reference-harness names)."""
    add_harness_args(p)
    p.add_argument("--scenario", required=True, help="SingleStream | MultiStream | Server | Offline")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    conf = p.add_argument_group("LoadGen settings (applied in this order; the last that sets a "
                                "field wins: docs/mlperf.md)")
    conf.add_argument("--mlperf_conf", default=None,
                      help="an mlperf.conf applied after LoadGen's built-in copy "
                           "(default: the built-in copy alone, as in mlperf_configs/mlperf.conf)")
    conf.add_argument("--user_conf", default=_DEFAULT_USER_CONF if os.path.isfile(_DEFAULT_USER_CONF)
                      else None, help="LoadGen user.conf (keys match the harness's model name, "
                                      "`tailq harnesses`)")
    conf.add_argument("--experiment", default=None, help="tailq experiment YAML")
    conf.add_argument("--time", type=float, default=None, help="LoadGen min and max duration, seconds (default: mlperf.conf's 600 s minimum)")
    conf.add_argument("--qps", type=float, default=None, help="Server target / Offline expected QPS (default: measured at start)")
    conf.add_argument("--max-queries", type=int, default=None, help="LoadGen min and max query count (default: mlperf.conf's)")
    conf.add_argument("--samples-per-query", type=int, default=None,
                      help="MultiStream samples per query (mlperf.conf: 8)")
    conf.add_argument("--max-latency", type=float, default=None,
                      help="Server latency bound and MultiStream expected latency, seconds")
    conf.add_argument("--performance-sample-count", type=int, default=None,
                      help="samples LoadGen loads for a performance test")
    conf.add_argument("--max-batchsize", type=int, default=None,
                      help="samples per backend call in Offline (experiment: offline_batch_size, 32)")
    conf.add_argument("--threads", type=int, default=None,
                      help="worker threads that serve Server queries (experiment: server_workers, 1)")
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
    """``{"experiment", "overrides", "user_conf", "mlperf_conf", "progress"}``
    from the shared flags, as keyword arguments of the capturing functions."""
    from .. import capture

    experiment = capture.load_experiment(args.experiment)
    changes = {"trace": False} if args.no_trace else {}
    for flag, value, field in (("--max-batchsize", args.max_batchsize, "offline_batch_size"),
                               ("--threads", args.threads, "server_workers"),
                               ("--max-in-flight", getattr(args, "max_in_flight", None), "max_in_flight")):
        if value is not None:
            if value < 1:
                raise UserError(f"{flag} {value}: must be at least 1")
            changes[field] = value
    if changes:
        experiment = capture.Experiment(**dict(experiment.as_dict(), **changes))
    overrides = capture.cli_overrides(
        time_s=args.time, qps=args.qps, max_queries=args.max_queries,
        count=getattr(args, "count", None), samples_per_query=args.samples_per_query,
        max_latency_s=args.max_latency, performance_sample_count=args.performance_sample_count)
    return {"experiment": experiment, "overrides": overrides, "user_conf": args.user_conf,
            "mlperf_conf": args.mlperf_conf, "progress": ConsoleProgress()}


def add_analysis_args(p, thresholds="p90,p95,p99"):
    p.add_argument("--thresholds", default=thresholds,
                   help="comma-separated: percentiles of pooled latency (p99) or times (50ms)")
    p.add_argument("--mc", type=int, default=2000, help="synthetic passes (Monte Carlo)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw of the analysis")


def harness_from_args(args):
    from .. import harnesses  # the registry imports no framework until a harness is built

    harness = harnesses.get_harness(args.harness, **harnesses.parse_harness_args(args.harness_arg))
    if getattr(args, "remote", None):
        from ..capture import remote_harness  # tritonclient is loaded only for --remote

        harness = remote_harness(harness, args.remote)
    return harness
