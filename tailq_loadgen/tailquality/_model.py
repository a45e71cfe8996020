"""Per-sample latency models in log-latency, with run-level factors (spec §4.1–4.5).

All three log-space models share one form and one set of coupled draws:

    log L_ir = μ_i + δ_r + σ_i · λ_r · ε_ir                 (the body)

and, for ``stall-mixture``, a tail of stalls on top of it:

    L_ir = exp(μ_i + δ_r) + X_ir   with probability π_rb·w_i  (a stall of band b),

* μ_i, σ_i: each sample's own location and scale; ε: the standardised residual shape shared
  by the samples of a size group, kernel-smoothed the variance-preserving way (``_laws``);
* δ_r: a run-level shift shared by every sample of pass r; λ_r: the pass's body scale (slow
  passes are often wide passes);
* per stall band b: π_rb, the pass's stall intensity (some passes stall far more than
  others), and the pass's severity s_rb (how much longer than usual its stalls run); w_i the
  stall propensity of the sample's size group;
* X: a stall's excess over the body in ns, pooled over all stalls of its band,
  log X = η + s_rb + b·(μ_i − μ̄) with b ∈ [0, 1] estimated (0: additive delays the same for
  every sample, as CPU interruptions are; 1: proportional to the sample's own time).

A synthetic pass gets its run-level factors from predictive laws (``ShiftLaw``, ``RateLaw``,
joined by a Gaussian copula) at its own run-level uniforms, and each sample its body and
stall uniforms; every law maps a uniform to a quantile, so refits keep each synthetic pass
nearly where it was (spec §5). Latencies are exp(·) of finite log-latencies or a positive
excess added to a positive body: never negative, no reflection or truncation needed.

Models:

* ``stall-mixture`` (the default): body and tail apart. Stalls are cells whose residual
  (from a median polish) exceeds ``cut`` robust scales of their sample; the body is fitted on
  the rest (two-way means, scales shrunk towards the size group's with Smyth's (2004)
  empirical-Bayes prior), so a stall never widens a sample's body.
* ``pooled``: moment estimates over every cell; stalls go into the pooled shape's tail (and
  widen the σ of the samples that had them). Shift only (λ = 1, no stall component).
* ``pooled-robust``: median polish and MAD scales over every cell; stalls go into the
  pooled shape's tail as very large standardised residuals. Shift only.

``pooled`` and ``pooled-robust`` keep their location/scale/shape estimates from earlier
versions; their run-level law is the predictive shift law and their draws are coupled.
"""

import dataclasses
import math

import numpy as np

from ._fitting import (log_latency, median_polish, resolution_floor, row_mad, shrink_variances,
                       size_groups, two_way_mean)
from ._laws import (RateLaw, ShiftLaw, TabulatedLaw, copula, correlation_matrix, lcv_bandwidth,
                    silverman_bandwidth)

STALL_CUT = 3.5          # robust scales above the sample's location: a stall, not the body
STALL_PSEUDO_COUNT = 20  # stalls a group's propensity is shrunk with towards the common rate
_TINY = 1e-12


@dataclasses.dataclass(frozen=True)
class LogLatencyModel:
    """A fitted log-latency model (see the module docstring); build with a ``fit_*``."""

    kind: str                 # "stall-mixture", "pooled" or "pooled-robust"
    mu: np.ndarray            # (N,) location, NaN where a sample never succeeded
    sigma: np.ndarray         # (N,) scale used for draws (ML: σ̃·√((k−1)/k))
    group: np.ndarray         # (N,) size group of each sample
    body: tuple               # per group: TabulatedLaw of the standardised residual shape
    fail_prob: np.ndarray     # (N,) fraction of passes the sample failed (error/timeout)
    n_obs: np.ndarray         # (N,) successful observations per sample
    shift: object             # ShiftLaw, or None (run-level component off)
    pass_shift: np.ndarray    # (R,) estimated run-level shifts δ_r (log units, centred)
    rates: tuple = ()         # per stall band: RateLaw of its intensity (empty: no stalls)
    propensity: np.ndarray = None   # (N,) stall propensity w_i
    excess: tuple = ()        # per stall band: TabulatedLaw of η = log X − b(μ − μ̄)
    excess_power: float = 0.0
    excess_mu_ref: float = 0.0
    body_scale: object = None  # ShiftLaw of the pass's log body-scale factor, or None
    severity: tuple = ()      # per stall band: ShiftLaw of the pass's log-excess shift, or None
    corr: np.ndarray = None   # copula correlation of (shift, body scale, band rates, severities)
    info: dict = None         # what the fit found, for describe()

    @property
    def n_samples(self):
        return self.mu.shape[0]

    @property
    def n_passes(self):
        return self.pass_shift.shape[0]

    @property
    def has_stalls(self):
        return bool(self.rates)

    @property
    def run_dims(self):
        return 2 + 2 * len(self.rates)

    @property
    def run_level(self):
        return self.shift is not None

    def shift_standard_error(self):
        """σ_δ/√R: how well the run-level mean is known (log units ≈ relative latency)."""
        return float(self.shift.mean_se()) if self.shift is not None else 0.0

    def plug_in(self):
        """The same fit with plug-in run-level laws (no predictive widening): the model as
        fitted, which the in-sample self-check holds against the passes it came from."""
        return dataclasses.replace(
            self, shift=self.shift.plug_in() if self.shift is not None else None,
            rates=tuple(law.plug_in() for law in self.rates),
            body_scale=self.body_scale.plug_in() if self.body_scale is not None else None,
            severity=tuple(None if law is None else law.plug_in() for law in self.severity))

    # -- the run level --------------------------------------------------------------------
    def _factors(self):
        """The run-level laws in the column order of the uniforms: shift, body scale, then
        per band its rate and its severity (so a band keeps its columns when another
        appears); None where a factor is off."""
        out = [self.shift, self.body_scale]
        for rate, sev in zip(self.rates, self.severity):
            out += [rate, sev]
        return out

    def run_state(self, u, u_group=None):
        """(c, run_dims) uniforms → per-pass factors: "delta" (c,), "scale" (c,) — the body
        scale factor —, "rate" and "severity" (bands, c). ``u_group`` (c, 2·run_dims): per-pass
        copies of their group's uniforms, for passes that share one draw of the estimate's
        error (``grouped_ppf``); None: every pass draws from the marginal predictive law."""
        c = u.shape[0]
        if self.corr is not None and self.shift is not None:
            u = copula(u, self.corr)
        values = []
        for j, law in enumerate(self._factors()):
            if law is None:
                values.append(np.zeros(c))
            elif u_group is None:
                values.append(np.asarray(law.ppf(u[:, j]), dtype=np.float64))
            else:
                values.append(law.grouped_ppf(u[:, j], u_group[:, 2 * j], u_group[:, 2 * j + 1]))
        bands = len(self.rates)
        return {"delta": values[0],
                "scale": np.exp(values[1]) if self.body_scale is not None else None,
                "rate": np.stack(values[2::2]) if bands else None,
                "severity": np.stack(values[3::2]) if bands else None}

    # -- the sample level -----------------------------------------------------------------
    def _loc(self, r0, r1):
        return np.nan_to_num(self.mu[r0:r1]), np.maximum(self.sigma[r0:r1], _TINY)

    def _rates(self, r0, r1, state):
        """(bands, n, c) stall probabilities of each band, their sum capped at 1."""
        rate = self.propensity[None, r0:r1, None] * state["rate"][:, None, :]
        total = rate.sum(axis=0)
        over = total > 1
        if over.any():
            rate[:, over] /= total[over]
        return rate

    def draw_log_latency(self, r0, r1, state, u_body, u_stall=None):
        """(r1 − r0, c) synthetic log-latencies from the cells' uniforms.

        One stall uniform per cell: it falls in band b's slice of [0, Σ rates) with that
        band's probability, and its position inside the slice is the band's excess quantile
        (so the stall draw stays coupled when the rates change)."""
        mu, sigma = self._loc(r0, r1)
        base = mu[:, None] + state["delta"][None, :]
        eps = self._by_group(r0, r1, u_body, "ppf")
        if state.get("scale") is not None:
            eps *= state["scale"][None, :]
        y = base + sigma[:, None] * eps
        if self.rates:
            rate = self._rates(r0, r1, state)
            low = np.zeros_like(u_stall)
            for b, law in enumerate(self.excess):
                i, j = np.nonzero((u_stall >= low) & (u_stall < low + rate[b]))
                if i.size:
                    eta = law.ppf((u_stall[i, j] - low[i, j]) / rate[b, i, j])
                    x = eta + state["severity"][b, j] + self.excess_power * (mu[i] - self.excess_mu_ref)
                    y[i, j] = np.logaddexp(base[i, j], x)
                low += rate[b]
        return y

    def cell_cdf(self, r0, r1, state, log_thetas):
        """(r1 − r0, T, c): P(latency ≤ θ_t) of every cell given its pass's factors (the
        conditional validity probability; failures are the engine's)."""
        mu, sigma = self._loc(r0, r1)
        base = mu[:, None] + state["delta"][None, :]                    # (n, c)
        z = (log_thetas[None, :, None] - base[:, None, :]) / sigma[:, None, None]
        if state.get("scale") is not None:
            z /= state["scale"][None, None, :]
        p = self._by_group(r0, r1, z, "cdf")
        if self.rates:
            rate = self._rates(r0, r1, state)[:, :, None, :]        # (bands, n, 1, c)
            with np.errstate(invalid="ignore", divide="ignore"):
                # room left for the excess; none (log of ≤ 0) when the body alone is late
                room = np.log(np.exp(log_thetas)[None, :, None] - np.exp(base)[:, None, :])
            room[np.isnan(room)] = -np.inf
            room -= self.excess_power * (mu - self.excess_mu_ref)[:, None, None]
            total = rate.sum(axis=0)
            p *= 1 - total
            for b, law in enumerate(self.excess):
                stall = law.cdf(room - state["severity"][b][None, None, :])
                stall *= rate[b]
                p += stall
        return p

    def _by_group(self, r0, r1, x, method):
        """Apply each size group's body law (``cdf`` or ``ppf``) to its rows of ``x``."""
        if len(self.body) == 1:
            return getattr(self.body[0], method)(x)
        g = self.group[r0:r1]
        out = np.empty_like(x)
        for gi, law in enumerate(self.body):
            rows = g == gi
            if rows.any():
                out[rows] = getattr(law, method)(x[rows])
        return out

    def sample(self, n_passes, seed):
        """Synthetic latencies (N, n_passes) in the unit of the fit; +inf marks a failure.
        The same numbers the Monte Carlo uses (``_predict``)."""
        from ._predict import draw_latencies

        return draw_latencies(self, n_passes, seed)

    def describe(self):
        d = {"model": self.kind, "space": "log",
             "pooled": ("standardised within-sample residual shape and a shrinkage target for "
                        f"the scale, over {len(self.body)} size group(s)"),
             "size_groups": len(self.body),
             "body_per_group": [law.describe() for law in self.body],
             "run_level_component": self.run_level,
             "run_level_draws": self.shift.describe() if self.shift is not None else None,
             "pass_shift_sd_log": float(self.shift.sd) if self.shift is not None else 0.0,
             "pass_shift_mean_se_log": self.shift_standard_error(),
             "coupling": "quantile coupling: each synthetic pass keeps its uniforms across refits",
             "negative_latencies": "impossible: exp(log-latency), plus a positive stall excess",
             "samples_never_ok": int(np.sum(~np.isfinite(self.mu)))}
        if self.rates:
            d["stalls"] = {"bands": [{"rate": r.describe(), "excess_log_ns": e.describe()}
                                     for r, e in zip(self.rates, self.excess)],
                           "copula_correlation": (None if self.corr is None else
                                                  np.round(self.corr, 4).tolist()),
                           "excess_power": self.excess_power,
                           "excess_form": ("additive ns" if self.excess_power == 0 else
                                           f"X ∝ (sample's own time)^{self.excess_power:.2f}"),
                           "stall_rate_mean_se": [r.mean_se() for r in self.rates]}
        d.update(self.info or {})
        return d


# -- fits -----------------------------------------------------------------------------------
def _draw_scale(sigma2, df, k, mu, resolution):
    """ML draw scale σ·√((k−1)/k), floored at the timer's resolution where k > 1.

    μ_i is itself known only to ±σ_i/√k; drawing μ̂_i + σ·√((k−1)/k)·ε gives each sample's
    validity probability without bias on average (σ²/k + σ²(k−1)/k = σ²), and reproduces
    the observed (ML) per-sample variance: the smoothed bootstrap's variance-preserving
    choice applied to the whole model.
    """
    sigma = np.sqrt(np.nan_to_num(sigma2)) * np.sqrt(np.divide(df, np.maximum(k, 1)))
    return np.where(k > 1, np.maximum(sigma, resolution_floor(mu, resolution)), sigma)


def _pools(resid, cells, sigma, groups, robust):
    """Per-group TabulatedLaw of residuals standardised to a unit (robust) scale."""
    laws, sizes = [], []
    everything = []
    per_group = []
    for gi in range(int(groups.max()) + 1):
        use = cells & (groups == gi)[:, None] & (sigma[:, None] > 0)
        e = resid[use] / np.broadcast_to(sigma[:, None], resid.shape)[use]
        per_group.append(e)
        everything.append(e)
    allres = np.concatenate(everything) if everything else np.zeros(0)
    for e in per_group:
        if e.size < 2:
            e = allres  # a group without residuals borrows everyone's
        if e.size >= 2:
            if robust:
                mad = np.median(np.abs(e - np.median(e)))
                e = (e - np.median(e)) / (1.4826 * mad) if mad > 0 else e - np.median(e)
            elif e.std() > 0:
                e = (e - e.mean()) / e.std()
        else:
            e = np.zeros(1)
        laws.append(TabulatedLaw(e))
        sizes.append(int(e.size))
    return tuple(laws), sizes


def _shift_law(delta, sigma2_mean, n_samples, k, robust, run_level, r):
    if not (run_level and r >= 3):
        return None
    # the pass shifts carry per-sample noise, σ²(1 − 1/k)/N on average (π/2 times that for a
    # median): it is not run-level variation
    noise = sigma2_mean * (1 - 1 / max(k, 1)) / max(n_samples, 1) * (math.pi / 2 if robust else 1.0)
    return ShiftLaw(delta, noise)


def fit_pooled(latency, ok, sizes=None, *, run_level=True, resolution=1.0, max_groups=8,
               min_per_group=50, robust=False):
    """``pooled`` (moments) or, with ``robust``, ``pooled-robust`` (median polish, MAD)."""
    y, obs = log_latency(latency, ok, resolution)
    n, r = y.shape
    mu, delta = (median_polish if robust else two_way_mean)(y, obs)
    k = obs.sum(axis=1)
    resid = np.where(obs, y - np.nan_to_num(mu)[:, None] - delta[None, :], 0.0)
    df = np.maximum(k - 1, 0).astype(np.float64)
    if robust:  # (1.4826·MAD)², scaled like a df-corrected variance of the residuals
        mad = row_mad(resid, obs) if r else np.zeros(n)
        s2 = np.where(df > 0, np.nan_to_num(mad) ** 2 * np.divide(k, np.maximum(df, 1)), np.nan)
    else:
        s2 = np.divide((resid ** 2).sum(axis=1), df, out=np.full(n, np.nan), where=df > 0)
    groups = size_groups(sizes, n, max_groups, min_per_group)
    post, priors, _ = shrink_variances(s2, df, groups)
    # standardised residuals: resid has variance σ²(k−1)/k around the sample's own mean
    std_scale = np.sqrt(post) * np.sqrt(np.divide(df, np.maximum(k, 1)))
    body, pool_sizes = _pools(resid, obs & (df[:, None] > 0), std_scale, groups, robust)
    sigma = _draw_scale(post, df, k, mu, resolution)
    shift = _shift_law(delta, float(np.nanmean(post[k > 0])) if (k > 0).any() else 0.0,
                       int((k > 0).sum()), r, robust, run_level, r)
    return LogLatencyModel(
        kind="pooled-robust" if robust else "pooled", mu=np.where(k > 0, mu, np.nan),
        sigma=sigma, group=groups, body=body, fail_prob=np.where(k > 0, 1.0 - k / max(r, 1), 1.0),
        n_obs=k, shift=shift, pass_shift=delta,
        info={"location_scale": ("robust: median polish and 1.4826·MAD (stalls go into the "
                                 "pooled shape's tail)" if robust else
                                 "moments: means and standard deviations"),
              "residuals_per_group": pool_sizes,
              "prior_df_per_group": [None if not np.isfinite(d) else round(float(d), 3)
                                     for d in priors]})


def fit_pooled_robust(latency, ok, sizes=None, **kwargs):
    return fit_pooled(latency, ok, sizes, robust=True, **kwargs)


def _excess_power(mu_cells, log_x):
    """b of log X = a + b·μ + η, shrunk by its own noise (positive-part James–Stein) and
    clipped to [0, 1]: samples of one size cannot tell additive from proportional stalls,
    and then the additive form (b = 0) is kept."""
    if log_x.size < 10 or np.std(mu_cells) < 0.1:
        return 0.0  # samples' times within ~10% of each other: nothing to tell them apart by
    vm = np.var(mu_cells)
    b = np.cov(mu_cells, log_x, bias=True)[0, 1] / vm
    res = log_x - log_x.mean() - b * (mu_cells - mu_cells.mean())
    se2 = np.var(res) / (log_x.size * vm)
    b *= max(0.0, 1 - se2 / (b * b)) if b else 0.0
    return float(np.clip(b, 0.0, 1.0))


def _body_scale(resid, cells, std_scale, run_level):
    """A pass's body scale factor λ_r: the RMS of its standardised body residuals, in logs.

    Slow passes are often wide passes too: on the digits harness the per-pass body RMS
    varied 3.5× more than sampling explains and correlated with the shift (ρ = 0.6), so
    samples crossed a tight threshold (p90 sat 19% above the median) more often than one
    pooled shape with a shift alone gives (1.1% of body cells predicted, 1.6% seen). log λ
    gets a predictive ``ShiftLaw`` (net of the sampling noise (κ − 1)/(4n) of a log RMS); the
    pool is standardised per pass so that the factor is not counted twice. Returns
    (law or None, log λ_r)."""
    r = resid.shape[1]
    log_scale = np.zeros(r)
    if not run_level or r < 3 or not cells.any():
        return None, log_scale
    e = np.where(cells, resid / np.maximum(std_scale, _TINY)[:, None], 0.0)
    n_r = cells.sum(axis=0)
    seen = n_r >= 2
    if seen.sum() < 3:
        return None, log_scale
    ms = (e ** 2).sum(axis=0)[seen] / n_r[seen]
    log_scale[seen] = 0.5 * np.log(np.maximum(ms, _TINY))
    log_scale[seen] -= log_scale[seen].mean()
    flat = e[cells]
    kurt = float(np.mean(flat ** 4) / max(np.mean(flat ** 2) ** 2, _TINY))
    noise = float(np.mean((kurt - 1) / (4 * n_r[seen])))
    return ShiftLaw(log_scale[seen], noise, heavy=False), log_scale


def _severity(eta, cols, r, run_level, min_per_pass=3):
    """A stall band's per-pass severity: how much longer the pass's stalls run than the band's
    usual (the median of its log-excess minus the band's), and the pool of log-excesses with
    each pass's severity removed.

    Passes differ not only in how often they stall but in how long: on the digits harness
    one stretch of passes stalled for one 4 ms scheduler tick, another for 5–12 ms, with
    similar counts. The severity gets a predictive ``ShiftLaw`` (its variance net of the
    median's sampling noise, (π/2)·var/n per pass); passes with fewer than ``min_per_pass``
    stalls in the band count as severity 0. Returns (law or None, per-pass series, pool)."""
    series = np.zeros(r)
    if not run_level or r < 3 or eta.size == 0:
        return None, series, eta
    counts = np.bincount(cols, minlength=r)
    centre = np.median(eta)
    seen = np.flatnonzero(counts >= min_per_pass)
    if seen.size < 3:
        return None, series, eta
    for j in seen:
        series[j] = np.median(eta[cols == j]) - centre
    series[seen] -= np.median(series[seen])
    noise_j = np.pi / 2 * np.var(eta) / counts[seen]
    law = ShiftLaw(series[seen], float(np.mean(noise_j)), heavy=False)
    # the pool loses each pass's severity as its empirical-Bayes (shrunk) estimate, not the
    # raw median: removing the raw median would subtract its sampling noise from every stall
    # of the pass and blur the pool by that noise, while the law adds back only the variance
    # net of it (digits-torch, 28 passes: between-pass SD 0.148 of which noise 0.144; the
    # blurred pool over-predicted the share above θ99 by a quarter, in-sample z = −2.8)
    signal = law.sd ** 2
    shrink = np.zeros(r)
    shrink[seen] = signal / (signal + noise_j) if signal > 0 else 0.0
    return law, series, eta - (shrink * series)[cols]


def _band_split(eta, min_share=0.05, min_cells=10, separation=0.8):
    """Where to split the stall excesses into two bands, or None.

    Real machines have more than one kind of stall (on a 2-vCPU VM: delays of 20–100 µs on a
    60 µs inference, and preemptions of 3–12 ms), and their per-pass counts vary apart (weakly
    correlated), so each band gets its own per-pass intensity. The split is Otsu's: the cut
    of log-excess that maximises the between-band variance; it is used only when the bands
    are well separated (between-band share of the variance ≥ ``separation``; a normal sample
    reaches at most 2/π ≈ 0.64) and each holds ≥ ``min_share`` of the stalls and
    ≥ ``min_cells`` cells.
    """
    e = np.sort(eta)
    n = e.size
    lo = max(min_cells, int(np.ceil(min_share * n)))
    if n < 2 * lo or np.var(e) == 0:
        return None
    c = np.cumsum(e)
    i = np.arange(lo, n - lo + 1)                 # first i values in the lower band
    m1, m2 = c[i - 1] / i, (c[-1] - c[i - 1]) / (n - i)
    between = i * (n - i) / n ** 2 * (m1 - m2) ** 2
    best = int(np.argmax(between))
    if between[best] / np.var(e) < separation:
        return None
    j = i[best]
    return float((e[j - 1] + e[j]) / 2)


def fit_stall_mixture(latency, ok, sizes=None, *, run_level=True, resolution=1.0, max_groups=8,
                      min_per_group=50, cut=STALL_CUT):
    """``stall-mixture``: robust body, pooled stalls with a per-pass intensity (see module)."""
    latency = np.asarray(latency, dtype=np.float64)
    y, obs = log_latency(latency, ok, resolution)
    n, r = y.shape
    k = obs.sum(axis=1)
    groups = size_groups(sizes, n, max_groups, min_per_group)
    n_groups = int(groups.max()) + 1

    # 1. find the stalls with robust estimates: a stall must not widen the body that finds it
    mu0, d0 = median_polish(y, obs)
    e0 = np.where(obs, y - np.nan_to_num(mu0)[:, None] - d0[None, :], 0.0)
    mad = row_mad(e0, obs)
    group_mad = np.array([1.4826 * np.median(np.abs(e0[obs & (groups == g)[:, None]]))
                          if (obs & (groups == g)[:, None]).any() else 0.0 for g in range(n_groups)])
    w = k / (k + 8.0)  # own MAD's weight grows smoothly with the passes seen
    s_robust = np.sqrt(w * np.nan_to_num(mad, nan=0.0) ** 2 + (1 - w) * group_mad[groups] ** 2)
    s_robust = np.maximum(s_robust, resolution_floor(mu0, resolution) + _TINY)
    stall = obs & (e0 > cut * s_robust[:, None])
    body_cells = obs & ~stall

    # 2. the body: two-way means and shrunk scales over the body cells only
    mu, delta = two_way_mean(y, body_cells)
    kb = body_cells.sum(axis=1)
    mu = np.where(kb > 0, mu, mu0)  # a sample that only stalled keeps its median
    resid = np.where(body_cells, y - np.nan_to_num(mu)[:, None] - delta[None, :], 0.0)
    df = np.maximum(kb - 1, 0).astype(np.float64)
    s2 = np.divide((resid ** 2).sum(axis=1), df, out=np.full(n, np.nan), where=df > 0)
    post, priors, pooled = shrink_variances(s2, df, groups)
    post = np.where(post > 0, post, pooled[groups])
    std_scale = np.sqrt(post) * np.sqrt(np.divide(df, np.maximum(kb, 1)))
    pooled_cells = body_cells & (df[:, None] > 0)
    body_scale, log_scale = _body_scale(resid, pooled_cells, std_scale, run_level)
    body, pool_sizes = _pools(resid * np.exp(-log_scale)[None, :], pooled_cells, std_scale,
                              groups, False)
    sigma = _draw_scale(post, df, kb, mu, resolution)

    # 3. the stalls: excess over the cell's body level, pooled; intensity per pass and band
    n_stall = int(stall.sum())
    base = np.exp(np.nan_to_num(mu)[:, None] + delta[None, :])
    x = np.maximum((latency - base)[stall], resolution)
    mu_cells = np.broadcast_to(np.nan_to_num(mu)[:, None], y.shape)[stall]
    power = _excess_power(mu_cells, np.log(x)) if n_stall else 0.0
    mu_ref = float(mu_cells.mean()) if n_stall else 0.0
    eta = np.log(x) - power * (mu_cells - mu_ref)
    split = _band_split(eta)
    totals = obs.sum(axis=0)
    rates, excess, severity, propensity, prop, band_info = (), (), (), None, None, []
    per_pass, per_pass_sev = [], []
    if n_stall:
        mean_rate = n_stall / max(int(obs.sum()), 1)
        g_stall = np.bincount(groups, weights=stall.sum(axis=1), minlength=n_groups)
        g_cells = np.bincount(groups, weights=k, minlength=n_groups)
        prop = (g_stall + STALL_PSEUDO_COUNT) / (mean_rate * g_cells + STALL_PSEUDO_COUNT)
        propensity = prop[groups]
        band_of = np.zeros(n_stall, dtype=np.int64) if split is None else (eta > split).astype(np.int64)
        cols = np.nonzero(stall)[1]
        for b in range(int(band_of.max()) + 1):
            counts = np.bincount(cols[band_of == b], minlength=r)
            per_pass.append(counts / np.maximum(totals, 1))
            rates += ((RateLaw(counts, totals) if run_level and r >= 3 else  # off: constant
                       RateLaw([counts.sum()], [totals.sum()], predictive=False)),)
            sev_law, sev_series, eta_b = _severity(eta[band_of == b], cols[band_of == b], r,
                                                   run_level)
            severity += (sev_law,)
            per_pass_sev.append(sev_series)
            excess += (TabulatedLaw(eta_b, lcv_bandwidth(eta_b, 0.005)),)
            band_info.append({"cells": int(np.sum(band_of == b)),
                              "excess_ms_median": float(np.exp(np.median(eta[band_of == b])) / 1e6)})
    shift = _shift_law(delta, float(np.nanmean(post[kb > 0])) if (kb > 0).any() else 0.0,
                       int((kb > 0).sum()), r, False, run_level, r)
    corr = (correlation_matrix([delta, log_scale] + [x for pair in zip(per_pass, per_pass_sev)
                                                     for x in pair])
            if shift is not None and rates else None)
    return LogLatencyModel(
        kind="stall-mixture", mu=np.where(k > 0, mu, np.nan), sigma=sigma, group=groups,
        body=body, fail_prob=np.where(k > 0, 1.0 - k / max(r, 1), 1.0), n_obs=k, shift=shift,
        pass_shift=delta, body_scale=body_scale, rates=rates, propensity=propensity, excess=excess, severity=severity,
        excess_power=power,
        excess_mu_ref=mu_ref, corr=corr,
        info={"location_scale": ("body: two-way means and SDs over the cells that are not "
                                 f"stalls (residual > {cut} robust scales of the sample, from a "
                                 "median polish); scales shrunk towards the size group's"),
              "stall_cut_robust_scales": cut, "stall_cells": n_stall,
              "stall_share": n_stall / max(int(obs.sum()), 1),
              "stall_share_per_pass": [round(float(v), 6) for v in
                                       (np.sum(per_pass, axis=0) if per_pass else np.zeros(r))],
              "stall_bands": band_info,
              "stall_band_split_log_ns": split,
              "stall_propensity_per_group": (None if propensity is None else
                                             [round(float(p), 4) for p in prop]),
              "residuals_per_group": pool_sizes,
              "prior_df_per_group": [None if not np.isfinite(d) else round(float(d), 3)
                                     for d in priors]})


from ._plainkde import PlainKDEModel, fit_plain_kde  # noqa: E402  (a sibling model)

MODELS = {"stall-mixture": fit_stall_mixture, "pooled": fit_pooled,
          "pooled-robust": fit_pooled_robust, "plain-kde": fit_plain_kde}
DEFAULT_MODEL = "stall-mixture"

__all__ = ["DEFAULT_MODEL", "LogLatencyModel", "MODELS", "PlainKDEModel", "fit_plain_kde",
           "fit_pooled", "fit_pooled_robust", "fit_stall_mixture", "silverman_bandwidth",
           "size_groups"]
