"""Jensen–Shannon divergence between tail-quality distributions (spec §5, §6).

Histograms use a **fixed bin width in quality units** (default 0.001 = 0.1 percentage point
of a metric in [0, 1]) on a grid anchored at zero, the same for every comparison: a coarse
per-comparison grid could hide a miss. ``jsd`` is the *divergence*, base 2, in [0, 1].
(scipy's ``jensenshannon`` returns the *distance*, its square root, natural log by default.)
"""

import numpy as np

DEFAULT_BIN_WIDTH = 0.001


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def histogram(values, lo_bin, hi_bin, bin_width=DEFAULT_BIN_WIDTH):
    """Probabilities on bins [lo_bin, hi_bin] (bin b covers [b·w, (b+1)·w))."""
    v = np.asarray(values, dtype=np.float64).ravel()
    # round before flooring so that k·w lands in bin k despite float error
    b = np.floor(np.round(v / bin_width, 9)).astype(np.int64) - lo_bin
    counts = np.bincount(np.clip(b, 0, hi_bin - lo_bin), minlength=hi_bin - lo_bin + 1)
    return counts / max(v.size, 1)


def common_bins(*samples, bin_width=DEFAULT_BIN_WIDTH):
    lo = min(np.floor(np.round(np.min(s) / bin_width, 9)) for s in samples)
    hi = max(np.floor(np.round(np.max(s) / bin_width, 9)) for s in samples)
    return int(lo), int(hi)


def jsd_from_probs(p, q, base=2.0):
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def kl(a):
        nz = a > 0
        return np.sum(a[nz] * np.log(a[nz] / m[nz]))

    return float(max(0.5 * kl(p) + 0.5 * kl(q), 0.0) / np.log(base))


def jsd(a, b, bin_width=DEFAULT_BIN_WIDTH, base=2.0):
    """JS divergence of two samples of tail quality, on fixed-width bins (base 2: in [0, 1])."""
    lo, hi = common_bins(a, b, bin_width=bin_width)
    return jsd_from_probs(histogram(a, lo, hi, bin_width), histogram(b, lo, hi, bin_width), base)


def rjsd(new, previous, bin_width=DEFAULT_BIN_WIDTH):
    """tailq's convergence measure: sqrt(mean over the window of JSD₂(new, previous_j))."""
    if not previous:
        return float("nan")
    return float(np.sqrt(np.mean([jsd(new, p, bin_width) for p in previous])))


def rjsd_public_code(new, previous, bin_width=DEFAULT_BIN_WIDTH):
    """The tail-quality paper's public code convention, for comparison only:
    sqrt(mean over the window of the JS *distance*, natural log) — a square root taken twice."""
    if not previous:
        return float("nan")
    return float(np.sqrt(np.mean([np.sqrt(jsd(new, p, bin_width, base=np.e)) for p in previous])))


def noise_floor(predicted, n_observed, rng, draws=200, bin_width=DEFAULT_BIN_WIDTH):
    """JSD expected between ``predicted`` and ``n_observed`` draws from itself: (median, p95).

    A finite full run is itself a noisy sample; a prediction whose JSD to it lies within this
    floor cannot be told apart from a perfect one.
    """
    rng = _rng(rng)
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    values = np.array([jsd(predicted, rng.choice(predicted, size=n_observed, replace=True), bin_width)
                       for _ in range(draws)])
    return float(np.median(values)), float(np.percentile(values, 95))
