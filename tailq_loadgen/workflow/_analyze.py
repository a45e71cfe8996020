"""``analyze_run``: a captured run → ``analysis.json`` (observed and predicted tail quality)."""

import numpy as np

from .. import records, tailquality
from .._errors import UserError
from .._version import __version__
from ._inputs import pass_matrix
from ..report._checks import check_lines
from ._metric import metrics_for_run


def analyze_run(run_dir, *, thresholds="p90,p95,p99", mc=2000, seed=0,
                model=tailquality.DEFAULT_MODEL,
                run_level=True, window=5, tau=0.05, bin_width=tailquality.DEFAULT_BIN_WIDTH,
                percentile_rule="linear", full_run_passes=None, progress=None, write=True,
                tracker=None, harness=None, extra=None):
    """Analyse the run at ``run_dir``; writes ``analysis.json`` there unless ``write=False``.

    Returns ``(analysis, matrix)``: the :class:`tailquality.Analysis` and the PassMatrix.
    """
    parsed = parse_thresholds_arg(thresholds)
    run = records.load_run(run_dir)
    matrix = pass_matrix(run)
    if matrix.n_passes < 2:
        why = "; ".join(f"pass {p}: {r}" for p, r in matrix.skipped) or "none captured"
        raise UserError(f"{run_dir}: tail quality needs at least 2 complete passes over the "
                        f"dataset, found {matrix.n_passes} ({why}); capture with --passes K")
    metric, synthetic, notes = metrics_for_run(run, matrix, harness)
    try:
        analysis = tailquality.analyze(
            matrix.latency, matrix.ok, metric, parsed, sizes=matrix.sizes, synthetic_metric=synthetic,
            mc=mc, seed=seed, model=model, run_level=run_level, window=window, tau=tau,
            bin_width=bin_width, percentile_rule=percentile_rule, full_run_passes=full_run_passes,
            progress=progress, tracker=tracker)
    except (ValueError, tailquality.ThresholdError) as exc:
        raise UserError(f"{run_dir}: {exc}") from None
    if write:
        records.write_analysis(run_dir, {
            "tailq_version": __version__,
            "run_dir": run_dir,
            "inputs": {"thresholds": [t.as_dict() for t in parsed], "mc": mc, "seed": seed,
                       "model": model, "run_level": run_level, "window": window, "tau": tau,
                       "bin_width": bin_width, "percentile_rule": percentile_rule,
                       "passes_used": list(matrix.passes),
                       "passes_skipped": [{"pass": p, "reason": r} for p, r in matrix.skipped],
                       "samples": matrix.n_samples,
                       "real_inferences": int(matrix.n_samples * matrix.n_passes),
                       "metric": getattr(synthetic, "name", None), "metric_notes": notes},
            "analysis": analysis.as_dict(),
            **(extra or {}),
        })
    return analysis, matrix


def parse_thresholds_arg(thresholds):
    try:
        return tailquality.parse_thresholds(thresholds)
    except tailquality.ThresholdError as exc:
        raise UserError(f"--thresholds: {exc}") from None


def format_analysis(analysis, metric_name=None):
    """A compact table: one row per threshold."""
    head = (f"{analysis.n_samples} samples × {analysis.n_passes} passes, {analysis.mc} synthetic "
            f"passes (seed {analysis.seed}); quality with no time limit"
            f"{f' ({metric_name})' if metric_name else ''}: {analysis.tq_inf:.4f}")
    lines = [head, "",
             f"{'θ':>8} {'θ (ms)':>9} | {'observed min':>12} {'p5':>7} {'mean':>7} {'max':>7} | "
             f"{'predicted min':>13} {'p5':>7} {'mean':>7} {'max':>7} {'worst/R':>8} | {'rJSD':>6}"]
    last = analysis.convergence[-1]
    for t, thr in enumerate(analysis.thresholds):
        o, p = thr.observed, thr.predicted
        rj = last.rjsd[t]
        lines.append(
            f"{thr.label:>8} {thr.theta_ns / 1e6:>9.3f} | {o.min:>12.4f} {o.p5:>7.4f} {o.mean:>7.4f} "
            f"{o.max:>7.4f} | {p.min:>13.4f} {p.p5:>7.4f} {p.mean:>7.4f} {p.max:>7.4f} "
            f"{p.expected_worst:>8.4f} | {'—' if np.isnan(rj) else f'{rj:.4f}':>6}")
    lines.append("")
    lines.append(f"worst/R: expected worst pass over the {analysis.full_run_passes} passes of a "
                 f"full MLPerf-style run at p99; run-level shift known to ±{analysis.shift_se_log * 100:.2f}% "
                 "(its standard error)")
    status = ("converged" if analysis.converged else "not converged")
    lines.append(f"convergence: {status} (rJSD ≤ τ={analysis.tau} over a window of "
                 f"{analysis.window} at every threshold)")
    lines += check_lines({"self_checks": analysis.self_checks})
    for w in analysis.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
