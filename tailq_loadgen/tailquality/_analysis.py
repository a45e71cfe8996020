"""The analysis: observed and predicted tail-quality distributions and their convergence."""

import dataclasses
import math

import numpy as np

from ._drift import drift_check
from ._jsd import DEFAULT_BIN_WIDTH, rjsd, rjsd_public_code
from ._mlperf import mlperf_query_count
from ._model import MODELS
from ._observed import no_limit_quality, observed_tq
from ._percentile import LOADGEN_CONVENTION, PACKAGE_CONVENTION
from ._summary import tq_stats
from ._thresholds import resolve_thresholds


@dataclasses.dataclass(frozen=True)
class ConvergenceStep:
    passes: int
    rjsd: tuple            # per threshold (tailq convention), NaN until a window exists
    rjsd_public_code: tuple
    converged: bool

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ThresholdResult:
    label: str
    kind: str
    theta_ns: float
    observed: object            # TQStats over the real passes
    observed_per_pass: tuple
    predicted: object           # TQStats over the synthetic passes
    predicted_values: np.ndarray = dataclasses.field(repr=False, compare=False)

    def as_dict(self):
        return {"label": self.label, "kind": self.kind, "theta_ns": self.theta_ns,
                "observed": self.observed.as_dict(), "observed_per_pass": list(self.observed_per_pass),
                "predicted": self.predicted.as_dict()}


@dataclasses.dataclass(frozen=True)
class Analysis:
    thresholds: tuple
    tq_inf: float
    tq_inf_per_pass: tuple
    all_failed: float
    n_samples: int
    n_passes: int
    mc: int
    seed: int
    model: dict
    shift_se_log: float
    convergence: tuple
    converged: bool
    tau: float
    window: int
    bin_width: float
    full_run_passes: int
    drift: object
    warnings: tuple
    conventions: dict

    def as_dict(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["thresholds"] = [t.as_dict() for t in self.thresholds]
        d["convergence"] = [c.as_dict() for c in self.convergence]
        d["drift"] = self.drift.as_dict()
        d["tq_inf_per_pass"] = list(self.tq_inf_per_pass)
        d["warnings"] = list(self.warnings)
        return d


def predict_tq(model, metric, thetas, mc, rng, chunk=256):
    """Tail quality of ``mc`` synthetic passes at each θ: (T, mc)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    thetas = np.asarray(thetas, dtype=np.float64)
    out = np.empty((thetas.size, mc))
    n = model.n_samples
    for start in range(0, mc, chunk):
        c = min(chunk, mc - start)
        lat = model.sample(c, rng)                                   # (N, c)
        valid = lat[None, :, :] <= thetas[:, None, None]             # (T, N, c)
        out[:, start:start + c] = metric.evaluate(
            valid.transpose(1, 0, 2).reshape(n, thetas.size * c)).reshape(thetas.size, c)
    return out


def _validate(latency, ok, sizes, mc, window, tau, bin_width):
    latency = np.asarray(latency, dtype=np.float64)
    if latency.ndim != 2:
        raise ValueError("latency must be a (samples, passes) matrix")
    ok = np.asarray(ok, dtype=bool)
    if ok.shape != latency.shape:
        raise ValueError("ok must have the shape of latency")
    if latency.shape[1] < 2:
        raise ValueError(f"tail-quality prediction needs at least 2 passes, got {latency.shape[1]}")
    if np.any(ok & ~np.isfinite(latency)):
        raise ValueError("latency has non-finite values on samples marked ok")
    if np.any(ok & (latency < 0)):
        raise ValueError("latency has negative values")
    if sizes is not None and len(sizes) != latency.shape[0]:
        raise ValueError("sizes must have one entry per sample")
    if not (isinstance(mc, int) and mc >= 10):
        raise ValueError(f"mc must be an integer ≥ 10, got {mc!r}")
    if not (isinstance(window, int) and window >= 1):
        raise ValueError(f"window must be an integer ≥ 1, got {window!r}")
    if not 0 < tau <= 1:
        raise ValueError(f"tau must lie in (0, 1], got {tau!r}")
    if not 0 < bin_width <= 1:
        raise ValueError(f"bin_width must lie in (0, 1], got {bin_width!r}")
    return latency, ok


def analyze(latency, ok, metric, thresholds, *, sizes=None, synthetic_metric=None, mc=2000,
            seed=0, model="pooled", run_level=True, resolution=1.0, window=5, tau=0.05,
            bin_width=DEFAULT_BIN_WIDTH, percentile_rule="linear", trace_from=2, trace_step=1,
            full_run_passes=None, progress=None):
    """Observed and predicted tail quality of a run.

    ``latency``/``ok``: (N, R) per sample and pass (ns); ``metric``: one metric or one per
    pass (observed); ``synthetic_metric``: the metric for synthetic passes (default:
    ``metric``, or the first pass's when per-pass); ``thresholds``: parsed Threshold objects.
    The convergence trace refits on the first k passes for k = trace_from, … R.
    """
    latency, ok = _validate(latency, ok, sizes, mc, window, tau, bin_width)
    n, r = latency.shape
    fit = MODELS.get(model)
    if fit is None:
        raise ValueError(f"model {model!r}: choose one of {', '.join(MODELS)}")
    synth = synthetic_metric or (metric[0] if isinstance(metric, (list, tuple)) else metric)
    ok_lat = ok & np.isfinite(latency)
    thetas = resolve_thresholds(thresholds, latency[ok_lat], percentile_rule)
    if full_run_passes is None:
        full_run_passes = max(1, math.ceil(mlperf_query_count(0.99) / max(n, 1)))
    seq = np.random.SeedSequence(seed)
    final_seed, trace_seed = seq.spawn(2)

    observed = observed_tq(latency, ok, metric, thetas)
    tq_inf = no_limit_quality(ok, metric)

    steps, history = [], []
    ks = list(range(max(2, trace_from), r, max(1, trace_step))) + [r]
    step_seeds = trace_seed.spawn(len(ks))
    final_pred = None
    for k, sub_seed in zip(ks, step_seeds):
        m = fit(latency[:, :k], ok[:, :k], sizes, run_level=run_level, resolution=resolution) \
            if model == "pooled" else fit(latency[:, :k], ok[:, :k], sizes, resolution=resolution)
        rng = np.random.default_rng(final_seed if k == r else sub_seed)
        pred = predict_tq(m, synth, thetas, mc, rng)
        window_prev = history[-window:]
        rj = tuple(rjsd(pred[t], [h[t] for h in window_prev], bin_width) for t in range(thetas.size))
        rj_pub = tuple(rjsd_public_code(pred[t], [h[t] for h in window_prev], bin_width)
                       for t in range(thetas.size))
        converged = len(window_prev) >= window and all(v <= tau for v in rj)
        steps.append(ConvergenceStep(k, rj, rj_pub, converged))
        history.append(pred)
        if k == r:
            final_pred, final_model = pred, m
        if progress is not None:
            progress(k, r)

    results = []
    for t, thr in enumerate(thresholds):
        results.append(ThresholdResult(
            label=thr.label, kind=thr.kind, theta_ns=float(thetas[t]),
            observed=tq_stats(observed[t]), observed_per_pass=tuple(float(v) for v in observed[t]),
            predicted=tq_stats(final_pred[t], worst_of=full_run_passes),
            predicted_values=final_pred[t]))

    drift = drift_check(latency, ok)
    warnings = []
    if drift.drifting:
        warnings.append(drift.message)
    if r < 3 and run_level:
        warnings.append("fewer than 3 passes: the run-level component cannot be estimated and is off")
    never = int(np.sum(final_model.fail_prob >= 1.0))
    if never:
        warnings.append(f"{never} samples never completed successfully; they count as failed "
                        "in every synthetic pass")
    return Analysis(
        thresholds=tuple(results), tq_inf=float(np.mean(tq_inf)),
        tq_inf_per_pass=tuple(float(v) for v in tq_inf), all_failed=float(synth.all_failed()),
        n_samples=n, n_passes=r, mc=mc, seed=seed, model=final_model.describe(),
        shift_se_log=final_model.shift_standard_error(), convergence=tuple(steps),
        converged=steps[-1].converged, tau=tau, window=window, bin_width=bin_width,
        full_run_passes=full_run_passes, drift=drift, warnings=tuple(warnings),
        conventions={"percentile": PACKAGE_CONVENTION, "threshold_rule": percentile_rule,
                     "loadgen_percentile": LOADGEN_CONVENTION,
                     "jsd": "Jensen-Shannon divergence, base 2, fixed-width bins",
                     "rjsd": "sqrt(mean over window of JSD2(new, previous))",
                     "rjsd_public_code": "sqrt(mean over window of JS distance, natural log)",
                     "latency_unit": "ns"})
