"""How well the predicted mean tail quality is known: a grouped jackknife over passes.

The prediction's mean moves with everything the passes seen so far decide: the run-level
mean (every sample's location carries the observed passes' mean shift, known to ±σ_δ/√k),
the stall rate's mean, and each sample's own location. Refitting without each of g
interleaved groups of passes and predicting again (common random numbers, the conditional
means of 256 synthetic passes for sum metrics) gives all of it at once:

    SE² = (g − 1)/g · Σ_j (m_(−j) − m̄)²

Deterministic: no resampling. Below 4 passes a leave-out fit would lose its run-level
component, so the standard error then comes from moving every location by ±σ_δ/√k alone.
"""

import numpy as np

from ._predict import predict

JACKKNIFE_GROUPS = 10
JACKKNIFE_PASSES = 256


def _predicted_mean(model, metric, thetas, seed, passes):
    p = predict(model, metric, thetas, passes, seed, draws=not hasattr(metric, "scores"))
    return (p.cond_mean if p.cond_mean is not None else p.values).mean(axis=1)


def standard_error_df(k, groups=JACKKNIFE_GROUPS):
    """Degrees of freedom of ``mean_standard_error`` at k passes: g − 1 for the grouped
    jackknife, k − 1 for the small-k fallback (the shift's SE)."""
    return (min(k, groups) - 1) if k >= 4 else max(k - 1, 1)


def mean_standard_error(fit, latency, ok, metric, thetas, seed, *, groups=JACKKNIFE_GROUPS,
                        passes=JACKKNIFE_PASSES, model=None):
    """(T,) standard error of the predicted mean TQ. ``fit(latency, ok)`` refits the model;
    ``model`` is the fit on every pass (for the small-k fallback)."""
    k = latency.shape[1]
    thetas = np.asarray(thetas, dtype=np.float64)
    if k >= 4:
        g = min(k, groups)
        means = []
        for j in range(g):
            keep = np.arange(k) % g != j
            means.append(_predicted_mean(fit(latency[:, keep], ok[:, keep]), metric, thetas,
                                         seed, passes))
        means = np.array(means)
        return np.sqrt((g - 1) / g * np.sum((means - means.mean(axis=0)) ** 2, axis=0))
    model = model if model is not None else fit(latency, ok)
    se = model.shift_standard_error()
    if se == 0 or not hasattr(model, "mu"):
        return np.zeros(thetas.size)
    import dataclasses

    out = [_predicted_mean(dataclasses.replace(model, mu=model.mu + s * se), metric, thetas,
                           seed, passes) for s in (1.0, -1.0)]
    return np.abs(out[0] - out[1]) / 2
