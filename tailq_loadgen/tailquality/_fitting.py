"""Estimation helpers shared by the latency models: size groups, two-way fits, scale shrinkage."""

import warnings

import numpy as np
from scipy import optimize, special

SQRT12 = np.sqrt(12.0)


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


def prior_df(log_s2, df):
    """Smyth's (2004) moment estimate of the prior degrees of freedom of sample variances."""
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


def shrink_variances(s2, df, groups):
    """Empirical-Bayes posterior variances: each sample's ``s2`` (with ``df``) shrunk towards
    its size group's pooled variance, the prior's weight from Smyth's estimate. Returns
    (posterior (N,), per-group prior df, per-group pooled variance)."""
    n_groups = int(groups.max()) + 1 if groups.size else 1
    post = np.zeros(s2.shape)
    priors, pooled = [], []
    for gi in range(n_groups):
        members = groups == gi
        has = members & (df > 0) & np.isfinite(s2) & (s2 > 0)
        if has.any():
            s0 = float(np.sum(df[has] * s2[has]) / np.sum(df[has]))
            d0 = prior_df(np.log(s2[has]), df[has])
        else:
            s0, d0 = 0.0, np.inf
        if np.isfinite(d0):
            own = np.where(df > 0, np.nan_to_num(s2), 0.0)
            post[members] = ((d0 * s0 + df * own) / (d0 + df))[members]
        else:
            post[members] = s0
        priors.append(d0)
        pooled.append(s0)
    return post, np.asarray(priors, dtype=np.float64), np.asarray(pooled)


def two_way_mean(y, obs, iterations=4):
    """μ_i and mean-centred δ_r of y_ir = μ_i + δ_r + noise, over the cells ``obs``."""
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


def median_polish(y, obs, iterations=6):
    """Tukey's median polish: μ_i and median-centred δ_r over the cells ``obs``."""
    yy = np.where(obs, y, np.nan)
    delta = np.zeros(y.shape[1])
    mu = np.full(y.shape[0], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: samples never ok
        for _ in range(iterations):
            mu = np.nanmedian(yy - delta[None, :], axis=1)
            delta = np.nan_to_num(np.nanmedian(yy - mu[:, None], axis=0))
            delta -= np.median(delta)
    return mu, delta


def row_mad(resid, obs):
    """1.4826·median |residual| per row over ``obs`` (NaN where a row has none)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return 1.4826 * np.nanmedian(np.where(obs, np.abs(resid), np.nan), axis=1)


def log_latency(latency, ok, resolution):
    """(y, obs): log-latency floored at the timer's resolution, and the usable cells."""
    latency = np.asarray(latency, dtype=np.float64)
    obs = np.asarray(ok, dtype=bool) & np.isfinite(latency) & (latency > 0)
    y = np.log(np.where(obs, np.maximum(latency, resolution), 1.0))
    return y, obs


def resolution_floor(mu, resolution):
    """The smallest log-scale the timer can show at level exp(μ): res/(L·√12)."""
    return resolution / (np.exp(np.nan_to_num(mu, nan=0.0)) * SQRT12)
