"""Statistics of a tail-quality distribution (observed passes or synthetic ones)."""

import dataclasses

import numpy as np

from ._percentile import percentile


@dataclasses.dataclass(frozen=True)
class TQStats:
    """Min, p1, p5, median, mean, std, max of tail quality over passes (package percentile
    convention), the number of passes, and — for a predicted distribution — the expected
    worst case over ``worst_of`` passes."""

    n: int
    min: float
    p1: float
    p5: float
    median: float
    mean: float
    std: float
    max: float
    worst_of: int = None
    expected_worst: float = None

    def as_dict(self):
        return dataclasses.asdict(self)


def expected_min_of(values, k):
    """E[min of k independent draws] from the empirical distribution of ``values``."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    m = x.size
    j = np.arange(1, m + 1)
    weights = (1 - (j - 1) / m) ** k - (1 - j / m) ** k
    return float(np.sum(weights * x))


def tq_stats(values, worst_of=None):
    v = np.asarray(values, dtype=np.float64).ravel()
    p1, p5, med = percentile(v, [1, 5, 50])
    return TQStats(n=int(v.size), min=float(v.min()), p1=float(p1), p5=float(p5),
                   median=float(med), mean=float(v.mean()),
                   std=float(v.std(ddof=1)) if v.size > 1 else 0.0, max=float(v.max()),
                   worst_of=worst_of,
                   expected_worst=expected_min_of(v, worst_of) if worst_of else None)
