"""``tailq compare EST FULL``: the reduced estimate against the full reference, per threshold."""

import os
import re

import numpy as np

from .. import records, tailquality
from .._errors import UserError
from .._version import __version__
from ._analyze import parse_thresholds_arg
from ._inputs import pass_matrix
from ._metric import metrics_for_run

COMPARE_FORMAT = "tailq-compare"
COMPARE_SCHEMA_VERSION = 1
_CONDITION = re.compile(r"^\s*(jsd|mean_diff|ratio|worst_outside|no_match)\s*(?:([<>]=?)\s*([0-9.eE+-]+))?\s*$")


def _identity(meta):
    h = meta.get("harness") or {}
    s = meta.get("system") or {}
    return {"harness": h.get("name"), "model": h.get("model"), "scenario": meta.get("scenario"),
            "dataset": (h.get("dataset"), meta.get("sample_count"),
                        repr(sorted((h.get("params") or {}).items()))),
            "host": (s.get("hostname"), s.get("cpu_model"))}


def parse_conditions(texts):
    out = []
    for text in texts or ():
        for part in text.split(","):
            if not part.strip():
                continue
            m = _CONDITION.match(part)
            if not m or (m.group(1) in ("worst_outside", "no_match")) != (m.group(2) is None):
                raise UserError(f"--fail-if {part!r}: write jsd>0.05, mean_diff>0.005, ratio<10, "
                                "worst_outside or no_match")
            out.append((m.group(1), m.group(2), float(m.group(3)) if m.group(3) else None))
    return out


def compare_runs(est_dir, full_dir, *, force=False, thresholds=None, mc=None, seed=None,
                 noise_draws=200, tau=None):
    """The side-by-side comparison of spec §6 as a plain dict (``compare.json``)."""
    est, full = records.load_run(est_dir), records.load_run(full_dir)
    for run in (est, full):
        if not run.complete:
            raise UserError(f"{run.path}: the run is incomplete ({run.metadata.get('status')}); "
                            "compare complete runs only")
    a, b = _identity(est.metadata), _identity(full.metadata)
    diffs = [k for k in a if a[k] != b[k]]
    if diffs and not force:
        raise UserError(f"runs do not match in {', '.join(diffs)} ({est_dir} vs {full_dir}); "
                        "pass --force to compare them anyway")
    try:
        est_inputs = records.read_analysis(est_dir).get("inputs", {})
    except UserError:
        est_inputs = {}
    labels = thresholds or ",".join(t["label"] for t in est_inputs.get("thresholds", [])) or "p90,p95,p99"
    parsed = parse_thresholds_arg(labels)
    mc = mc or est_inputs.get("mc", 2000)
    seed = est_inputs.get("seed", 0) if seed is None else seed
    tau = tau or est_inputs.get("tau", 0.05)
    bin_width = est_inputs.get("bin_width", tailquality.DEFAULT_BIN_WIDTH)
    rule = est_inputs.get("percentile_rule", "linear")
    m_est, m_full = pass_matrix(est), pass_matrix(full)
    for name, m in (("estimate", m_est), ("full", m_full)):
        if m.n_passes < 2:
            raise UserError(f"{name} run has {m.n_passes} complete passes; it needs at least 2")
    # One absolute θ for both sides: the full run's (it has far more latencies).
    thetas = tailquality.resolve_thresholds(parsed, m_full.latency[m_full.ok], rule)
    est_thetas = tailquality.resolve_thresholds(parsed, m_est.latency[m_est.ok], rule)
    _, synth, _ = metrics_for_run(est, m_est)
    full_metric, _, _ = metrics_for_run(full, m_full)
    model_name = est_inputs.get("model", "pooled")
    options = {"run_level": est_inputs.get("run_level", True)} if model_name.startswith("pooled") else {}
    model = tailquality.MODELS[model_name](m_est.latency, m_est.ok, m_est.sizes, **options)
    rng = np.random.default_rng(seed)  # the same stream as the estimate's own prediction
    predicted = tailquality.predict_tq(model, synth, thetas, mc, rng)
    mean_se = tailquality.mean_standard_error(model, synth, thetas, min(mc, 1000),
                                              np.random.SeedSequence([seed, 1]))
    observed = tailquality.observed_tq(m_full.latency, m_full.ok, full_metric, thetas)
    floor_rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    est_inf = m_est.n_samples * m_est.n_passes
    full_inf = m_full.n_samples * m_full.n_passes
    perf_samples = sum(int(np.sum(full["pass"] == t["pass"])) for t in full.metadata["tests"]
                       if t["mode"] == "PerformanceOnly")
    rows = []
    for t, thr in enumerate(parsed):
        p, o = tailquality.tq_stats(predicted[t]), tailquality.tq_stats(observed[t])
        jsd = tailquality.jsd(predicted[t], observed[t], bin_width)
        floor_med, floor_p95 = tailquality.noise_floor(predicted[t], m_full.n_passes, floor_rng,
                                                       noise_draws, bin_width)
        match = "within τ" if jsd <= tau else ("within noise floor" if jsd <= floor_p95 else "no")
        diff = o.mean - p.mean
        rows.append({
            "label": thr.label, "theta_ns": float(thetas[t]), "theta_ns_estimate": float(est_thetas[t]),
            "inferences_estimate": est_inf, "inferences_full": full_inf + perf_samples,
            "ratio": (full_inf + perf_samples) / est_inf,
            "predicted": p.as_dict(), "observed": o.as_dict(),
            "predicted_mean_se": float(mean_se[t]), "mean_diff": diff,
            "mean_within": bool(abs(diff) <= 0.005 or abs(diff) <= 2 * mean_se[t]),
            "jsd": jsd, "noise_floor_median": floor_med, "noise_floor_p95": floor_p95,
            "match": match,
            "worst_inside": bool(p.min <= o.min <= p.max),
            "predicted_histogram": tailquality.histogram_dict(predicted[t], bin_width),
            "observed_histogram": tailquality.histogram_dict(observed[t], bin_width),
        })
    # A reference that is not stationary is not one distribution to match: say so.
    drift = {"estimate": tailquality.drift_check(m_est.latency, m_est.ok).as_dict(),
             "full": tailquality.drift_check(m_full.latency, m_full.ok).as_dict()}
    warnings = ([f"runs differ in {', '.join(diffs)} (compared with --force)"] if diffs and force
                else [])
    warnings += [f"the {side} run drifts: {d['message']}" for side, d in drift.items() if d["drifting"]]
    return {
        "format": COMPARE_FORMAT, "schema_version": COMPARE_SCHEMA_VERSION,
        "tailq_version": __version__, "estimate": est_dir, "full": full_dir,
        "mismatched": diffs, "forced": bool(diffs and force), "tau": tau, "bin_width": bin_width,
        "mc": mc, "seed": seed, "percentile_rule": rule,
        "passes": {"estimate": m_est.n_passes, "full": m_full.n_passes},
        "tq_inf": {"estimate": float(np.mean(tailquality.no_limit_quality(m_est.ok, synth))),
                   "full": float(np.mean(tailquality.no_limit_quality(m_full.ok, full_metric)))},
        "thresholds": rows,
        "drift": drift, "warnings": warnings,
        "loadgen": _loadgen_view(full, m_full),
    }


def _loadgen_view(run, matrix):
    """LoadGen's verdict on the full run's performance test, and our LoadGen-rule figures."""
    view = []
    for t in run.metadata.get("tests", []):
        if t["mode"] != "PerformanceOnly":
            continue
        lg = t.get("loadgen_result", {})
        pct = lg.get("effective_target_latency_percentile")
        table = lg.get("percentile_per_query_latency_ns") or lg.get("percentile_latency_ns") or {}
        key = f"{pct * 100:.2f}" if pct else None
        sel = run["pass"] == t["pass"]
        lat = (run.query_latencies(sel) if run.metadata.get("scenario") == "MultiStream"
               else run["latency_ns"][sel & run.has_latency])
        target = (t.get("effective_settings") or {}).get("target_latency_ns")
        ours = None
        if pct and lat.size and run.metadata.get("scenario") in ("SingleStream", "MultiStream") \
                or (run.metadata.get("scenario") == "Server" and target and pct and lat.size):
            ours = tailquality.early_stopping(lat, run.metadata["scenario"], pct,
                                              target_latency_ns=target).as_dict()
        view.append({"pass": t["pass"], "validity": lg.get("result_validity"),
                     "tailq_early_stopping": ours,
                     "early_stopping_met": lg.get("early_stopping_met"),
                     "early_stopping_result": (lg.get("early_stopping_result") or "").strip(),
                     "target_percentile": pct, "percentile_latency_ns": table.get(key),
                     "early_stopping_latency": {k: v for k, v in lg.items()
                                                if k.startswith("early_stopping_latency")},
                     "query_count": lg.get("result_query_count")})
    lat = matrix.latency[matrix.ok]
    ours = {f"{q:.2f}": int(tailquality.loadgen_percentile(lat, q / 100))
            for q in (90.0, 95.0, 99.0)} if lat.size else {}
    return {"performance_tests": view, "passes_percentile_latency_ns_loadgen_rule": ours}


def failed_conditions(doc, conditions):
    """The --fail-if conditions that hold, as readable strings."""
    hits = []
    for name, op, value in conditions:
        for row in doc["thresholds"]:
            if name == "worst_outside" and not row["worst_inside"]:
                hits.append(f"{row['label']}: observed worst case outside the predicted interval")
            elif name == "no_match" and row["match"] == "no":
                hits.append(f"{row['label']}: prediction does not match (JSD {row['jsd']:.4f})")
            elif op:
                x = abs(row["mean_diff"]) if name == "mean_diff" else row[name]
                if {"<": x < value, "<=": x <= value, ">": x > value, ">=": x >= value}[op]:
                    hits.append(f"{row['label']}: {name} = {x:.4g} {op} {value:g}")
    return hits


def format_compare(doc):
    lines = [f"estimate {doc['estimate']} ({doc['passes']['estimate']} passes) vs full "
             f"{doc['full']} ({doc['passes']['full']} passes); TQ(∞) {doc['tq_inf']['estimate']:.4f} / "
             f"{doc['tq_inf']['full']:.4f}"]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    lines.append("")
    lines.append(f"{'θ':>6} {'θ ms':>8} {'inferences':>17} {'ratio':>6} | {'pred min':>8} {'p5':>7} "
                 f"{'mean':>7} {'max':>7} | {'obs min':>7} {'p5':>7} {'mean':>7} {'max':>7} | "
                 f"{'JSD':>6} {'floor95':>7} {'match':>18} {'worst in':>8}")
    for r in doc["thresholds"]:
        p, o = r["predicted"], r["observed"]
        lines.append(
            f"{r['label']:>6} {r['theta_ns'] / 1e6:>8.3f} {r['inferences_estimate']:>7}/{r['inferences_full']:<9} "
            f"{r['ratio']:>6.1f} | {p['min']:>8.4f} {p['p5']:>7.4f} {p['mean']:>7.4f} {p['max']:>7.4f} | "
            f"{o['min']:>7.4f} {o['p5']:>7.4f} {o['mean']:>7.4f} {o['max']:>7.4f} | {r['jsd']:>6.4f} "
            f"{r['noise_floor_p95']:>7.4f} {r['match']:>18} {'yes' if r['worst_inside'] else 'NO':>8}")
    lg = doc["loadgen"]
    for v in lg["performance_tests"]:
        pl = v["percentile_latency_ns"]
        lines.append(f"LoadGen (full run, performance test): {v['validity']}, early stopping "
                     f"{'met' if v['early_stopping_met'] else 'not met'}, p{(v['target_percentile'] or 0) * 100:g} "
                     f"latency {pl / 1e6 if pl else float('nan'):.3f} ms over {v['query_count']} queries")
    if lg["passes_percentile_latency_ns_loadgen_rule"]:
        lines.append("full run's passes, LoadGen's percentile rule: " + ", ".join(
            f"p{k[:-3]} {v / 1e6:.3f} ms" for k, v in lg["passes_percentile_latency_ns_loadgen_rule"].items()))
    return "\n".join(lines)


def write_compare(doc, path):
    return records.write_result(os.path.dirname(path) or ".", os.path.basename(path),
                                COMPARE_FORMAT, COMPARE_SCHEMA_VERSION,
                                {k: v for k, v in doc.items() if k not in ("format", "schema_version")})
