"""``tailq full``: the full MLPerf-style reference, organised in passes, plus LoadGen's view.

``--percentile`` only sets how many queries the reference needs (MLPerf's binomial rule);
the performance test keeps the scenario's own metric percentile from mlperf.conf
(SingleStream 90th, MultiStream and Server 99th), so LoadGen reports what MLPerf reports.
That test has no maximum duration: it runs until MLPerf's query count *and* the minimum
duration (mlperf.conf's 600 s, or ``--time``) are reached, so it can be VALID; it is
announced, with its expected length, before it starts.
"""

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
    verdict: dict = None   # LoadGen's verdict on the performance test (None without one)

    def as_dict(self):
        return dataclasses.asdict(self)


def performance_overrides(need, overrides):
    """The performance test's settings: MLPerf's query count unless the user set one, and no
    maximum duration (a ``--time`` maximum would cut the test short of its query count)."""
    overrides = overrides or {}
    perf = {"max_duration_ms": 0}
    if "min_query_count" not in overrides:
        perf["min_query_count"] = need
    return perf


def full_run(harness, *, scenario, out, percentile=99.0, passes=None, performance_test=True,
             thresholds="p90,p95,p99", mc=2000, seed=0, user_conf=None, experiment=None,
             overrides=None, overwrite=False, log=print, mlperf_conf=None, progress=None):
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
    from ..capture import CaptureSession  # LoadGen is loaded only when capturing

    with CaptureSession(harness, scenario=scenario, out=out, first_mode="AccuracyOnly",
                        user_conf=user_conf, experiment=experiment, overrides=overrides,
                        overwrite=overwrite, log=log, mlperf_conf=mlperf_conf,
                        progress=progress) as session:
        note = session.progress.note
        note(f"full run: MLPerf needs {need:,} queries at p{percentile:g}; {passes} passes of "
             f"{n} samples = {passes * n:,} inferences")
        session.run(["AccuracyOnly"])  # its pace makes the estimate of the rest
        session.announce(["AccuracyOnly"] * (passes - 1), f"the other {passes - 1} passes")
        session.run(["AccuracyOnly"] * (passes - 1))
        if performance_test:
            perf = performance_overrides(need, overrides)
            session.announce(["PerformanceOnly"], "then a PerformanceOnly test for LoadGen's "
                                                  "verdict", overrides=perf)
            session.run(["PerformanceOnly"], overrides=perf)
    verdict = session.meta["tests"][-1].get("verdict") if performance_test else None
    info = {"workflow": {"kind": "full", "percentile": percentile, "mlperf_query_count": need,
                         "passes": passes, "real_inferences": passes * n,
                         "performance_test": performance_test}}
    analyze_run(out, thresholds=thresholds, mc=mc, seed=seed, harness=harness, extra=info)
    return FullResult(out, percentile, need, passes, passes * n, verdict)
