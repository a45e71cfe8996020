"""The analysis: observed and predicted tail-quality distributions and their convergence."""

import dataclasses
import math

import numpy as np

from ._drift import drift_check
from ._jsd import DEFAULT_BIN_WIDTH, common_bins, histogram, rjsd, rjsd_public_code
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
    predicted_mean_se: float    # the prediction's own standard error of mean TQ (run level)
    predicted_values: np.ndarray = dataclasses.field(repr=False, compare=False)

    def as_dict(self, bin_width=DEFAULT_BIN_WIDTH):
        return {"label": self.label, "kind": self.kind, "theta_ns": self.theta_ns,
                "observed": self.observed.as_dict(), "observed_per_pass": list(self.observed_per_pass),
                "predicted": self.predicted.as_dict(), "predicted_mean_se": self.predicted_mean_se,
                "predicted_histogram": histogram_dict(self.predicted_values, bin_width)}


def histogram_dict(values, bin_width=DEFAULT_BIN_WIDTH):
    """A compact, exact record of a distribution on the fixed grid: first bin and counts."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = common_bins(values, bin_width=bin_width)
    counts = np.rint(histogram(values, lo, hi, bin_width) * values.size).astype(int)
    return {"bin_width": bin_width, "first_bin": lo, "counts": counts.tolist(), "n": int(values.size)}


def mean_standard_error(model, metric, thetas, mc, rng):
    """Standard error of the predicted mean TQ from the run-level mean's uncertainty.

    Every sample's location carries the observed passes' mean shift, known to ±σ_δ/√R
    (spec §4.4). Predicting with all locations moved by ±1 SE and halving the difference of
    the means gives that uncertainty in quality units (common random numbers on both sides).
    """
    se = model.shift_standard_error()
    if se == 0 or not hasattr(model, "mu"):
        return np.zeros(len(thetas))
    state = np.random.default_rng(rng).bit_generator.state
    means = []
    for sign in (1.0, -1.0):
        g = np.random.default_rng()
        g.bit_generator.state = state
        moved = dataclasses.replace(model, mu=model.mu + sign * se)
        means.append(predict_tq(moved, metric, thetas, mc, g).mean(axis=1))
    return np.abs(means[0] - means[1]) / 2


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
        d["thresholds"] = [t.as_dict(self.bin_width) for t in self.thresholds]
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
    check_options(mc, window, tau, bin_width)
    return latency, ok


def check_options(mc, window, tau, bin_width):
    """Validate the estimator's options (one place, naming the bad one)."""
    if not (isinstance(mc, int) and mc >= 10):
        raise ValueError(f"mc must be an integer ≥ 10, got {mc!r}")
    if not (isinstance(window, int) and window >= 1):
        raise ValueError(f"window must be an integer ≥ 1, got {window!r}")
    if not 0 < tau <= 1:
        raise ValueError(f"tau must lie in (0, 1], got {tau!r}")
    if not 0 < bin_width <= 1:
        raise ValueError(f"bin_width must lie in (0, 1], got {bin_width!r}")


class ConvergenceTracker:
    """Refit and predict after each round of real passes; rJSD against the last ``window``.

    ``update(latency, ok)`` takes every pass so far (N, k) and returns the ConvergenceStep.
    Percentile thresholds are resolved from the passes given, so the trace says what the
    estimate would have reported after k passes. Every step draws from the same random
    stream (common random numbers), so the prediction after k passes does not depend on which
    earlier steps were computed, and rJSD measures how much the *model* changed between
    rounds rather than Monte Carlo noise (which alone would put rJSD near
    sqrt(bins/(4·mc·ln 2)) ≈ 0.04 at mc = 2000, too close to τ to mean anything).
    """

    def __init__(self, metric, thresholds, *, sizes=None, mc=2000, seed=0, model="pooled",
                 run_level=True, resolution=1.0, window=5, tau=0.05,
                 bin_width=DEFAULT_BIN_WIDTH, percentile_rule="linear"):
        if model not in MODELS:
            raise ValueError(f"model {model!r}: choose one of {', '.join(MODELS)}")
        check_options(mc, window, tau, bin_width)
        self.metric, self.thresholds, self.sizes = metric, tuple(thresholds), sizes
        self.mc, self.seed, self.model, self.run_level = mc, seed, model, run_level
        self.resolution, self.window, self.tau = resolution, window, tau
        self.bin_width, self.percentile_rule = bin_width, percentile_rule
        self.steps, self.history = [], []
        self.thetas = self.fitted = None

    @property
    def converged(self):
        return bool(self.steps) and self.steps[-1].converged

    def update(self, latency, ok):
        k = latency.shape[1]
        self.thetas = resolve_thresholds(self.thresholds, latency[ok & np.isfinite(latency)],
                                         self.percentile_rule)
        kwargs = {"run_level": self.run_level} if self.model.startswith("pooled") else {}
        self.fitted = MODELS[self.model](latency, ok, self.sizes, resolution=self.resolution,
                                         **kwargs)
        rng = np.random.default_rng(self.seed)
        pred = predict_tq(self.fitted, self.metric, self.thetas, self.mc, rng)
        prev = self.history[-self.window:]
        t_range = range(len(self.thresholds))
        rj = tuple(rjsd(pred[t], [h[t] for h in prev], self.bin_width) for t in t_range)
        rj_pub = tuple(rjsd_public_code(pred[t], [h[t] for h in prev], self.bin_width)
                       for t in t_range)
        step = ConvergenceStep(k, rj, rj_pub, len(prev) >= self.window and
                               all(v <= self.tau for v in rj))
        self.steps.append(step)
        self.history.append(pred)
        return step


def analyze(latency, ok, metric, thresholds, *, sizes=None, synthetic_metric=None, mc=2000,
            seed=0, model="pooled", run_level=True, resolution=1.0, window=5, tau=0.05,
            bin_width=DEFAULT_BIN_WIDTH, percentile_rule="linear", trace_from=2, trace_step=1,
            full_run_passes=None, progress=None, tracker=None):
    """Observed and predicted tail quality of a run.

    ``latency``/``ok``: (N, R) per sample and pass (ns); ``metric``: one metric or one per
    pass (observed); ``synthetic_metric``: the metric for synthetic passes (default:
    ``metric``, or the first pass's when per-pass); ``thresholds``: parsed Threshold objects.
    The convergence trace refits on the first k passes for k = trace_from, … R — or comes
    from ``tracker``, a ConvergenceTracker already updated up to R passes (``tailq estimate``).
    """
    latency, ok = _validate(latency, ok, sizes, mc, window, tau, bin_width)
    n, r = latency.shape
    synth = synthetic_metric or (metric[0] if isinstance(metric, (list, tuple)) else metric)
    if full_run_passes is None:
        full_run_passes = max(1, math.ceil(mlperf_query_count(0.99) / max(n, 1)))
    if tracker is None:
        tracker = ConvergenceTracker(synth, thresholds, sizes=sizes, mc=mc, seed=seed,
                                     model=model, run_level=run_level, resolution=resolution,
                                     window=window, tau=tau, bin_width=bin_width,
                                     percentile_rule=percentile_rule)
        ks = list(range(max(2, trace_from), r, max(1, trace_step))) + [r]
        for k in ks:
            tracker.update(latency[:, :k], ok[:, :k])
            if progress is not None:
                progress(k, r)
    if tracker.steps[-1].passes != r:
        raise ValueError("the convergence tracker's last step does not cover every pass")
    thetas, final_pred, final_model = tracker.thetas, tracker.history[-1], tracker.fitted
    observed = observed_tq(latency, ok, metric, thetas)
    tq_inf = no_limit_quality(ok, metric)

    mean_se = mean_standard_error(final_model, synth, thetas, min(tracker.mc, 1000),
                                  np.random.SeedSequence([tracker.seed, 1]))
    results = []
    for t, thr in enumerate(thresholds):
        results.append(ThresholdResult(
            label=thr.label, kind=thr.kind, theta_ns=float(thetas[t]),
            observed=tq_stats(observed[t]), observed_per_pass=tuple(float(v) for v in observed[t]),
            predicted=tq_stats(final_pred[t], worst_of=full_run_passes),
            predicted_mean_se=float(mean_se[t]), predicted_values=final_pred[t]))

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
    steps = tuple(tracker.steps)
    return Analysis(
        thresholds=tuple(results), tq_inf=float(np.mean(tq_inf)),
        tq_inf_per_pass=tuple(float(v) for v in tq_inf), all_failed=float(synth.all_failed()),
        n_samples=n, n_passes=r, mc=tracker.mc, seed=tracker.seed, model=final_model.describe(),
        shift_se_log=final_model.shift_standard_error(), convergence=steps,
        converged=steps[-1].converged, tau=tracker.tau, window=tracker.window,
        bin_width=tracker.bin_width, full_run_passes=full_run_passes, drift=drift,
        warnings=tuple(warnings),
        conventions={"percentile": PACKAGE_CONVENTION, "threshold_rule": tracker.percentile_rule,
                     "loadgen_percentile": LOADGEN_CONVENTION,
                     "jsd": "Jensen-Shannon divergence, base 2, fixed-width bins",
                     "rjsd": "sqrt(mean over window of JSD2(new, previous))",
                     "rjsd_public_code": "sqrt(mean over window of JS distance, natural log)",
                     "thresholds": "percentiles resolved from the passes each step had",
                     "latency_unit": "ns"})
