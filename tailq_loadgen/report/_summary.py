"""``tailq show``: a run's counts, errors, LoadGen's verdict and our LoadGen-rule percentiles."""

import numpy as np

from ..records import format_metric, format_verdict, verdict
from ..tailquality import early_stopping, loadgen_percentile
from ._systems import system_line

SHOWN_PERCENTILES = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)
STATUSES = ("ok", "error", "timeout", "cancelled")


def summarize_run(run, quality=None):
    """A plain dict describing ``run`` (``quality``: optional ``{"metric": name, "value": x}``)."""
    meta = run.metadata
    status = run["status"]
    passes = run["pass"]
    has_lat = run.has_latency
    per_pass = []
    multistream = meta.get("scenario") == "MultiStream"
    perf = run.performance_mask()
    for test in meta.get("tests", []):
        p = test["pass"]
        sel = passes == p
        counts = {s: int(np.sum(status[sel] == s)) for s in STATUSES}
        ok = sel & (status == "ok") & has_lat
        entry = {"pass": p, "mode": test.get("mode"), "samples": int(sel.sum()),
                 "status_counts": counts, "partial": p in run.partial_passes,
                 "loadgen": test.get("loadgen_result", {}),
                 "latency_source": test.get("latency_source") or meta.get("latency_source"),
                 # runs captured before the verdict was recorded: form it from the same logs
                 "verdict": test.get("verdict") or verdict(test.get("loadgen_result"),
                                                           test.get("effective_settings"))}
        if test.get("mode") == "SubmissionRun":  # LoadGen's figures cover its performance phase
            sel = sel & perf
        lat = _latencies(run, sel & has_lat, multistream)
        if lat.size:
            entry["tailq_percentile_latency_ns"] = {
                f"{q * 100:.2f}": int(v) for q, v in
                zip(SHOWN_PERCENTILES, loadgen_percentile(lat, SHOWN_PERCENTILES))}
        entry["ok_with_latency"] = int(ok.sum())
        es = _early_stopping(meta.get("scenario"), test, lat)
        if es is not None:
            entry["tailq_early_stopping"] = es.as_dict()
        per_pass.append(entry)
    totals = {s: int(np.sum(status == s)) for s in STATUSES}
    pooled = _latencies(run, has_lat, multistream)
    settings = meta.get("settings") or {}
    out = {
        "run_dir": run.path,
        "harness": meta.get("harness", {}).get("name"),
        "model": settings.get("model") or meta.get("harness", {}).get("model"),
        "settings_warnings": list(settings.get("user_conf_warnings") or []),
        "measured_targets": dict(settings.get("measured") or {}),
        "audit": settings.get("audit"),
        "backend": meta.get("backend"),
        "scenario": meta.get("scenario"),
        "mode": meta.get("mode"),
        "status": meta.get("status"),
        "complete": run.complete,
        "abort_reason": meta.get("abort_reason"),
        "latency_source": meta.get("latency_source"),
        "samples": int(len(run)),
        "status_counts": totals,
        "passes": per_pass,
        "percentile_rule": "loadgen sorted[floor(n*p)]" + (" over query latencies"
                                                          if multistream else ""),
        "quality": quality,
        "system": system_line(meta),
        "system_description": {k: meta.get(k) for k in ("system", "versions", "code", "dispatch")},
    }
    if pooled.size:
        out["tailq_percentile_latency_ns"] = {
            f"{q * 100:.2f}": int(v) for q, v in
            zip(SHOWN_PERCENTILES, loadgen_percentile(pooled, SHOWN_PERCENTILES))}
    return out


def _early_stopping(scenario, test, lat):
    """Our recomputation of LoadGen's early stopping for a performance test."""
    if test.get("mode") not in ("PerformanceOnly", "SubmissionRun") or not lat.size:
        return None
    if scenario not in ("SingleStream", "MultiStream", "Server"):
        return None
    lg = test.get("loadgen_result") or {}
    pct = lg.get("effective_target_latency_percentile")
    target = (test.get("effective_settings") or {}).get("target_latency_ns")
    if pct is None or (scenario == "Server" and not target):
        return None
    return early_stopping(lat, scenario, pct, target_latency_ns=target)


def _latencies(run, mask, multistream):
    if not multistream:
        return run["latency_ns"][mask]
    # LoadGen reports MultiStream percentiles over queries: a query's latency is its slowest sample.
    keys = run["pass"][mask].astype(np.int64) * (1 << 40) + run["query_seq"][mask]
    lat = run["latency_ns"][mask]
    if not lat.size:
        return lat
    uniq, inv = np.unique(keys, return_inverse=True)
    out = np.zeros(uniq.size, dtype=np.int64)
    np.maximum.at(out, inv, lat)
    return out


def _ms(ns):
    return f"{ns / 1e6:.3f} ms"


def format_summary(s):
    backend = s["backend"] or {}
    lines = [f"run        {s['run_dir']}",
             f"harness    {s['harness']} ({backend.get('name')} {backend.get('version')}), "
             f"{s['scenario']}, {s['mode']}",
             f"model      {s.get('model')} (the name LoadGen matches user.conf keys on)",
             f"status     {s['status']}" + (f": {s['abort_reason']}" if s["abort_reason"] else ""),
             f"latency    from {s['latency_source']}",
             f"system     {s['system']}"]
    if s.get("audit"):
        lines.append(f"audit      {s['audit'].get('test') or 'audit.config'} "
                     f"({s['audit'].get('path')}) was applied by LoadGen")
    lines += [f"warning    {w}" for w in s.get("settings_warnings") or ()]
    c = s["status_counts"]
    lines.append(f"samples    {s['samples']}: " + ", ".join(f"{c[k]} {k}" for k in STATUSES)
                 + (f"  — {c['error'] + c['timeout']} failed samples are never scored as correct"
                    if c["error"] + c["timeout"] else ""))
    if s.get("quality"):
        q = s["quality"]
        lines.append(f"quality ({q['metric']}): {q['value']:.4f}  (no time limit; failed samples count as wrong)")
    if s.get("tailq_percentile_latency_ns"):
        lines.append(f"latency percentiles, all passes ({s['percentile_rule']}):")
        lines.append("  " + "  ".join(f"p{k}={_ms(v)}" for k, v in s["tailq_percentile_latency_ns"].items()))
    lines.append("per pass:")
    shown = s["passes"]
    if len(shown) > 8:  # a long run: the first and last few passes tell the story
        lines.append(f"  ({len(shown)} passes; the first 3 and the last 3 are shown, "
                     "`tailq show --json` lists all)")
        shown = shown[:3] + shown[-3:]
    for p in shown:
        lines += _pass_lines(p)
    return "\n".join(lines)


def _pass_lines(p):
    counts = ", ".join(f"{v} {k}" for k, v in p["status_counts"].items() if v)
    head = f"  pass {p['pass']} {p['mode']}: {p['samples']} samples ({counts or 'none'})"
    if p["partial"]:
        head += "  [partial: cut off before LoadGen's trace was joined]"
    if p.get("mode") == "FindPeakPerformance":
        head += "  [latencies are the wrapper's: LoadGen's trace restarts in each of its tests]"
    lines = [head]
    v = p.get("verdict") or {}
    text = format_verdict(v)
    if text is not None:
        lines.append(f"    LoadGen: {text}")
        metric = format_metric(v.get("metric"))
        if metric:
            lines.append(f"    {v['scenario']} metric: {metric}")
        if v.get("advice"):
            lines.append(f"    LoadGen's advice: {v['advice']}")
        es = v.get("early_stopping")
        if es:
            lines.append(f"    early stopping: {'met' if es['met'] else 'NOT met'}"
                         + (f" — {'; '.join(es['lines'])}" if es["lines"] else ""))
    lg = p.get("loadgen") or {}
    lg_p = lg.get("percentile_per_query_latency_ns") or lg.get("percentile_latency_ns") or {}
    ours = p.get("tailq_percentile_latency_ns") or {}
    if lg_p:
        lines.append("    LoadGen p50/p90/p99: " + " / ".join(
            _ms(lg_p[k]) for k in ("50.00", "90.00", "99.00") if k in lg_p))
    if ours:
        lines.append("    tailq   p50/p90/p99: " + " / ".join(
            _ms(ours[k]) for k in ("50.00", "90.00", "99.00") if k in ours))
    es = p.get("tailq_early_stopping")
    if es:
        est = f", p{es['percentile'] * 100:g} estimate {_ms(es['estimate_ns'])}" \
            if es["estimate_ns"] is not None else ""
        lines.append(f"    tailq's recomputation of early stopping (LoadGen's rule): "
                     f"{'met' if es['met'] else 'not met'}{est}")
    return lines
