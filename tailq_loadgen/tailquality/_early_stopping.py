"""LoadGen's early-stopping rule, recomputed from per-sample latencies (parity with LoadGen).

With h queries under and t over a latency bound, LoadGen accepts the percentile p when the
probability of seeing at most t overlatency queries in h + t, were the true fraction of fast
queries only p, is below 1 − c (c = 0.99): I_p(h, t + 1) < 1 − c, I the regularised incomplete
beta function (the binomial CDF). ``min_passing(t, p)`` is the smallest such h.

* SingleStream and MultiStream: at least ``min_passing(1, p) + 1`` queries are needed; the
  estimate is the t-th largest latency (per sample, or per query in MultiStream), t being the
  largest number of overlatency queries the run could afford: the last i for which
  ``queries ≥ min_passing(i, p) + i``.
* Server: t = queries over the target latency; the run passes when
  ``queries ≥ min_passing(t, p) + t``.

Implemented from the rule as documented by MLCommons; LoadGen's own logs are the reference in
``tests/test_early_stopping.py``.
"""

import dataclasses
import math

import numpy as np
from scipy.special import betainc

CONFIDENCE = 0.99


def min_passing(t, p, confidence=CONFIDENCE, tolerance=0.0, start=1):
    """Smallest h ≥ ``start`` with I_{p−d}(h, t + 1) < 1 − c."""
    q = p - tolerance
    target = 1.0 - confidence

    def ok(h):
        return betainc(h, t + 1, q) < target

    lo = max(1, int(start))
    if ok(lo):
        return lo
    hi = lo * 2
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    scenario: str
    percentile: float
    queries: int
    met: bool
    min_queries: int           # queries needed to say anything (SingleStream/MultiStream)
    overlatency: int           # t
    estimate_ns: int = None    # SingleStream/MultiStream: the early-stopping percentile estimate
    more_queries_needed: int = 0
    message: str = ""

    def as_dict(self):
        return dataclasses.asdict(self)


def early_stopping(latencies_ns, scenario, percentile, target_latency_ns=None,
                   confidence=CONFIDENCE):
    """LoadGen's early-stopping verdict for ``latencies_ns`` (per sample; per query in
    MultiStream), at ``percentile`` (e.g. 0.9)."""
    lat = np.sort(np.asarray(latencies_ns, dtype=np.int64))
    n = int(lat.size)
    p = float(percentile)
    if scenario == "Server":
        if target_latency_ns is None:
            raise ValueError("Server early stopping needs the target latency")
        t = int(np.sum(lat > target_latency_ns))
        h = min_passing(t, p, confidence)
        met = n >= h + t
        msg = "Run successful." if met else (
            f"Run unsuccessful. Processed {n} queries. Would need to run at least "
            f"{h + t - n} more queries, with the run being successful if every additional "
            "query were under latency.")
        return EarlyStopping(scenario, p, n, met, h + t, t, None, 0 if met else h + t - n, msg)
    if scenario not in ("SingleStream", "MultiStream"):
        raise ValueError(f"LoadGen has no early stopping for {scenario}")
    h_min = min_passing(1, p, confidence)
    if n < h_min + 1:
        return EarlyStopping(scenario, p, n, False, h_min + 1, 0, None, h_min + 1 - n,
                             f"Only processed {n} queries. Need to process at least "
                             f"{h_min + 1} queries for early stopping.")
    t, h = 1, h_min
    for i in range(2, n + 1):
        h = min_passing(i, p, confidence, start=h)
        if n < h + i:
            t = i - 1
            break
    estimate = int(lat[n - t])
    return EarlyStopping(scenario, p, n, True, h_min + 1, t, estimate, 0,
                         f"Processed at least {h_min + 1} queries ({n}). Would discard {t - 1} "
                         f"highest latency queries. Early stopping {p * 100:.0f}th percentile "
                         f"estimate: {estimate}")
