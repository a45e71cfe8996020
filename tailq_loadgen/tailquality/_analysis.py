"""The analysis: observed and predicted tail-quality distributions, their convergence, and
the self-checks that say whether to trust them."""

import dataclasses
import math

import numpy as np

from . import _selfcheck
from ._drift import drift_check
from ._jsd import (DEFAULT_BIN_WIDTH, common_bins, hist_rjsd, hist_rjsd_public_code, histogram,
                   law_histogram)
from ._mlperf import mlperf_query_count
from ._model import DEFAULT_MODEL, MODELS
from ._observed import no_limit_quality, observed_tq
from ._percentile import LOADGEN_CONVENTION, PACKAGE_CONVENTION
from ._predict import is_additive, predict
from ._summary import tq_stats
from ._thresholds import resolve_thresholds
from ._uncertainty import mean_standard_error


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
    predicted_mean_se: float    # standard error of the predicted mean TQ (jackknife over passes)
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
    self_checks: dict = None

    def as_dict(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["thresholds"] = [t.as_dict(self.bin_width) for t in self.thresholds]
        d["convergence"] = [c.as_dict() for c in self.convergence]
        d["drift"] = self.drift.as_dict()
        d["tq_inf_per_pass"] = list(self.tq_inf_per_pass)
        d["warnings"] = list(self.warnings)
        return d


def predict_tq(model, metric, thetas, mc, seed):
    """Tail quality of ``mc`` synthetic passes at each θ: (T, mc). ``seed``: an integer."""
    return predict(model, metric, thetas, mc, seed, conditional=False).values


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
    estimate would have reported after k passes.

    rJSD must measure how much the *model* changed between rounds, not Monte Carlo noise
    (independent draws would put it near sqrt(bins/(4·mc·ln 2)) ≈ 0.1 at mc = 2000 whatever
    the data, and the stop rule would measure mc). Two things make it so:

    * every synthetic pass keeps its uniforms across refits and each law maps a uniform to
      the same quantile whatever k (``_streams``, ``_laws``);
    * for metrics that are sums of per-sample scores, the histograms compared are those of
      each synthetic pass's conditional law given its run-level factors
      (``_jsd.conditional_histogram``), which carry no per-sample noise: even perfectly
      coupled draws jitter each pass's TQ by a few samples per refit, enough at N ≈ 1,000
      to keep the JSD of 0.1-pp histograms at the noise level. Other metrics (F1) compare
      drawn passes, so their rJSD keeps a Monte Carlo part that falls as 1/√mc.
    """

    def __init__(self, metric, thresholds, *, sizes=None, mc=2000, seed=0, model=DEFAULT_MODEL,
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

    def fit(self, latency, ok):
        """The model fitted to (some of) the passes, with the tracker's options."""
        return MODELS[self.model](latency, ok, self.sizes, resolution=self.resolution,
                                  run_level=self.run_level)

    def update(self, latency, ok):
        k = latency.shape[1]
        self.thetas = resolve_thresholds(self.thresholds, latency[ok & np.isfinite(latency)],
                                         self.percentile_rule)
        self.fitted = self.fit(latency, ok)
        pred = predict(self.fitted, self.metric, self.thetas, self.mc, self.seed,
                       draws=not is_additive(self.metric))
        hists = [law_histogram(pred, t, self.bin_width) for t in range(len(self.thresholds))]
        prev = self.history[-self.window:]
        rj = tuple(hist_rjsd(h, [p[t] for p in prev]) for t, h in enumerate(hists))
        rj_pub = tuple(hist_rjsd_public_code(h, [p[t] for p in prev]) for t, h in enumerate(hists))
        step = ConvergenceStep(k, rj, rj_pub, len(prev) >= self.window and
                               all(v <= self.tau for v in rj))
        self.steps.append(step)
        self.history.append(hists)   # per threshold: (first bin, probabilities)
        return step


def analyze(latency, ok, metric, thresholds, *, sizes=None, synthetic_metric=None, mc=2000,
            seed=0, model=DEFAULT_MODEL, run_level=True, resolution=1.0, window=5, tau=0.05,
            bin_width=DEFAULT_BIN_WIDTH, percentile_rule="linear", trace_from=2, trace_step=1,
            full_run_passes=None, progress=None, tracker=None, self_checks=True):
    """Observed and predicted tail quality of a run, with its self-checks.

    ``latency``/``ok``: (N, R) per sample and pass (ns); ``metric``: one metric or one per
    pass (observed); ``synthetic_metric``: the metric for synthetic passes (default:
    ``metric``, or the first pass's when per-pass); ``thresholds``: parsed Threshold objects.
    The convergence trace refits on the first k passes for k = trace_from, … R — or comes
    from ``tracker``, a ConvergenceTracker already updated up to R passes (``tailq estimate``).
    ``self_checks``: run the in-sample and hold-out checks (docs/analysis.md).
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
    thetas, final_model = tracker.thetas, tracker.fitted
    final_pred = predict_tq(final_model, synth, thetas, tracker.mc, tracker.seed)
    observed = observed_tq(latency, ok, metric, thetas)
    tq_inf = no_limit_quality(ok, metric)
    mean_se = mean_standard_error(tracker.fit, latency, ok, synth, thetas, tracker.seed,
                                  model=final_model)
    results = []
    for t, thr in enumerate(thresholds):
        results.append(ThresholdResult(
            label=thr.label, kind=thr.kind, theta_ns=float(thetas[t]),
            observed=tq_stats(observed[t]), observed_per_pass=tuple(float(v) for v in observed[t]),
            predicted=tq_stats(final_pred[t], worst_of=full_run_passes),
            predicted_mean_se=float(mean_se[t]), predicted_values=final_pred[t]))

    labels = [t.label for t in thresholds]
    drift = drift_check(latency, ok)
    checks = {"drift": {"check": "drift", "ok": not drift.drifting,
                        "verdict": "drift: " + ("FOUND — " if drift.drifting else "none — ")
                        + drift.message}}
    warnings = []
    if self_checks:
        checks["in_sample"] = _selfcheck.in_sample(final_model, latency, ok, synth, metric, thetas,
                                                   labels, tracker.seed)
        checks["holdout"] = _selfcheck.holdout(tracker.fit, latency, ok, synth, metric, thetas,
                                               labels, tracker.seed, mc=tracker.mc,
                                               tau=tracker.tau, bin_width=tracker.bin_width)
        warnings += checks["in_sample"]["warnings"] + checks["holdout"]["warnings"]
    if drift.drifting:
        warnings.append(drift.message)
    if r < 3 and run_level:
        warnings.append("fewer than 3 passes: the run-level component cannot be estimated and is off")
    never = int(np.sum(np.asarray(final_model.fail_prob) >= 1.0))
    if never:
        warnings.append(f"{never} samples never completed successfully; they count as failed "
                        "in every synthetic pass")
    if not is_additive(synth):
        warnings.append(f"the metric ({getattr(synth, 'name', 'quality')}) is not a sum of "
                        "per-sample scores: rJSD compares drawn passes and keeps a Monte Carlo "
                        f"part (≈ 1/√mc); raise --mc for a stop rule that measures the data")
    steps = tuple(tracker.steps)
    description = final_model.describe()
    description["name"] = tracker.model
    return Analysis(
        thresholds=tuple(results), tq_inf=float(np.mean(tq_inf)),
        tq_inf_per_pass=tuple(float(v) for v in tq_inf), all_failed=float(synth.all_failed()),
        n_samples=n, n_passes=r, mc=tracker.mc, seed=tracker.seed, model=description,
        shift_se_log=final_model.shift_standard_error(), convergence=steps,
        converged=steps[-1].converged, tau=tracker.tau, window=tracker.window,
        bin_width=tracker.bin_width, full_run_passes=full_run_passes, drift=drift,
        warnings=tuple(warnings), self_checks=checks,
        conventions={"percentile": PACKAGE_CONVENTION, "threshold_rule": tracker.percentile_rule,
                     "loadgen_percentile": LOADGEN_CONVENTION,
                     "jsd": "Jensen-Shannon divergence, base 2, fixed-width bins",
                     "rjsd": "sqrt(mean over window of JSD2(new, previous))",
                     "rjsd_histograms": ("conditional laws of each synthetic pass given its "
                                         "run-level factors" if is_additive(synth) else
                                         "drawn synthetic passes"),
                     "rjsd_public_code": "sqrt(mean over window of JS distance, natural log)",
                     "thresholds": "percentiles resolved from the passes each step had",
                     "latency_unit": "ns"})
