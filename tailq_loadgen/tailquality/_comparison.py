"""Calibrated checks of a predicted tail-quality distribution against observed passes (§6).

* **JSD and its noise floor.** The floor is the JSD between the prediction and R *fresh*
  passes drawn from the fitted model (their own streams, independent of the M draws that make
  the prediction), R = the number of observed passes: its median and p95 over ``floor_draws``
  sets, each set moved by a common offset of the size of the estimate's own standard error
  (``fresh_floor``). A perfect prediction is within the p95 in 95% of runs (measured by
  simulation, ``benchmarks/tq_calibration.py``).
* **The worst case** against a prediction interval for the minimum of R passes, at a stated
  level, from the order statistics of M_cmp ≥ 40·R fresh iid synthetic passes: if X_(1) ≤ …
  are the sorted synthetic values, P(min of R new passes > X_(j)) = Π_{i<j} (M−i)/(M+R−i)
  exactly (the j smallest of the M + R values all synthetic), whatever the law. The interval
  [X_(lo), X_(hi)] takes the largest lo and smallest hi whose tails are each ≤ (1 − level)/2.
  Ties (TQ is a multiple of 1/N) count as inside, which only raises the coverage.
* **The mean** in units of the combined standard error: the estimate's own (``_uncertainty``),
  the observed passes' SD/√R, and the Monte Carlo error of the predicted mean; the bound is
  Student's t at the Welch–Satterthwaite degrees of freedom.
* **Split-half agreement** of the observed passes (even against odd), beside the floor of the
  same split of fresh passes: a reference that does not agree with itself cannot be matched.
"""

import math

import numpy as np
from scipy import special, stats

from ._jsd import DEFAULT_BIN_WIDTH, jsd
from ._predict import predict
from ._streams import COMPARE, FLOOR, OFFSET, Streams

FLOOR_DRAWS = 200
WORST_FACTOR = 40
LEVEL = 0.95
MEAN_Z = float(special.ndtri(0.975))  # 1.96: the mean check's two-sided 95% bound


def fresh_floor(model, metric, thetas, predicted, r, seed, *, draws=FLOOR_DRAWS,
                bin_width=DEFAULT_BIN_WIDTH, split=False, offset_sd=None):
    """Noise floor of JSD(predicted, R observed passes) from ``draws`` sets of R fresh passes.

    ``offset_sd`` (T,): the estimate's standard error of its mean TQ. Each set of fresh
    passes is then moved by one common offset drawn from N(0, se²) (rounded to TQ's step
    1/N for sum metrics of 0/1 scores): a full run comes from the true law, which differs
    from the estimate's by about that much, the same for all its passes — the floor of a
    prediction as uncertain as this one. Without it, a correct reduced estimate would fail
    the check far more often than 5% against a long reference.

    Returns per threshold {"median", "p95"} and, with ``split``, the same for the JSD between
    the even and odd passes of each fresh set ("split_median", "split_p95")."""
    fresh = predict(model, metric, thetas, draws * r, seed, family=FLOOR, conditional=False).values
    z = special.ndtri(Streams(seed, FLOOR).passes(OFFSET, np.arange(draws), 1)[:, 0])
    scores = getattr(metric, "scores", None)
    step = (1.0 / scores.size if scores is not None and np.all((scores == 0) | (scores == 1))
            else None)
    out = []
    for t in range(len(thetas)):
        sets = fresh[t].reshape(draws, r)
        shifted = sets
        if offset_sd is not None and offset_sd[t] > 0:
            o = z * offset_sd[t]
            if step:
                o = np.round(o / step) * step
            shifted = sets + o[:, None]
        vals = np.array([jsd(predicted[t], x, bin_width) for x in shifted])
        row = {"median": float(np.median(vals)), "p95": float(np.percentile(vals, 95))}
        if split and r >= 4:
            halves = np.array([jsd(x[0::2], x[1::2], bin_width) for x in sets])
            row.update(split_median=float(np.median(halves)), split_p95=float(np.percentile(halves, 95)))
        out.append(row)
    return out


def min_interval_ranks(m, r, level=LEVEL):
    """1-based ranks (lo, hi) among M sorted synthetic values bounding the minimum of R new
    passes at ``level`` (two-sided), and the exact tail probabilities (below, above)."""
    tail = (1 - level) / 2
    j = np.arange(m)
    # P(min_R > X_(j+1)) for j = 0 … m−1: the j+1 smallest of all M+R values are synthetic
    above = np.exp(np.cumsum(np.log((m - j) / (m + r - j))))
    below = 1 - above                     # P(min_R < X_(j+1))
    lo = int(np.searchsorted(below, tail, side="right"))      # ranks with below ≤ tail: 1 … lo
    hi = int(np.searchsorted(-above, -tail, side="left")) + 1  # first rank with above ≤ tail
    lo = max(lo, 1)
    hi = min(max(hi, lo), m)
    return lo, hi, float(below[lo - 1]) if lo >= 1 else 0.0, float(above[hi - 1])


def worst_case_interval(model, metric, thetas, r, seed, *, m=None, level=LEVEL):
    """Per threshold: the interval for the minimum of R passes, from M_cmp iid synthetic
    passes of the COMPARE family (M_cmp ≥ 40·R)."""
    m = max(int(m or 0), WORST_FACTOR * r)
    values = predict(model, metric, thetas, m, seed, family=COMPARE, conditional=False).values
    lo, hi, p_below, p_above = min_interval_ranks(m, r, level)
    srt = np.sort(values, axis=1)
    return [{"low": float(srt[t, lo - 1]), "high": float(srt[t, hi - 1]), "ranks": [lo, hi],
             "draws": m, "level": 1 - p_below - p_above, "nominal_level": level,
             "tail_below": p_below, "tail_above": p_above} for t in range(len(thetas))]


def mean_check(observed, predicted, est_se, est_df=math.inf, level=LEVEL):
    """Δmean = observed − predicted in units of the combined SE, and whether it lies within
    the two-sided ``level`` bound of Student's t with Welch–Satterthwaite degrees of freedom
    (both standard errors are estimated: the estimate's from ``est_df`` jackknife degrees of
    freedom, the observed passes' from R − 1; with 10 jackknife groups a normal bound would
    pass a perfect prediction only ~92% of the time)."""
    observed = np.asarray(observed, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    r, m = observed.size, predicted.size
    sd_obs = observed.std(ddof=1) if r > 1 else 0.0
    mc = predicted.std(ddof=1) / math.sqrt(m) if m > 1 else 0.0
    v_est, v_obs = est_se ** 2, sd_obs ** 2 / max(r, 1)
    se = math.sqrt(v_est + v_obs + mc ** 2)
    parts = v_est ** 2 / est_df + (v_obs ** 2 / (r - 1) if r > 1 else 0.0)
    df = (se ** 4 / parts) if parts > 0 else math.inf
    bound = float(stats.t.ppf(0.5 + level / 2, df)) if math.isfinite(df) else float(
        special.ndtri(0.5 + level / 2))
    diff = float(observed.mean() - predicted.mean())
    z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    return {"mean_diff": diff, "mean_se_combined": se, "mean_z": z, "mean_bound": bound,
            "mean_df": df if math.isfinite(df) else None,
            "mean_within": bool(abs(z) <= bound),
            "mean_se_parts": {"estimate": float(est_se), "observed": math.sqrt(v_obs),
                              "monte_carlo": mc}}


def jsd_check(predicted, observed, floor, tau, bin_width=DEFAULT_BIN_WIDTH):
    d = jsd(predicted, observed, bin_width)
    match = "within τ" if d <= tau else ("within noise floor" if d <= floor["p95"] else "no")
    return {"jsd": d, "noise_floor_median": floor["median"], "noise_floor_p95": floor["p95"],
            "match": match}


def split_half(observed, floor, tau, bin_width=DEFAULT_BIN_WIDTH):
    """The observed passes' own agreement: JSD(even, odd) against the fresh split's p95."""
    if observed.size < 4 or "split_p95" not in floor:
        return {"split_jsd": None, "split_floor_p95": None, "reproduces": None}
    d = jsd(observed[0::2], observed[1::2], bin_width)
    return {"split_jsd": d, "split_floor_median": floor["split_median"],
            "split_floor_p95": floor["split_p95"],
            "reproduces": bool(d <= max(tau, floor["split_p95"]))}


def compare_prediction(model, metric, thetas, observed, seed, *, predicted=None, mc=2000,
                       est_se=None, est_df=math.inf, tau=0.05, bin_width=DEFAULT_BIN_WIDTH, level=LEVEL,
                       floor_draws=FLOOR_DRAWS):
    """Every check of a prediction against R observed passes ``observed`` (T, R), per θ.

    ``predicted``: the prediction's own draws (T, M) — by default ``mc`` passes of the
    PREDICT family, as the estimate drew them; ``est_se``: (T,) the estimate's standard error
    of its mean (0 when the model is the truth)."""
    observed = np.asarray(observed, dtype=np.float64)
    t_count, r = observed.shape
    if predicted is None:
        predicted = predict(model, metric, thetas, mc, seed, conditional=False).values
    est_se = np.zeros(t_count) if est_se is None else np.asarray(est_se, dtype=np.float64)
    floors = fresh_floor(model, metric, thetas, predicted, r, seed, draws=floor_draws,
                         bin_width=bin_width, split=True, offset_sd=est_se)
    worst = worst_case_interval(model, metric, thetas, r, seed, m=predicted.shape[1], level=level)
    rows = []
    for t in range(t_count):
        row = jsd_check(predicted[t], observed[t], floors[t], tau, bin_width)
        row.update(mean_check(observed[t], predicted[t], float(est_se[t]), est_df, level))
        w = worst[t]
        row.update({"worst_interval": [w["low"], w["high"]], "worst_level": w["level"],
                    "worst_draws": w["draws"],
                    "worst_inside": bool(w["low"] <= observed[t].min() <= w["high"])})
        row.update(split_half(observed[t], floors[t], tau, bin_width))
        rows.append(row)
    return rows
