"""MLPerf's query count for a latency percentile, from its binomial confidence rule."""

import math

from scipy.stats import norm

CONFIDENCE = 0.99
MARGIN_DIVISOR = 20
ROUND_TO = 8192  # 2**13


def mlperf_query_count(percentile, confidence=CONFIDENCE):
    """Queries MLPerf needs so that the ``percentile`` (e.g. 0.99) estimate holds.

    n = z² p (1 − p) / margin², margin = (1 − p)/20, z the two-sided ``confidence`` normal
    quantile, rounded up to a multiple of 8192: p90 → 24,576, p95 → 57,344, p97 → 90,112,
    p99 → 270,336.
    """
    p = float(percentile)
    if not 0 < p < 1:
        raise ValueError(f"percentile must lie in (0, 1), got {percentile}")
    z = norm.ppf(1 - (1 - confidence) / 2)
    margin = (1 - p) / MARGIN_DIVISOR
    n = z * z * p * (1 - p) / (margin * margin)
    return int(math.ceil(n / ROUND_TO) * ROUND_TO)
