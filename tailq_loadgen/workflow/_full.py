"""``tailq full``: the full MLPerf-style reference, organised in passes, plus LoadGen's view."""

import dataclasses
import math

from .. import tailquality
from .._errors import UserError
from ._analyze import analyze_run


@dataclasses.dataclass(frozen=True)
class FullResult:
    run_dir: str
    percentile: float
    mlperf_query_count: int
    passes: int
    real_inferences: int

    def as_dict(self):
        return dataclasses.asdict(self)


def full_run(harness, *, scenario, out, percentile=99.0, passes=None, performance_test=True,
             thresholds="p90,p95,p99", mc=2000, seed=0, user_conf=None, experiment=None,
             overrides=None, overwrite=False, log=print):
    """At least MLPerf's query count for ``percentile`` in AccuracyOnly passes, then one
    PerformanceOnly test for LoadGen's own verdict; analysed for the observed distribution."""
    if not 0 < percentile < 100:
        raise UserError(f"--percentile {percentile}: must lie strictly between 0 and 100")
    need = tailquality.mlperf_query_count(percentile / 100.0)
    n = int(harness.dataset.get_item_count())
    if n <= 0:
        raise UserError(f"harness {harness.name}: its dataset is empty; nothing to measure")
    if passes is None:
        passes = math.ceil(need / n)
    elif passes < 2:
        raise UserError(f"--passes {passes}: a reference needs at least 2 passes")
    log(f"full run: MLPerf needs {need:,} queries at p{percentile:g}; {passes} passes of {n} "
        f"samples = {passes * n:,} inferences")
    from ..capture import CaptureSession  # LoadGen is loaded only when capturing

    with CaptureSession(harness, scenario=scenario, out=out, first_mode="AccuracyOnly",
                        user_conf=user_conf, experiment=experiment, overrides=overrides,
                        overwrite=overwrite, log=log) as session:
        session.run(["AccuracyOnly"] * passes)
        if performance_test:
            perf = {} if "min_query_count" in (overrides or {}) else {"min_query_count": need}
            perf_attr = {"SingleStream": "single_stream_target_latency_percentile",
                         "MultiStream": "multi_stream_target_latency_percentile",
                         "Server": "server_target_latency_percentile"}.get(scenario)
            if perf_attr:
                perf[perf_attr] = percentile / 100.0
            session.run(["PerformanceOnly"], overrides=perf)
    info = {"workflow": {"kind": "full", "percentile": percentile, "mlperf_query_count": need,
                         "passes": passes, "real_inferences": passes * n,
                         "performance_test": performance_test}}
    analyze_run(out, thresholds=thresholds, mc=mc, seed=seed, harness=harness, extra=info)
    return FullResult(out, percentile, need, passes, passes * n)
