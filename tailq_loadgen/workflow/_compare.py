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
COMPARE_SCHEMA_VERSION = 2   # 2: calibrated checks (noise floor of fresh passes, interval for
#                               the minimum, mean in SE units, reference split-half, self-checks)
_VALUED = ("jsd", "mean_diff", "mean_z", "ratio")
_FLAGS = ("worst_outside", "no_match", "mean_outside", "reference_unstable", "self_check")
_CONDITION = re.compile(r"^\s*(" + "|".join(_VALUED + _FLAGS) +
                        r")\s*(?:([<>]=?)\s*([0-9.eE+-]+))?\s*$")


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
            if not m or (m.group(1) in _FLAGS) != (m.group(2) is None):
                raise UserError(f"--fail-if {part!r}: write jsd>0.05, mean_diff>0.005, mean_z>2, "
                                "ratio<10, worst_outside, no_match, mean_outside, "
                                "reference_unstable or self_check")
            out.append((m.group(1), m.group(2), float(m.group(3)) if m.group(3) else None))
    return out


def compare_runs(est_dir, full_dir, *, force=False, thresholds=None, mc=None, seed=None,
                 noise_draws=tailquality.FLOOR_DRAWS, tau=None, level=0.95):
    """The side-by-side comparison of spec §6 as a plain dict (``compare.json``).

    Every check is calibrated: a perfect prediction passes each at its nominal rate
    (``benchmarks/tq_calibration.py`` measures it over seeded simulated pairs)."""
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
        est_doc = records.read_analysis(est_dir)
    except UserError:
        est_doc = {}
    est_inputs = est_doc.get("inputs", {})
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
    full_metric, full_synth, _ = metrics_for_run(full, m_full)
    model_name = est_inputs.get("model", tailquality.DEFAULT_MODEL)
    if model_name not in tailquality.MODELS:
        raise UserError(f"{est_dir}: analysis.json names model {model_name!r}, which this tailq "
                        f"does not have ({', '.join(tailquality.MODELS)}); analyze it again")
    run_level = est_inputs.get("run_level", True)

    def fit(latency, ok):
        return tailquality.MODELS[model_name](latency, ok, m_est.sizes, run_level=run_level)

    model = fit(m_est.latency, m_est.ok)
    predicted = tailquality.predict_tq(model, synth, thetas, mc, seed)  # the estimate's own draws
    est_se = tailquality.mean_standard_error(fit, m_est.latency, m_est.ok, synth, thetas, seed,
                                             model=model)
    observed = tailquality.observed_tq(m_full.latency, m_full.ok, full_metric, thetas)
    # the reference's own stationary twin, for its split-half floor (same model kind)
    reference = tailquality.MODELS[model_name](m_full.latency, m_full.ok, m_full.sizes,
                                               run_level=run_level)
    checks = tailquality.compare_prediction(model, synth, thetas, observed, seed, predicted=predicted,
                                            reference=reference, reference_metric=full_synth,
                                            est_se=est_se, tau=tau, bin_width=bin_width,
                                            est_df=tailquality.standard_error_df(m_est.n_passes),
                                            level=level, floor_draws=noise_draws)
    est_inf = m_est.n_samples * m_est.n_passes
    full_inf = m_full.n_samples * m_full.n_passes
    perf_samples = sum(int(np.sum(full["pass"] == t["pass"])) for t in full.metadata["tests"]
                       if t["mode"] == "PerformanceOnly")
    rows, sentences = [], []
    for t, thr in enumerate(parsed):
        p, o = tailquality.tq_stats(predicted[t]), tailquality.tq_stats(observed[t])
        row = {"label": thr.label, "theta_ns": float(thetas[t]),
               "theta_ns_estimate": float(est_thetas[t]),
               "inferences_estimate": est_inf, "inferences_full": full_inf + perf_samples,
               "ratio": (full_inf + perf_samples) / est_inf,
               "predicted": p.as_dict(), "observed": o.as_dict(),
               "predicted_mean_se": float(est_se[t])}
        row.update(checks[t])
        row["predicted_histogram"] = tailquality.histogram_dict(predicted[t], bin_width)
        row["observed_histogram"] = tailquality.histogram_dict(observed[t], bin_width)
        rows.append(row)
        if row["reproduces"] is False:
            sentences.append(
                f"{thr.label}: the full run does not reproduce itself — its even and odd passes "
                f"differ by JSD {row['split_jsd']:.3f}, more than the {row['split_floor_p95']:.3f} "
                "(p95) that two halves of a stationary run of this size show; no estimate can be "
                "held to it at this threshold")
    # A reference that is not stationary is not one distribution to match: say so.
    drift = {"estimate": tailquality.drift_check(m_est.latency, m_est.ok).as_dict(),
             "full": tailquality.drift_check(m_full.latency, m_full.ok).as_dict()}
    self_checks = {name: {"ok": c.get("ok"), "verdict": c.get("verdict")}
                   for name, c in ((est_doc.get("analysis") or {}).get("self_checks") or {}).items()}
    warnings = ([f"runs differ in {', '.join(diffs)} (compared with --force)"] if diffs and force
                else [])
    warnings += [f"the {side} run drifts: {d['message']}" for side, d in drift.items() if d["drifting"]]
    warnings += sentences
    warnings += [f"the estimate's {c['verdict']}" for c in self_checks.values()
                 if c.get("ok") is False and not c["verdict"].startswith("drift")]
    return {
        "format": COMPARE_FORMAT, "schema_version": COMPARE_SCHEMA_VERSION,
        "tailq_version": __version__, "estimate": est_dir, "full": full_dir,
        "mismatched": diffs, "forced": bool(diffs and force), "tau": tau, "bin_width": bin_width,
        "mc": mc, "seed": seed, "percentile_rule": rule, "model": model_name,
        "level": level, "noise_draws": noise_draws,
        "checks": {"jsd": "JSD ≤ τ or ≤ the p95 of the JSD between the prediction and fresh "
                          "full runs of as many passes, drawn from the fitted model",
                   "worst": f"observed minimum inside the {level:.0%} prediction interval for the "
                            "minimum of that many passes, from the minima of the fresh full runs "
                            "(ties count as inside)",
                   "mean": "|observed − predicted mean| within the two-sided 95% Student-t bound "
                           "(Welch–Satterthwaite df) of the combined standard error (estimate's "
                           "own, full run's SD/√R, Monte Carlo)",
                   "reference": "JSD between the full run's even and odd passes ≤ τ or ≤ the p95 "
                                "of the same split of fresh runs of a model fitted to the full "
                                "run itself (a stationary twin)",
                   "fresh_full_runs": f"{noise_draws} sets of as many passes as the full run, "
                                      "each sharing one draw of the estimate's own error"},
        "passes": {"estimate": m_est.n_passes, "full": m_full.n_passes},
        "tq_inf": {"estimate": float(np.mean(tailquality.no_limit_quality(m_est.ok, synth))),
                   "full": float(np.mean(tailquality.no_limit_quality(m_full.ok, full_metric)))},
        "thresholds": rows, "estimate_self_checks": self_checks,
        "reference_agreement": {
            "agrees": all(r["reproduces"] is not False for r in rows),
            "message": ("; ".join(sentences) if sentences else
                        "the full run agrees with itself at every threshold: its even and odd "
                        "passes differ no more than two halves of a stationary run like it")},
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
        # LoadGen's verdict with its reasons (runs captured before it was recorded: formed
        # from the same logs), so INVALID never stands without why
        v = t.get("verdict") or records.verdict(lg, t.get("effective_settings"))
        view.append({"pass": t["pass"], "validity": lg.get("result_validity"),
                     "verdict": records.format_verdict(v), "reasons": list(v.get("reasons") or []),
                     "fix": v.get("fix"),
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
        if name == "self_check":
            hits += [f"estimate's {c['verdict']}" for c in doc.get("estimate_self_checks", {}).values()
                     if c.get("ok") is False]
            continue
        for row in doc["thresholds"]:
            if name == "worst_outside" and not row["worst_inside"]:
                lo, hi = row["worst_interval"]
                hits.append(f"{row['label']}: observed worst case {row['observed']['min']:.4f} "
                            f"outside the predicted interval [{lo:.4f}, {hi:.4f}]")
            elif name == "no_match" and row["match"] == "no":
                hits.append(f"{row['label']}: prediction does not match (JSD {row['jsd']:.4f})")
            elif name == "mean_outside" and not row["mean_within"]:
                hits.append(f"{row['label']}: mean differs by {row['mean_z']:+.2f} SE")
            elif name == "reference_unstable" and row.get("reproduces") is False:
                hits.append(f"{row['label']}: the full run does not reproduce itself "
                            f"(split-half JSD {row['split_jsd']:.4f})")
            elif op:
                x = abs(row[name]) if name in ("mean_diff", "mean_z") else row[name]
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
                 f"{'JSD':>6} {'floor95':>7} {'match':>18} | {'worst interval':>17} {'in':>3} | "
                 f"{'Δmean/SE':>8} | {'ref split':>9} {'floor95':>7}")
    for r in doc["thresholds"]:
        p, o = r["predicted"], r["observed"]
        lo, hi = r["worst_interval"]
        split = "—" if r.get("split_jsd") is None else f"{r['split_jsd']:.4f}"
        sfloor = "—" if r.get("split_floor_p95") is None else f"{r['split_floor_p95']:.4f}"
        lines.append(
            f"{r['label']:>6} {r['theta_ns'] / 1e6:>8.3f} {r['inferences_estimate']:>7}/{r['inferences_full']:<9} "
            f"{r['ratio']:>6.1f} | {p['min']:>8.4f} {p['p5']:>7.4f} {p['mean']:>7.4f} {p['max']:>7.4f} | "
            f"{o['min']:>7.4f} {o['p5']:>7.4f} {o['mean']:>7.4f} {o['max']:>7.4f} | {r['jsd']:>6.4f} "
            f"{r['noise_floor_p95']:>7.4f} {r['match']:>18} | [{lo:.4f}, {hi:.4f}] "
            f"{'yes' if r['worst_inside'] else 'NO':>3} | {r['mean_z']:>+8.2f} | {split:>9} {sfloor:>7}")
    first = doc["thresholds"][0] if doc["thresholds"] else None
    if first:
        lines.append(f"worst interval: {first['worst_level']:.1%} prediction interval for the minimum "
                     f"of {doc['passes']['full']} passes; Δmean/SE: passes within its t bound (±{first['mean_bound']:.2f} "
                     "here); ref split: "
                     "JSD between the full run's even and odd passes")
    for name, c in doc.get("estimate_self_checks", {}).items():
        lines.append(f"estimate's self-check, {c['verdict']}")
    lg = doc["loadgen"]
    for v in lg["performance_tests"]:
        pl = v["percentile_latency_ns"]
        lines.append(f"LoadGen (full run, performance test): {v.get('verdict') or v['validity']}; early "
                     f"stopping {'met' if v['early_stopping_met'] else 'not met'}, p{(v['target_percentile'] or 0) * 100:g} "
                     f"latency {pl / 1e6 if pl else float('nan'):.3f} ms over {v['query_count']} queries")
        if v.get("fix"):
            lines.append(f"  to make it VALID: {v['fix']}")
    if lg["passes_percentile_latency_ns_loadgen_rule"]:
        lines.append("full run's passes, LoadGen's percentile rule: " + ", ".join(
            f"p{k[:-3]} {v / 1e6:.3f} ms" for k, v in lg["passes_percentile_latency_ns_loadgen_rule"].items()))
    return "\n".join(lines)


def write_compare(doc, path):
    return records.write_result(os.path.dirname(path) or ".", os.path.basename(path),
                                COMPARE_FORMAT, COMPARE_SCHEMA_VERSION,
                                {k: v for k, v in doc.items() if k not in ("format", "schema_version")})
