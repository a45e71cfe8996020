"""Percentile conventions.

tailq's own convention for statistics of quality (p1, p5 … of tail quality over passes) is
NumPy's default, Hyndman & Fan type 7 (linear interpolation between order statistics).
Latency percentiles that are compared with MLPerf use LoadGen's rule, ``sorted[floor(n·p)]``
with no interpolation (clamped to the last element), which reproduces the values in
``mlperf_log_detail.txt`` exactly.
"""

import numpy as np

PACKAGE_CONVENTION = "linear (Hyndman-Fan type 7, numpy default)"
LOADGEN_CONVENTION = "loadgen: sorted[floor(n*p)]"


def loadgen_percentile(values, p):
    """LoadGen's percentile of ``values`` at fraction ``p`` (0 ≤ p ≤ 1); array ``p`` allowed."""
    x = np.sort(np.asarray(values).ravel())
    if x.size == 0:
        raise ValueError("loadgen_percentile of an empty array")
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)) or np.any(~np.isfinite(p)):
        raise ValueError(f"percentile fraction must lie in [0, 1], got {p}")
    idx = np.minimum(np.floor(x.size * p).astype(np.int64), x.size - 1)
    return x[idx]


def percentile(values, q, axis=None):
    """The package convention: ``q`` in percent (0–100), linear interpolation."""
    return np.percentile(values, q, axis=axis, method="linear")
