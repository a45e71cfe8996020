"""The laws the latency models draw from, each a function of a uniform (quantile coupling).

* :class:`TabulatedLaw` — a pooled sample smoothed with a Gaussian kernel the
  variance-preserving way (spec §4.3: x̄ + (x − x̄ + h·z)/√(1 + h²/σ²)), tabulated as a CDF on
  a fine grid. ``cdf`` answers P(X ≤ t) (used for the validity probabilities); ``ppf`` is its
  exact inverse (used for draws). A uniform maps to the same quantile of the law whatever the
  pool's size, so a refit with one more pass moves each draw a little instead of re-drawing
  it (an index ``pool[floor(u·n)]`` lands on a different residual after every refit).
* :class:`ShiftLaw` — the run-level shift of a pass, predictive (spec §4.4).
* :class:`RateLaw` — the stall intensity of a pass, predictive.
* :func:`copula` — the two run-level factors drawn together (a Gaussian copula).
"""

import math

import numpy as np
from scipy import optimize, special, stats

_MAX_GRID = 1 << 15


def silverman_bandwidth(x):
    """Silverman's rule of thumb, 0.9·min(sd, IQR/1.34)·n^(−1/5), in the unit of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 2:
        return 0.0
    sd = x.std(ddof=1)
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(sd, (q75 - q25) / 1.34) if q75 > q25 else sd
    return 0.9 * spread * n ** -0.2


def lcv_bandwidth(x, floor=0.0, max_points=400):
    """Likelihood cross-validated Gaussian-kernel bandwidth (at most Silverman's).

    For pools with spikes — stalls of exactly one scheduler tick, 4 ms on a CONFIG_HZ=250
    kernel, made up almost half of the digits harness's long stalls — Silverman's rule smooths
    the spike away (the CDF at a θ just past the spike was 0.45 instead of 0.53). The
    leave-one-out log-likelihood picks a bandwidth that keeps it. Evenly spaced order
    statistics stand in for large pools; the search is continuous in log h, so a refit with
    more data moves h a little."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    h0 = silverman_bandwidth(x)
    if x.size < 10 or h0 <= 0:
        return max(h0, floor)
    if x.size > max_points:
        x = x[np.linspace(0, x.size - 1, max_points).round().astype(np.int64)]
    d2 = (x[:, None] - x[None, :]) ** 2
    np.fill_diagonal(d2, np.inf)
    n = x.size

    def loss(log_h):
        h = math.exp(log_h)
        dens = np.exp(-0.5 * d2 / (h * h)).sum(axis=1) / ((n - 1) * h)
        return -np.sum(np.log(dens + 1e-300))

    lo = math.log(max(h0 / 64, floor, 1e-12))
    res = optimize.minimize_scalar(loss, bounds=(lo, math.log(h0)), method="bounded",
                                   options={"xatol": 1e-3})
    return max(float(math.exp(res.x)), floor)


class TabulatedLaw:
    """A kernel-smoothed pool with the pool's variance, as a CDF table on a uniform grid."""

    def __init__(self, pool, bandwidth=None, min_bandwidth=0.0):
        e = np.sort(np.asarray(pool, dtype=np.float64)[np.isfinite(pool)])
        if e.size == 0:
            e = np.zeros(1)
        self.n = int(e.size)
        self.mean = float(e.mean())
        self.var = float(e.var())
        h = silverman_bandwidth(e) if bandwidth is None else float(bandwidth)
        span = e[-1] - e[0]
        h = max(h, min_bandwidth, 1e-6 * max(span, abs(self.mean), 1.0))
        self.bandwidth = h
        self.scale = math.sqrt(1.0 + h * h / self.var) if self.var > 0 else 1.0
        lo, hi = e[0] - 6 * h, e[-1] + 6 * h
        dx = min(h / 4, (hi - lo) / 256)
        g = int(min(_MAX_GRID, math.ceil((hi - lo) / dx) + 1))
        dx = (hi - lo) / (g - 1)
        pos = (e - lo) / dx
        i = np.minimum(np.floor(pos).astype(np.int64), g - 2)
        f = pos - i
        w = np.bincount(i, 1 - f, minlength=g) + np.bincount(i + 1, f, minlength=g)
        k = int(math.ceil(6 * h / dx))
        edges = (np.arange(-k, k + 2) - 0.5) * dx / h
        kern = np.diff(special.ndtr(edges))
        mass = np.convolve(w, kern)[k:k + g]
        cdf = np.concatenate([[0.0], np.cumsum(mass)])
        cdf /= cdf[-1]
        self.x0 = lo - dx / 2           # cdf[j] = P(x ≤ x0 + j·dx) in the kernel-smoothed x
        self.dx = dx
        self.table = cdf
        self.xs = self.x0 + dx * np.arange(cdf.size)
        self.slope = np.append(np.diff(cdf), 0.0)
        # t (variance-preserving ε) → x = mean + (t − mean)·scale → index (x − x0)/dx
        self._a = self.scale / dx
        self._b = (self.mean * (1 - self.scale) - self.x0) / dx

    def cdf(self, t):
        """P(X ≤ t), elementwise."""
        idx = np.multiply(t, self._a)
        idx += self._b
        return grid_interp(idx, self.table, self.slope)

    def ppf(self, u):
        """The u-quantile (exact inverse of ``cdf``)."""
        x = np.interp(u, self.table, self.xs)
        return self.mean + (x - self.mean) / self.scale

    def describe(self):
        return {"pool": self.n, "bandwidth": round(self.bandwidth, 6), "mean": round(self.mean, 6),
                "variance": round(self.var, 6)}


def grid_interp(idx, table, slope=None):
    """Linear interpolation of ``table`` (values at 0, 1, 2, …) at fractional positions ``idx``
    (overwritten); the end values outside the table. ``slope``: ``np.diff(table)`` with a
    trailing 0, when the caller keeps it."""
    last = table.size - 1
    if slope is None:
        slope = np.append(np.diff(table), 0.0)
    np.nan_to_num(idx, copy=False, nan=0.0, posinf=last, neginf=0.0)
    np.clip(idx, 0, last, out=idx)
    i = idx.astype(np.intp)
    idx -= i
    idx *= slope[i]
    idx += table[i]
    return idx


class ShiftLaw:
    """Run-level shift δ of a pass (log units), centred, predictive.

    σ̂² is the variance of the observed pass shifts minus the part per-sample noise puts in
    them. A new pass's shift relative to the fitted locations (which carry the observed
    passes' mean shift, known only to ±σ/√k) has variance σ²(1 + 1/k) and, σ being itself
    estimated from k − 1 degrees of freedom, a Student-t law: δ = σ̂·√(1 + 1/k)·t_{k−1}⁻¹(u)
    — the textbook predictive law, never narrower than the passes seen and with no
    (k−1)/k shrinkage (spec §4.4). It changes smoothly with k (no switch between laws).
    ``predictive=False`` is the plug-in law N(0, σ̂²), used by the in-sample self-check.
    ``heavy=False`` (the secondary factors: body scale, stall severity) keeps the √(1 + 1/k)
    widening with normal tails — see ``RateLaw`` for why.
    """

    def __init__(self, shifts, noise_var=0.0, predictive=True, heavy=True):
        shifts = np.asarray(shifts, dtype=np.float64)
        self.heavy = bool(heavy)
        self.k = int(shifts.size)
        var = float(np.var(shifts, ddof=1)) if self.k > 1 else 0.0
        self.sd = math.sqrt(max(var - noise_var, 0.0))
        self.observed_sd = math.sqrt(var)
        self.noise_var = float(noise_var)
        self.predictive = bool(predictive)

    @property
    def df(self):
        return max(self.k - 1, 1)

    def ppf(self, u):
        if self.sd == 0:
            return np.zeros(np.shape(u))
        if not self.predictive:
            return self.sd * special.ndtri(u)
        z = stats.t.ppf(u, self.df) if self.heavy else special.ndtri(u)
        return self.sd * math.sqrt(1 + 1 / self.k) * z

    def grouped_ppf(self, u, u_scale, u_offset):
        """The same predictive law drawn in two stages, for passes that share one world:
        σ_g = σ̂·√((k−1)/χ²_{k−1}) and an offset o_g ~ N(0, σ_g²/k) per group (from
        ``u_scale``, ``u_offset``), then o_g + σ_g·z per pass. Marginally each pass is exactly
        σ̂·√(1 + 1/k)·t_{k−1}; together, the passes of a group share the estimate's error — as
        the passes of one real run share the true law. (Independent marginal draws would make
        the minimum of R passes far too extreme at small k and far too narrow at large k.)"""
        if self.sd == 0:
            return np.zeros(np.shape(u))
        if not self.predictive:
            return self.sd * special.ndtri(u)
        c = np.sqrt(self.df / stats.chi2.ppf(u_scale, self.df)) if self.heavy else 1.0
        return c * self.sd * (special.ndtri(u_offset) / math.sqrt(self.k) + special.ndtri(u))

    def mean_se(self):
        """σ̂/√k: how well the run-level mean is known."""
        return self.sd / math.sqrt(max(self.k, 1))

    def plug_in(self):
        law = object.__new__(ShiftLaw)
        law.__dict__.update(self.__dict__, predictive=False)
        return law

    def describe(self):
        return {"law": (("predictive: σ̂·√(1+1/k)·t(k−1)" if self.heavy else
                         "predictive: σ̂·√(1+1/k)·N(0, 1)") if self.predictive else "plug-in N(0, σ̂²)"),
                "sd_log": self.sd, "observed_sd_log": self.observed_sd, "noise_var_log": self.noise_var,
                "passes": self.k, "mean_se_log": self.mean_se()}


class RateLaw:
    """Stall intensity π of a pass (the share of its samples that stall), predictive.

    From each pass's stall count: the mean rate p̄ and the between-pass variance V net of
    the binomial part. A new pass's rate has variance V·(1 + 1/k) + p̄(1 − p̄)/Σn (the mean's
    own error, shared by every sample of the pass); its law is lognormal with that mean and
    variance (right-skewed: bursts), the exponent t_{k−1}-distributed like the shift's, capped
    at 1. With no stalls seen the rate is 0.
    """

    def __init__(self, counts, totals, predictive=True):
        counts = np.asarray(counts, dtype=np.float64)
        totals = np.maximum(np.asarray(totals, dtype=np.float64), 1.0)
        self.k = int(counts.size)
        self.mean = float(counts.sum() / totals.sum()) if self.k else 0.0
        f = counts / totals
        binom = float(np.mean(self.mean * (1 - self.mean) / totals)) if self.k else 0.0
        spread = float(np.var(f, ddof=1)) if self.k > 1 else 0.0
        self.between_var = max(spread - binom, 0.0)
        self.mean_var = self.mean * (1 - self.mean) / float(totals.sum()) if self.k else 0.0
        self.observed_sd = math.sqrt(spread)
        self.predictive = bool(predictive)

    @property
    def df(self):
        return max(self.k - 1, 1)

    def variance(self):
        if self.predictive:
            return self.between_var * (1 + 1 / max(self.k, 1)) + self.mean_var
        return self.between_var

    def ppf(self, u):
        if self.mean <= 0:
            return np.zeros(np.shape(u))
        v = self.variance()
        if v <= 0:
            return np.full(np.shape(u), self.mean)
        s2 = math.log1p(v / self.mean ** 2)
        z = special.ndtri(u)
        return np.minimum(self.mean * np.exp(math.sqrt(s2) * z - s2 / 2), 1.0)

    def grouped_ppf(self, u, u_scale, u_offset):
        """Two-stage draw for passes that share one world (see ``ShiftLaw.grouped_ppf``): one
        offset of the log-rate per group carrying the mean's error (and the 1/k part of the
        between-pass variance); per pass a normal deviate."""
        if self.mean <= 0:
            return np.zeros(np.shape(u))
        if not self.predictive:
            return self.ppf(u)
        sb2 = math.log1p(self.between_var / self.mean ** 2)
        sm2 = math.log1p(self.mean_var / self.mean ** 2)
        off = special.ndtri(u_offset) * math.sqrt(sb2 / max(self.k, 1) + sm2)
        x = off + math.sqrt(sb2) * special.ndtri(u)
        return np.minimum(self.mean * np.exp(x - (sb2 * (1 + 1 / max(self.k, 1)) + sm2) / 2), 1.0)

    def mean_se(self):
        return math.sqrt(self.between_var / max(self.k, 1) + self.mean_var)

    def plug_in(self):
        law = object.__new__(RateLaw)
        law.__dict__.update(self.__dict__, predictive=False)
        return law

    def describe(self):
        return {"law": "predictive lognormal" if self.predictive else "plug-in lognormal",
                "mean": self.mean, "between_pass_sd": math.sqrt(self.between_var),
                "observed_sd": self.observed_sd, "mean_se": self.mean_se(), "passes": self.k}


def shrunk_correlation(a, b):
    """Correlation of two per-pass factors for the copula: Spearman's ρ_s turned into the
    normal-scores correlation 2·sin(π·ρ_s/6), shrunk towards 0 by the positive-part
    James–Stein factor 1 − 1/((k−1)·ρ²) so that a handful of passes cannot impose one."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    k = a.size
    if k < 4 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    rs = stats.spearmanr(a, b).statistic
    r = 2 * math.sin(math.pi * rs / 6)
    factor = max(0.0, 1 - 1 / ((k - 1) * r * r)) if r else 0.0
    return float(np.clip(r * factor, -0.99, 0.99))


def correlation_matrix(series):
    """Copula correlation of per-pass factors: pairwise ``shrunk_correlation``, made positive
    definite (eigenvalues floored at 0.01)."""
    d = len(series)
    c = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            c[i, j] = c[j, i] = shrunk_correlation(series[i], series[j])
    w, v = np.linalg.eigh(c)
    if w.min() < 0.01:
        c = (v * np.maximum(w, 0.01)) @ v.T
        s = np.sqrt(np.diag(c))
        c = c / s[:, None] / s[None, :]
    return c


def copula(u, corr):
    """(c, d) independent uniforms → uniforms with normal-scores correlation ``corr``; the
    first column (the shift's) is left as it is."""
    if corr is None or np.allclose(corr, np.eye(corr.shape[0])):
        return u
    z = special.ndtri(u) @ np.linalg.cholesky(corr).T
    out = special.ndtr(z)
    out[:, 0] = u[:, 0]
    return np.clip(out, 2.0 ** -53, 1 - 2.0 ** -53)
