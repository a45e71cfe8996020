"""Jensen–Shannon divergence between tail-quality distributions (spec §5, §6).

Histograms use a **fixed bin width in quality units** (default 0.001 = 0.1 percentage point
of a metric in [0, 1]) on a grid anchored at zero, the same for every comparison: a coarse
per-comparison grid could hide a miss. ``jsd`` is the *divergence*, base 2, in [0, 1].
(scipy's ``jensenshannon`` returns the *distance*, its square root, natural log by default.)
"""

import numpy as np
from scipy import special

DEFAULT_BIN_WIDTH = 0.001


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


def conditional_histogram(mean, var, lo_bin, hi_bin, bin_width=DEFAULT_BIN_WIDTH, lattice=None,
                          chunk=1024):
    """Bin probabilities on bins [lo_bin, hi_bin] of the mixture, over passes, of each pass's
    conditional law of TQ (normal, mean ``mean`` and variance ``var``; on the lattice of
    multiples of ``lattice`` with a continuity correction when TQ has one). Mass outside the
    range goes to the end bins. This is the prediction's histogram without the per-sample
    Monte Carlo noise of drawn passes (``_predict``)."""
    mean = np.asarray(mean, dtype=np.float64).ravel()
    sd = np.sqrt(np.maximum(np.asarray(var, dtype=np.float64).ravel(), 0.0))
    edges = (lo_bin + np.arange(1, hi_bin - lo_bin + 1)) * bin_width  # inner edges
    if lattice:
        # P(TQ < e) = P(J ≤ ceil(e/L) − 1), J = TQ/L an integer
        x = np.ceil(np.round(edges / lattice, 9)) - 0.5
        mu, s = mean / lattice, np.maximum(sd / lattice, 1e-9)
    else:
        x, mu, s = edges, mean, np.maximum(sd, 1e-12)
    probs = np.zeros(hi_bin - lo_bin + 1)
    for start in range(0, mean.size, chunk):
        sl = slice(start, start + chunk)
        cdf = special.ndtr((x[None, :] - mu[sl, None]) / s[sl, None])
        full = np.concatenate([np.zeros((cdf.shape[0], 1)), cdf, np.ones((cdf.shape[0], 1))], axis=1)
        probs += np.diff(full, axis=1).sum(axis=0)
    return probs / max(mean.size, 1)


def law_histogram(pred, t, bin_width=DEFAULT_BIN_WIDTH):
    """(first bin, probabilities) of a Prediction at threshold index t: the conditional laws'
    histogram when it has them (±8 SD of every pass's law covered), else its drawn values'."""
    if pred.cond_mean is not None:
        m, v = pred.cond_mean[t], pred.cond_var[t]
        sd = np.sqrt(np.maximum(v, 0))
        lo = int(np.floor(np.round(np.min(m - 8 * sd) / bin_width, 9)))
        hi = int(np.floor(np.round(np.max(m + 8 * sd) / bin_width, 9)))
        return lo, conditional_histogram(m, v, lo, hi, bin_width, pred.lattice)
    lo, hi = common_bins(pred.values[t], bin_width=bin_width)
    return lo, histogram(pred.values[t], lo, hi, bin_width)


def hist_jsd(a, b, base=2.0):
    """JSD between two (first bin, probabilities) histograms on the same bin width."""
    lo = min(a[0], b[0])
    hi = max(a[0] + a[1].size, b[0] + b[1].size)
    pa, pb = np.zeros(hi - lo), np.zeros(hi - lo)
    pa[a[0] - lo:a[0] - lo + a[1].size] = a[1]
    pb[b[0] - lo:b[0] - lo + b[1].size] = b[1]
    return jsd_from_probs(pa, pb, base)


def hist_rjsd(new, previous):
    """rJSD (tailq convention) of histogram ``new`` against the histograms ``previous``."""
    if not previous:
        return float("nan")
    return float(np.sqrt(np.mean([hist_jsd(new, p) for p in previous])))


def hist_rjsd_public_code(new, previous):
    if not previous:
        return float("nan")
    return float(np.sqrt(np.mean([np.sqrt(hist_jsd(new, p, base=np.e)) for p in previous])))
