"""Self-checks that every analysis runs on its own passes (spec §7).

* **In-sample**: the fitted model (plug-in run-level laws: the model as fitted, without the
  predictive widening) against the passes it was fitted on, per θ: the share of completed
  samples later than θ, and the mean and SD of tail quality, as z-scores. Standard errors
  are per-pass (the passes are the independent units; samples of one pass share its shift
  and stalls, so a binomial SE over all samples would be far too small).
* **Interleaved hold-out**: fit on the even passes, predict the odd ones (both halves span
  the same time, so drift does not confound the check): JSD against its noise floor (fresh
  sets of as many passes from the even-pass model, ``_comparison``) and Δmean against the
  combined standard error.

Each check has a verdict line and, where it fails, warnings that name θ.
"""

import math

import numpy as np

from ._comparison import FLOOR_DRAWS, fresh_floor, fresh_sets, jsd_check, mean_check
from ._observed import observed_tq
from ._predict import predict
from ._uncertainty import mean_standard_error, standard_error_df

Z_LIMIT = 2.0
CHECK_PASSES = 1000
HOLDOUT_MIN_PASSES = 6


class _Ones:
    """The share of completed samples that are on time is the 'metric' of all-ones scores."""

    def __init__(self, n):
        self.scores = np.ones(n)


Z_NO_SPREAD = 1e6   # the z of a difference where neither side varies at all (JSON has no inf)


def _z(diff, se):
    if se > 0:
        return float(diff / se)
    return 0.0 if abs(diff) < 1e-12 else math.copysign(Z_NO_SPREAD, diff)


def _law_moments(pred, t):
    """Mean, SD and kurtosis of the predicted TQ law at threshold t."""
    if pred.cond_mean is not None:
        m, v = pred.cond_mean[t], pred.cond_var[t]
        mean = float(m.mean())
        var = float(v.mean() + m.var())
        # fourth central moment of the mixture of normals
        c = m - mean
        m4 = float(np.mean(c ** 4 + 6 * c * c * v + 3 * v * v))
    else:
        x = pred.values[t]
        mean, var = float(x.mean()), float(x.var())
        m4 = float(np.mean((x - mean) ** 4))
    kurt = m4 / var ** 2 if var > 0 else 3.0
    return mean, math.sqrt(max(var, 0.0)), max(kurt, 1.0)


def in_sample(model, latency, ok, metric, observed_metric, thetas, labels, seed,
              passes=CHECK_PASSES):
    """The fitted model against its own passes (see the module docstring)."""
    plug = model.plug_in()
    k = latency.shape[1]
    pred = predict(plug, metric, thetas, passes, seed, draws=not hasattr(metric, "scores"))
    share_pred = predict(plug, _Ones(model.n_samples), thetas, passes, seed, draws=False).late_share
    obs = observed_tq(latency, ok, observed_metric, thetas)
    okc = ok & np.isfinite(latency)
    rows = []
    for t, label in enumerate(labels):
        late = np.sum(okc & (latency > thetas[t]), axis=0) / np.maximum(okc.sum(axis=0), 1)
        s_se = late.std(ddof=1) / math.sqrt(k) if k > 1 else 0.0
        s_pred = float(share_pred[t].mean())
        s_mc = float(share_pred[t].std(ddof=1) / math.sqrt(passes))
        mean, sd, kurt = _law_moments(pred, t)
        o_mean, o_sd = float(obs[t].mean()), float(obs[t].std(ddof=1)) if k > 1 else 0.0
        mean_se = math.sqrt(o_sd ** 2 / k + sd ** 2 / passes)
        # SE of log(sample SD) from k passes of a law with this kurtosis, plus the MC part
        log_se = (math.sqrt(max(kurt - (k - 3) / (k - 1), 0.1) / (4 * k) + (kurt - 1) / (4 * passes))
                  if k > 1 else math.inf)
        if sd > 0 and o_sd > 0 and math.isfinite(log_se):
            z_sd = math.log(o_sd / sd) / log_se
        else:
            z_sd = 0.0 if sd == o_sd or k < 2 else math.copysign(Z_NO_SPREAD, o_sd - sd)
        row = {"label": label, "theta_ns": float(thetas[t]),
               "late_share_observed": float(late.mean()), "late_share_predicted": s_pred,
               "late_share_se": math.sqrt(s_se ** 2 + s_mc ** 2),
               "z_late_share": _z(late.mean() - s_pred, math.sqrt(s_se ** 2 + s_mc ** 2)),
               "tq_mean_observed": o_mean, "tq_mean_predicted": mean, "tq_mean_se": mean_se,
               "z_tq_mean": _z(o_mean - mean, mean_se),
               "tq_sd_observed": o_sd, "tq_sd_predicted": sd, "z_tq_sd": float(z_sd)}
        bad = [name for name, key in (("share later than θ", "z_late_share"),
                                      ("mean TQ", "z_tq_mean"), ("SD of TQ", "z_tq_sd"))
               if abs(row[key]) > Z_LIMIT]
        row["ok"] = not bad
        row["misfit"] = bad
        rows.append(row)
    return _verdict("in-sample", rows, lambda r: (
        f"{r['label']}: the model does not reproduce the passes it was fitted on — "
        + "; ".join(_in_sample_reason(r, b) for b in r["misfit"])))


def _in_sample_reason(r, what):
    if what == "share later than θ":
        return (f"{r['late_share_observed'] * 100:.2f}% of latencies above θ observed, "
                f"{r['late_share_predicted'] * 100:.2f}% predicted (z = {r['z_late_share']:+.1f})")
    if what == "mean TQ":
        return (f"mean TQ {r['tq_mean_observed']:.4f} observed, {r['tq_mean_predicted']:.4f} "
                f"predicted (z = {r['z_tq_mean']:+.1f})")
    return (f"SD of TQ {r['tq_sd_observed']:.4f} observed, {r['tq_sd_predicted']:.4f} predicted "
            f"(z = {r['z_tq_sd']:+.1f})")


def holdout(fit, latency, ok, metric, observed_metric, thetas, labels, seed, *, mc=2000,
            tau=0.05, bin_width=0.001, floor_draws=FLOOR_DRAWS):
    """Fit on the even passes, predict the odd ones (see the module docstring)."""
    k = latency.shape[1]
    if k < HOLDOUT_MIN_PASSES:
        return {"check": "hold-out", "ran": False, "ok": None, "rows": [],
                "verdict": f"hold-out: not run — it needs {HOLDOUT_MIN_PASSES} passes "
                           f"(3 to fit, 3 to predict), the run has {k}",
                "warnings": []}
    even, odd = np.arange(0, k, 2), np.arange(1, k, 2)
    model = fit(latency[:, even], ok[:, even])
    pred = predict(model, metric, thetas, mc, seed, conditional=False).values
    om = observed_metric
    if isinstance(om, (list, tuple)):
        om = [om[j] for j in odd]
    obs = observed_tq(latency[:, odd], ok[:, odd], om, thetas)
    se = mean_standard_error(fit, latency[:, even], ok[:, even], metric, thetas, seed, model=model)
    floors = fresh_floor(fresh_sets(model, metric, thetas, odd.size, seed, floor_draws), pred,
                         bin_width)
    rows = []
    for t, label in enumerate(labels):
        row = {"label": label, "theta_ns": float(thetas[t]), "fit_passes": int(even.size),
               "predicted_passes": int(odd.size)}
        row.update(jsd_check(pred[t], obs[t], floors[t], tau, bin_width))
        row.update(mean_check(obs[t], pred[t], float(se[t]), standard_error_df(even.size)))
        row["ok"] = row["match"] != "no" and row["mean_within"]
        rows.append(row)
    out = _verdict("hold-out", rows, lambda r: f"{r['label']}: hold-out fails — " + "; ".join(
        ([f"JSD {r['jsd']:.3f} to the odd passes is above its noise floor "
          f"(p95 {r['noise_floor_p95']:.3f}) and τ"] if r["match"] == "no" else [])
        + ([f"odd passes' mean TQ differs from the even-pass prediction by "
            f"{r['mean_z']:+.1f} SE (bound ±{r['mean_bound']:.2f})"] if not r["mean_within"] else [])))
    out["ran"] = True
    return out


def _verdict(name, rows, reason):
    bad = [r for r in rows if not r["ok"]]
    warnings = [reason(r) for r in bad]
    if not rows:
        verdict = f"{name}: nothing to check"
    elif bad:
        verdict = f"{name}: FAILS at " + ", ".join(r["label"] for r in bad)
    else:
        verdict = f"{name}: passes at every threshold (" + ", ".join(r["label"] for r in rows) + ")"
    return {"check": name, "ok": not bad, "verdict": verdict, "rows": rows, "warnings": warnings}
