"""What the report shows, computed from run directories (the report room only draws it)."""

import os

import numpy as np

from .. import records, tailquality
from .._errors import UserError
from ._compare import COMPARE_FORMAT, COMPARE_SCHEMA_VERSION
from ._inputs import pass_matrix
from ._metric import metrics_for_run


def _verdicts(meta):
    """LoadGen's verdict on each performance test of a run (accuracy passes have none)."""
    out = []
    for t in meta.get("tests") or []:
        v = t.get("verdict") or records.verdict(t.get("loadgen_result"), t.get("effective_settings"))
        if v.get("validity") is not None:
            out.append(dict(v, **{"pass": t["pass"], "mode": t.get("mode")}))
    return out


def _thetas(analysis, compare):
    """One row per threshold label: its θ in this run, and in the comparison, with sources."""
    rows = []
    by_label = {r["label"]: r for r in (compare or {}).get("thresholds", [])}
    for t in analysis["analysis"]["thresholds"]:
        row = {"label": t["label"], "kind": t["kind"], "theta_ns": t["theta_ns"],
               "source": ("an absolute time" if t["kind"] != "percentile" else
                          "percentile of this run's own latencies (its tables and figures)")}
        c = by_label.get(t["label"])
        if c is not None:
            row["compare_theta_ns"] = c["theta_ns"]
            row["compare_source"] = ("percentile of the full run's latencies: the comparison "
                                     "evaluates both runs at this one θ")
        rows.append(row)
    return rows


def report_data(run_dir, grid_points=60, example_samples=3, draws=4000):
    """Arrays and tables for one run directory's section of the report."""
    run = records.load_run(run_dir)
    try:
        analysis = records.read_analysis(run_dir)
    except UserError:
        raise UserError(f"{run_dir}: no analysis.json; run `tailq analyze {run_dir}` first") from None
    m = pass_matrix(run)
    if m.n_passes < 2:
        raise UserError(f"{run_dir}: the report needs at least 2 complete passes")
    metric, synth, _ = metrics_for_run(run, m)
    lat = m.latency[m.ok]
    lo, hi = np.percentile(lat, 1), lat.max()
    grid = np.geomspace(lo, hi * 1.01, grid_points)
    tq = tailquality.observed_tq(m.latency, m.ok, metric, grid)        # (grid, passes)
    marks = {f"p{q:g}": float(tailquality.percentile(lat, q)) for q in (90, 95, 99)}
    mean_lat = np.nanmean(m.latency, axis=1)
    sizes = m.sizes
    varied = bool(np.isfinite(sizes).all() and np.unique(sizes).size > 1)
    key = sizes if varied else mean_lat
    order = np.argsort(key)
    picks = [int(order[int(q * (len(order) - 1))]) for q in np.linspace(0.1, 0.9, example_samples)]
    name = (analysis.get("inputs") or {}).get("model", tailquality.DEFAULT_MODEL)
    model = tailquality.MODELS.get(name, tailquality.MODELS[tailquality.DEFAULT_MODEL])(
        m.latency, m.ok, sizes if varied else None)
    sim = model.sample(draws, 0)
    examples = [{"sample": i, "size": float(sizes[i]) if np.isfinite(sizes[i]) else None,
                 "observed_ns": m.latency[i][m.ok[i]], "model_ns": sim[i][np.isfinite(sim[i])]}
                for i in picks]
    compare = None
    path = os.path.join(run_dir, "compare.json")
    if os.path.exists(path):
        compare = records.read_result(path, COMPARE_FORMAT, COMPARE_SCHEMA_VERSION)
    return {"run_dir": run_dir, "meta": dict(run.metadata), "analysis": analysis,
            "grid_ns": grid, "tq": tq, "tq_inf": float(np.mean(tailquality.no_limit_quality(m.ok, synth))),
            "marks_ns": marks, "examples": examples, "sizes": sizes if varied else None,
            "mean_latency_ns": mean_lat, "compare": compare, "metric": getattr(synth, "name", "quality"),
            "verdicts": _verdicts(run.metadata), "thetas": _thetas(analysis, compare),
            "n_samples": m.n_samples}
