"""Per-sample latency models and Monte Carlo synthetic passes (spec §4.1–4.5).

``PooledLatencyModel`` (the default) works in log-latency, where a sample's latency is

    log L_ir = μ_i + δ_r + σ_i · ε_ir

* μ_i, each sample's own location; δ_r a run-level shift shared by every sample of pass r;
* σ_i, each sample's scale, shrunk towards the pool of samples of similar size with the
  empirical-Bayes prior of Smyth (2004) (prior degrees of freedom from the spread of the
  log sample variances, so that the data decide how much to pool);
* ε, the *shape* of the within-sample variation, shared by the samples of a size group: a
  Gaussian KDE of their pooled standardised residuals.

Log-latency is used because latency is right-skewed and multiplicative noise is what
computers show; it also makes the model independent of the time unit (changing the unit only
shifts μ) and keeps synthetic latencies above zero without truncation. The KDE bandwidth is
Silverman's rule on the *standardised* residuals (unit-free) and every σ_i is floored at the
timer resolution. Draws use the variance-preserving smoothed bootstrap
ε = (e* + h·z)/√(1 + h²) (the pooled residuals have unit variance), so the synthetic
per-sample variance is σ_i², not σ_i²(1 + h²).

``PlainKDEModel`` is the baseline: a per-sample Gaussian KDE of the sample's own latencies
(Silverman bandwidth on its own spread, floored at the timer resolution), sampled with the
same variance-preserving bootstrap and reflected at zero. It borrows nothing.
"""

import dataclasses
import warnings

import numpy as np
from scipy import optimize, special, stats

_SQRT12 = np.sqrt(12.0)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


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


def _prior_df(log_s2, df):
    """Smyth's moment estimate of the prior degrees of freedom of the sample variances."""
    if log_s2.size < 3:
        return np.inf
    excess = np.var(log_s2, ddof=1) - np.mean(special.polygamma(1, df / 2.0))
    if excess <= 0:
        return np.inf  # the variances vary no more than sampling explains: pool completely
    try:
        half = optimize.brentq(lambda a: special.polygamma(1, a) - excess, 1e-6, 1e7)
    except ValueError:
        return np.inf
    return 2.0 * half


def size_groups(sizes, n_samples, max_groups=8, min_per_group=50):
    """Group samples by size quantiles: ids (N,), or all zeros when sizes say nothing."""
    if sizes is None:
        return np.zeros(n_samples, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.float64)
    finite = np.isfinite(sizes)
    if finite.sum() < 2 * min_per_group or np.unique(sizes[finite]).size < 2:
        return np.zeros(n_samples, dtype=np.int64)
    g = int(min(max_groups, finite.sum() // min_per_group))
    edges = np.unique(np.quantile(sizes[finite], np.linspace(0, 1, g + 1)[1:-1]))
    ids = np.searchsorted(edges, np.where(finite, sizes, np.nanmedian(sizes)), side="right")
    _, ids = np.unique(ids, return_inverse=True)
    return ids.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class PooledLatencyModel:
    """A fitted model; ``sample`` draws synthetic passes. Build with :func:`fit_pooled`."""

    mu: np.ndarray            # (N,) log-latency location, NaN where a sample never succeeded
    sigma: np.ndarray         # (N,) shrunk log-scale
    group: np.ndarray         # (N,) size group of each sample
    pool: np.ndarray          # standardised residuals of all groups, concatenated
    pool_start: np.ndarray    # (G,) where each group's residuals start in ``pool``
    pool_size: np.ndarray     # (G,)
    bandwidth: np.ndarray     # (G,) KDE bandwidth of each group's residuals (unit-free)
    prior_df: np.ndarray      # (G,) empirical-Bayes prior df of the scales (inf: full pooling)
    pass_shift: np.ndarray    # (R,) estimated run-level shifts δ_r (log units, centred)
    pass_shift_sd: float      # σ_δ: their spread net of per-sample noise
    fail_prob: np.ndarray     # (N,) fraction of passes the sample failed (error/timeout)
    n_obs: np.ndarray         # (N,) successful observations per sample
    run_level: bool
    shift_kind: str = "bootstrap"  # how synthetic shifts are drawn: "bootstrap" or "normal"
    pool_var: np.ndarray = None    # (G,) variance of each group's residual pool (1 if None)
    robust: bool = False           # location/scale by median polish and MAD
    pass_resid: np.ndarray = None  # (N, R) standardised residuals of every pass (pass shapes)
    pass_shape: bool = False       # draw each synthetic pass's residuals from one real pass
    pass_shape_test: dict = None   # the overdispersion test that decided ``pass_shape``

    @property
    def n_samples(self):
        return self.mu.shape[0]

    @property
    def n_passes(self):
        return self.pass_shift.shape[0]

    def shift_standard_error(self):
        """σ_δ/√R: how well the run-level mean is known (log units ≈ relative latency)."""
        return float(self.pass_shift_sd / np.sqrt(max(self.n_passes, 1)))

    def describe(self):
        return {
            "model": "pooled log-latency location-scale with shared KDE shape",
            "location_scale": ("robust: median polish and 1.4826·MAD (spikes stay in the pooled "
                               "shape instead of inflating every scale)" if self.robust
                               else "moments: means and standard deviations"),
            "space": "log",
            "pooled": ("standardised within-sample residual shape and a shrinkage target for "
                       f"the scale, over {len(self.pool_size)} size group(s)"),
            "size_groups": int(len(self.pool_size)),
            "residuals_per_group": self.pool_size.tolist(),
            "bandwidth_per_group": [round(float(b), 6) for b in self.bandwidth],
            "prior_df_per_group": [None if not np.isfinite(d) else round(float(d), 3)
                                   for d in self.prior_df],
            "run_level_component": self.run_level,
            "run_level_draws": (f"{self.shift_kind}: " + (
                "smoothed bootstrap of the observed pass shifts, rescaled to σ_δ (keeps a "
                "bimodal or skewed run-level law)" if self.shift_kind == "bootstrap"
                else "normal N(0, σ_δ²)")) if self.run_level else None,
            "pass_shape": ("each synthetic pass takes the residuals of one real pass (shuffled "
                           "over samples of a size group), with that pass's shift: the tail's "
                           "mass varies from pass to pass more than chance explains"
                           if self.pass_shape else "off: residuals drawn independently"),
            "pass_shape_test": self.pass_shape_test,
            "pass_shift_sd_log": float(self.pass_shift_sd),
            "pass_shift_mean_se_log": self.shift_standard_error(),
            "negative_latencies": "impossible: draws are exp(log-latency)",
            "samples_never_ok": int(np.sum(~np.isfinite(self.mu))),
        }

    def sample(self, n_passes, rng):
        """Synthetic latencies (N, n_passes); +inf marks a failed sample."""
        rng = _rng(rng)
        n = self.n_samples
        source = rng.integers(0, self.n_passes, n_passes) if self.pass_shape else None
        shift = self._shifts(n_passes, rng, source) if self.run_level else np.zeros(n_passes)
        g = self.group
        u = rng.random((n, n_passes))
        idx = self.pool_start[g][:, None] + (u * self.pool_size[g][:, None]).astype(np.int64)
        base = self.pool[idx]
        if source is not None:
            base = self._pass_residuals(source, base, rng)
        h = self.bandwidth[g][:, None]
        v = (np.ones(len(self.pool_size)) if self.pool_var is None else self.pool_var)[g][:, None]
        eps = (base + h * rng.standard_normal((n, n_passes))) / np.sqrt(1.0 + h * h / v)
        y = self.mu[:, None] + shift[None, :] + self.sigma[:, None] * eps
        lat = np.exp(y)
        failed = rng.random((n, n_passes)) < self.fail_prob[:, None]
        lat[failed | ~np.isfinite(lat)] = np.inf
        return lat

    def _shifts(self, n_passes, rng, source=None):
        """Synthetic run-level shifts δ_r with spread σ_δ (see ``shift_kind``).

        ``source``: the real pass each synthetic pass copies its shape from; its shift then
        comes from the same pass (a slow pass is often slow in both).
        """
        if (self.shift_kind == "normal" and source is None) or self.pass_shift_sd == 0:
            return rng.standard_normal(n_passes) * self.pass_shift_sd
        pool = self.pass_shift - self.pass_shift.mean()
        s = pool.std()
        if s == 0:
            return np.zeros(n_passes)
        h = silverman_bandwidth(pool)
        pick = rng.integers(0, pool.size, n_passes) if source is None else source
        eps = (pool[pick] + h * rng.standard_normal(n_passes)) / np.sqrt(1.0 + h * h / (s * s))
        return eps * (self.pass_shift_sd / s)

    def _pass_residuals(self, source, fallback, rng):
        """(N, c) residuals: synthetic pass j gets real pass source[j]'s, shuffled within
        each size group; a sample that failed in that pass borrows from ``fallback``."""
        out = self.pass_resid[:, source]
        for gi in range(len(self.pool_size)):
            members = np.flatnonzero(self.group == gi)
            if members.size < 2:
                continue
            order = np.argsort(rng.random((members.size, source.size)), axis=0)
            out[members] = np.take_along_axis(out[members], order, axis=0)
        return np.where(np.isfinite(out), out, fallback)


def _two_way(y, obs, iterations=4):
    """μ_i and centred δ_r of y_ir = μ_i + δ_r + noise, with missing cells."""
    n, r = y.shape
    delta = np.zeros(r)
    count_i = obs.sum(axis=1)
    count_r = obs.sum(axis=0)
    mu = np.full(n, np.nan)
    for _ in range(iterations):
        resid = np.where(obs, y - delta[None, :], 0.0)
        mu = np.divide(resid.sum(axis=1), count_i, out=np.full(n, np.nan), where=count_i > 0)
        resid = np.where(obs, y - np.nan_to_num(mu)[:, None], 0.0)
        delta = np.divide(resid.sum(axis=0), count_r, out=np.zeros(r), where=count_r > 0)
        delta -= delta[count_r > 0].mean() if (count_r > 0).any() else 0.0
    return mu, delta


def _two_way_median(y, obs, iterations=6):
    """Tukey's median polish: μ_i and δ_r (median-centred) with missing cells."""
    yy = np.where(obs, y, np.nan)
    delta = np.zeros(y.shape[1])
    mu = np.full(y.shape[0], np.nan)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: samples never ok
            for _ in range(iterations):
                mu = np.nanmedian(yy - delta[None, :], axis=1)
                delta = np.nan_to_num(np.nanmedian(yy - mu[:, None], axis=0))
                delta -= np.median(delta)
    return mu, delta


def fit_pooled(latency, ok, sizes=None, *, run_level=True, resolution=1.0, max_groups=8,
               min_per_group=50, shift_kind=None, robust=False, pass_shape=None):
    """Fit :class:`PooledLatencyModel` to ``latency`` (N, R) where ``ok`` (N, R).

    ``resolution``: the timer's resolution in the unit of ``latency`` (1 for LoadGen's ns).
    ``shift_kind``: how synthetic run-level shifts are drawn; default "bootstrap" (a smoothed
    bootstrap of the observed shifts, rescaled to σ_δ) from 5 passes on, "normal" below.
    ``robust``: locations by median polish and scales by MAD (model "pooled-robust"). Real
    systems have latency spikes; moment estimates let a spike widen a sample's whole
    distribution, while robust ones keep the bulk narrow and leave the spikes to the pooled
    shape's tail. It is not the default: with few passes the MAD is a noisy, biased scale and
    the calibration tests on well-behaved latencies fail with it.
    ``pass_shape``: draw each synthetic pass's residuals from one real pass (see
    :func:`pass_shape_test`); ``None`` (default) decides by that test, with the run-level
    component on and ≥ 5 passes.
    """
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency)
    n, r = latency.shape
    obs = ok & (latency > 0)
    y = np.log(np.where(obs, np.maximum(latency, resolution), 1.0))
    mu, delta = (_two_way_median if robust else _two_way)(y, obs)
    k = obs.sum(axis=1)
    resid = np.where(obs, y - np.nan_to_num(mu)[:, None] - delta[None, :], 0.0)
    df = np.maximum(k - 1, 0).astype(np.float64)
    if robust:  # (1.4826·MAD)², scaled like a df-corrected variance of the residuals
        mad = np.nanmedian(np.where(obs, np.abs(resid), np.nan), axis=1) if r else np.zeros(n)
        s2 = np.where(df > 0, (1.4826 * np.nan_to_num(mad)) ** 2 * np.divide(k, np.maximum(df, 1)),
                      np.nan)
    else:
        s2 = np.divide((resid ** 2).sum(axis=1), df, out=np.full(n, np.nan), where=df > 0)

    groups = size_groups(sizes, n, max_groups, min_per_group)
    n_groups = int(groups.max()) + 1
    sigma = np.empty(n)
    pools, starts, sizes_out, bws, priors, pool_vars = [], [], [], [], [], []
    std_resid = np.full((n, r), np.nan)  # the pool's residuals, in place: pass shapes
    offset = 0
    for gi in range(n_groups):
        members = groups == gi
        has = members & (df > 0) & (s2 > 0)
        if has.any():
            s0 = np.sum(df[has] * s2[has]) / np.sum(df[has])
            d0 = _prior_df(np.log(s2[has]), df[has])
        else:
            s0, d0 = 0.0, np.inf
        if np.isfinite(d0):
            post = (d0 * s0 + np.nan_to_num(df * s2)) / (d0 + df)
        else:
            post = np.full(n, s0)
        sigma[members] = np.sqrt(post[members])
        # standardised residuals: resid has variance σ²(k−1)/k around the sample mean
        scale = sigma * np.sqrt(np.divide(df, np.maximum(k, 1)))
        use = members[:, None] & obs & (df[:, None] > 0) & (scale[:, None] > 0)
        e = resid[use] / np.broadcast_to(scale[:, None], resid.shape)[use]
        if robust and e.size >= 2 and np.median(np.abs(e - np.median(e))) > 0:
            e = e - np.median(e)
            e = e / (1.4826 * np.median(np.abs(e)))  # unit robust scale: the bulk matches σ_i
        elif e.size >= 2 and e.std() > 0:
            e = (e - e.mean()) / e.std()
        else:
            e = None
        if e is None:
            e = np.zeros(1)
        else:
            std_resid[use] = e
        pool_vars.append(float(e.var()) if e.size >= 2 and e.var() > 0 else 1.0)
        pools.append(e)
        starts.append(offset)
        sizes_out.append(e.size)
        bws.append(silverman_bandwidth(e) if e.size >= 2 else 0.0)
        priors.append(d0)
        offset += e.size
    # Draw with the maximum-likelihood spread σ_i·√((k−1)/k), not σ_i: μ_i is itself only
    # known to ±σ_i/√k, and (μ̂_i + σ̃ε) then has the right validity probability on average,
    # E[P(μ̂_i + σ̃ε ≤ θ)] = P(log L_i ≤ θ), because σ²/k + σ̃² = σ². It is the variance-
    # preserving choice of the smoothed bootstrap applied to the whole model (a single
    # observation is then used as it is: an unbiased estimate of its validity).
    sigma = np.nan_to_num(sigma) * np.sqrt(np.divide(df, np.maximum(k, 1)))
    # the timer's resolution bounds how small a scale can be seen: σ_log ≥ res/(L·√12)
    floor = resolution / (np.exp(np.nan_to_num(mu, nan=0.0)) * _SQRT12)
    sigma = np.where(k > 1, np.maximum(sigma, floor), sigma)

    if run_level and r >= 3:
        # pass shifts carry per-sample noise (σ²/N on average for a mean, π/2 times that for
        # a median): remove it; the same argument as for σ_i gives the ML factor (R−1)/R,
        # since the shifts' mean is absorbed in μ_i
        noise = np.nanmean(sigma[k > 0] ** 2 * k[k > 0] / np.maximum(k[k > 0] - 1, 1)) \
            / max(int((k > 0).sum()), 1) * (np.pi / 2 if robust else 1.0)
        shift_sd = float(np.sqrt(max(np.var(delta, ddof=1) - noise, 0.0) * (r - 1) / r))
    else:
        shift_sd = 0.0
    test = pass_shape_test(std_resid) if run_level and r >= 5 else None
    if pass_shape is None:
        pass_shape = bool(test and test["overdispersed"])
    pass_shape = bool(pass_shape and r >= 2)
    fail = 1.0 - k / max(r, 1)
    mu = np.where(k > 0, mu, np.nan)
    fail = np.where(k > 0, fail, 1.0)
    return PooledLatencyModel(
        mu=mu, sigma=sigma, group=groups, pool=np.concatenate(pools),
        pool_start=np.asarray(starts, dtype=np.int64), pool_size=np.asarray(sizes_out, dtype=np.int64),
        bandwidth=np.asarray(bws), prior_df=np.asarray(priors, dtype=np.float64),
        pass_shift=delta, pass_shift_sd=shift_sd, fail_prob=fail, n_obs=k,
        run_level=bool(run_level and r >= 3),
        shift_kind=shift_kind or ("bootstrap" if r >= 5 else "normal"),
        pool_var=np.asarray(pool_vars), robust=bool(robust),
        pass_resid=std_resid if pass_shape else None, pass_shape=pass_shape, pass_shape_test=test)


def pass_shape_test(resid, levels=(0.9, 0.99), alpha=0.001, min_expected=5.0):
    """Does the tail's mass vary between passes more than chance explains?

    ``resid``: (N, R) standardised residuals (NaN where missing). At each level q, the
    residual quantile over all passes splits every pass into the samples above it and the
    rest; a chi-square test of homogeneity across passes (R−1 df) asks whether the passes
    share one tail mass. Independent noise gives binomial counts; stalls that come in bursts
    make some passes far heavier in the tail than others (seen on CPU harnesses with
    ~60 µs inferences), which no per-pass shift of the median captures. Levels whose
    expected count per pass is below ``min_expected`` are skipped (the test would not hold).
    """
    finite = np.isfinite(resid)
    n_r = finite.sum(axis=0)
    out = {"levels": [], "alpha": alpha, "overdispersed": False,
           "test": "chi-square homogeneity of per-pass tail counts"}
    if resid.shape[1] < 2 or not finite.any():
        return out
    values = resid[finite]
    for q in levels:
        cut = np.quantile(values, q)
        c = np.sum(np.where(finite, resid, -np.inf) > cut, axis=0)
        p = c.sum() / n_r.sum()
        expected = n_r * p
        if p <= 0 or p >= 1 or expected.min() < min_expected:
            continue
        x2 = float(np.sum((c - expected) ** 2 / (expected * (1 - p))))
        pv = float(stats.chi2.sf(x2, resid.shape[1] - 1))
        spread = float(np.std(c / np.maximum(n_r, 1), ddof=1))
        binom = float(np.sqrt(p * (1 - p) / np.mean(n_r)))
        out["levels"].append({"quantile": q, "chi2": round(x2, 3), "df": int(resid.shape[1] - 1),
                              "p_value": pv, "tail_mass_sd": round(spread, 6),
                              "binomial_sd": round(binom, 6)})
        out["overdispersed"] = out["overdispersed"] or pv < alpha
    return out


@dataclasses.dataclass(frozen=True)
class PlainKDEModel:
    """Baseline: each sample's own Gaussian KDE in linear time, reflected at zero."""

    obs: np.ndarray        # (N, R) latencies, NaN where missing
    bandwidth: np.ndarray  # (N,)
    mean: np.ndarray       # (N,)
    sd: np.ndarray         # (N,) ML standard deviation (ddof=0): the smoothed bootstrap keeps it
    fail_prob: np.ndarray

    @property
    def n_samples(self):
        return self.obs.shape[0]

    def describe(self):
        return {"model": "per-sample Gaussian KDE (no pooling)", "space": "linear",
                "negative_latencies": "reflected at zero"}

    def shift_standard_error(self):
        return 0.0

    def sample(self, n_passes, rng):
        rng = _rng(rng)
        n, r = self.obs.shape
        counts = np.sum(np.isfinite(self.obs), axis=1)
        order = np.argsort(~np.isfinite(self.obs), axis=1, kind="stable")  # finite first
        pick = (rng.random((n, n_passes)) * np.maximum(counts, 1)[:, None]).astype(np.int64)
        x = np.take_along_axis(self.obs, np.take_along_axis(order, pick, axis=1), axis=1)
        h = self.bandwidth[:, None]
        s = self.sd[:, None]
        ratio = np.divide(h * h, s * s, out=np.zeros_like(h * s), where=s > 0)
        m = self.mean[:, None]
        lat = m + (x - m + h * rng.standard_normal((n, n_passes))) / np.sqrt(1.0 + ratio)
        lat = np.abs(lat)
        failed = (rng.random((n, n_passes)) < self.fail_prob[:, None]) | (counts == 0)[:, None]
        lat[failed | ~np.isfinite(lat)] = np.inf
        return lat


def fit_plain_kde(latency, ok, sizes=None, *, resolution=1.0, **_):
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency)
    obs = np.where(ok, latency, np.nan)
    n, r = obs.shape
    k = ok.sum(axis=1)
    mean = np.nanmean(np.where(k[:, None] > 0, obs, 0.0), axis=1) if r else np.zeros(n)
    sd = np.sqrt(np.nanmean((obs - mean[:, None]) ** 2, axis=1)) if r else np.zeros(n)
    sd = np.nan_to_num(sd)
    q75 = np.nanpercentile(np.where(k[:, None] > 0, obs, 0.0), 75, axis=1)
    q25 = np.nanpercentile(np.where(k[:, None] > 0, obs, 0.0), 25, axis=1)
    sd1 = sd * np.sqrt(np.divide(k, np.maximum(k - 1, 1)))
    spread = np.where(q75 > q25, np.minimum(sd1, (q75 - q25) / 1.34), sd1)
    bw = 0.9 * spread * np.maximum(k, 1) ** -0.2
    bw = np.maximum(bw, resolution / _SQRT12)
    return PlainKDEModel(obs=obs, bandwidth=bw, mean=np.nan_to_num(mean), sd=sd,
                         fail_prob=1.0 - k / max(r, 1))


def fit_pooled_robust(latency, ok, sizes=None, **kwargs):
    return fit_pooled(latency, ok, sizes, robust=True, **kwargs)


MODELS = {"pooled": fit_pooled, "pooled-robust": fit_pooled_robust, "plain-kde": fit_plain_kde}
