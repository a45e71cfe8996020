"""``tailq estimate``: real passes in rounds until the predicted distribution converges."""

import dataclasses
import time

from .. import records, tailquality
from .._errors import UserError
from ._analyze import analyze_run, parse_thresholds_arg
from ._inputs import pass_matrix
from ._metric import metrics_for_run


@dataclasses.dataclass(frozen=True)
class EstimateResult:
    run_dir: str
    passes: int
    real_inferences: int
    converged: bool
    stop_reason: str
    seconds: float
    analysis: object = dataclasses.field(repr=False)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d.pop("analysis")
        return d


def estimate(harness, *, scenario, out, thresholds="p90,p95,p99", tau=0.05, window=5,
             round_passes=1, max_passes=60, max_time_s=None, mc=2000, seed=0,
             model=tailquality.DEFAULT_MODEL,
             run_level=True, bin_width=tailquality.DEFAULT_BIN_WIDTH, percentile_rule="linear",
             user_conf=None, experiment=None, overrides=None, overwrite=False, log=print,
             mlperf_conf=None, progress=None):
    """Capture passes round by round; stop when rJSD ≤ τ at every threshold or a budget ends."""
    parsed = parse_thresholds_arg(thresholds)
    try:
        tailquality.check_options(mc, window, tau, bin_width)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if round_passes < 1:
        raise UserError(f"--round {round_passes}: must be at least 1")
    if max_passes < 2:
        raise UserError(f"--max-passes {max_passes}: tail quality needs at least 2")
    if max_time_s is not None and max_time_s <= 0:
        raise UserError(f"--max-time {max_time_s}: must be positive seconds")
    t0 = time.monotonic()
    tracker = None
    reason = None
    from ..capture import CaptureSession  # LoadGen is loaded only when capturing

    with CaptureSession(harness, scenario=scenario, out=out, first_mode="AccuracyOnly",
                        user_conf=user_conf, experiment=experiment, overrides=overrides,
                        overwrite=overwrite, log=lambda *_: None, mlperf_conf=mlperf_conf,
                        progress=progress) as session:
        session.announce(["AccuracyOnly"] * max_passes,
                         f"estimate: capture of at most {max_passes} passes (a refit follows each)")
        while reason is None:
            first = session.passes == 0
            n_new = min(max(round_passes, 2) if first else round_passes, max_passes - session.passes)
            session.run(["AccuracyOnly"] * n_new)
            if first and session.passes < max_passes:  # now at the pace the passes really take
                session.announce(["AccuracyOnly"] * (max_passes - session.passes),
                                 f"estimate: at most {max_passes - session.passes} more passes")
            matrix = pass_matrix(records.load_run(out))
            if tracker is None:
                _, synthetic, _ = metrics_for_run(records.load_run(out), matrix, harness)
                tracker = tailquality.ConvergenceTracker(
                    synthetic, parsed, sizes=matrix.sizes, mc=mc, seed=seed, model=model,
                    run_level=run_level, window=window, tau=tau, bin_width=bin_width,
                    percentile_rule=percentile_rule)
            step = tracker.update(matrix.latency, matrix.ok)
            elapsed = time.monotonic() - t0
            rj = "  ".join(f"{t.label}={'—' if v != v else f'{v:.4f}'}"
                           for t, v in zip(parsed, step.rjsd))
            log(f"passes {matrix.n_passes:>3}  rJSD {rj}  (τ={tau})  {elapsed:6.1f} s")
            if step.converged:
                reason = f"converged: rJSD ≤ {tau} at every threshold"
            elif session.passes >= max_passes:
                reason = f"did not converge: --max-passes {max_passes} reached"
            elif max_time_s is not None and elapsed >= max_time_s:
                reason = f"did not converge: --max-time {max_time_s:g} s reached"
    seconds = time.monotonic() - t0
    inferences = matrix.n_samples * matrix.n_passes
    info = {"workflow": {"kind": "estimate", "converged": step.converged, "stop_reason": reason,
                         "passes": matrix.n_passes, "real_inferences": inferences,
                         "round": round_passes, "max_passes": max_passes,
                         "max_time_s": max_time_s, "seconds": seconds}}
    analysis, _ = analyze_run(out, thresholds=thresholds, mc=mc, seed=seed, model=model,
                              run_level=run_level, window=window, tau=tau, bin_width=bin_width,
                              percentile_rule=percentile_rule, tracker=tracker, harness=harness,
                              extra=info)
    return EstimateResult(out, matrix.n_passes, inferences, step.converged, reason, seconds,
                          analysis)
