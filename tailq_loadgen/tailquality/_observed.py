"""Observed tail quality: TQ_r(θ) for every pass r and threshold θ at once."""

import numpy as np


def validity(latency, ok, thetas):
    """Boolean (T, N, R): sample valid at θ_t in pass r (ok and latency ≤ θ)."""
    lat = np.where(ok, latency, np.inf)
    return lat[None, :, :] <= np.asarray(thetas, dtype=np.float64)[:, None, None]


def observed_tq(latency, ok, metric, thetas):
    """Tail quality per threshold and pass: array (T, R).

    ``latency`` (N, R) in any unit (NaN where missing), ``ok`` (N, R) True where the sample
    completed without error, ``metric`` one metric (same predictions every pass) or a list of
    R metrics (one per pass), ``thetas`` (T,) in the unit of ``latency``.
    """
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency)
    thetas = np.asarray(thetas, dtype=np.float64)
    n, r = latency.shape
    valid = validity(latency, ok, thetas)                     # (T, N, R)
    if isinstance(metric, (list, tuple)):
        if len(metric) != r:
            raise ValueError(f"{len(metric)} metrics for {r} passes")
        out = np.empty((thetas.size, r))
        for j, m in enumerate(metric):
            out[:, j] = m.evaluate(valid[:, :, j].T)
        return out
    flat = valid.transpose(1, 0, 2).reshape(n, thetas.size * r)  # one column per (θ, pass)
    return metric.evaluate(flat).reshape(thetas.size, r)


def no_limit_quality(ok, metric):
    """TQ(∞) per pass: only failures (errors, timeouts) count against quality."""
    ok = np.asarray(ok, dtype=bool)
    if isinstance(metric, (list, tuple)):
        return np.array([m.evaluate(ok[:, j:j + 1])[0] for j, m in enumerate(metric)])
    return metric.evaluate(ok)
