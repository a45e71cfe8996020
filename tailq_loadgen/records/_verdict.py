"""LoadGen's verdict on one test, in full: VALID/INVALID with every reason it logged, the
scenario's own metric, early stopping — and ``results.json``, the versioned file that says
so beside LoadGen's own logs.

The metric is the one MLPerf's submission checker reads (``RESULT_FIELD`` of
``tools/submission``): SingleStream the early-stopping estimate of the 90th-percentile
latency, MultiStream that of the 99th-percentile per-query latency, Server the completed
samples per second, Offline the samples per second. The plain percentile is kept beside
the estimate.

Format history of ``results.json`` (``schema_version``):

* 1 — first version (tailq 0.1.0).
"""

import json
import os
import re

from ._analysis_file import read_result, write_result

RESULTS = "results.json"
RESULTS_FORMAT = "tailq-loadgen-results"
RESULTS_SCHEMA_VERSION = 1

# scenario → (detail-log key of the metric, what it is, unit)
METRIC = {
    "SingleStream": ("early_stopping_latency_ss", "latency", "ns"),
    "MultiStream": ("early_stopping_latency_ms", "per-query latency", "ns"),
    "Server": ("result_completed_samples_per_sec", "completed samples per second", "samples/s"),
    "Offline": ("result_samples_per_second", "samples per second", "samples/s"),
}


def _ordinal(p):
    return f"{p * 100:g}th"


def _sentences(text):
    """LoadGen's bulleted text (`` * a.  * b.``, wrapped) as clean sentences."""
    parts = [re.sub(r"\s+", " ", p).strip().rstrip(".") for p in (text or "").split("*")]
    return [p for p in parts if p]


def loadgen_messages(detail_path):
    """``(errors, warnings)``: the text of every record LoadGen flagged in its detail log."""
    errors, warnings = [], []
    try:
        f = open(detail_path, encoding="utf-8", errors="replace")
    except OSError:
        return errors, warnings
    with f:
        for line in f:
            if not line.startswith(":::MLLOG ") or '"is_' not in line:
                continue
            try:
                rec = json.loads(line[len(":::MLLOG "):])
                meta = rec.get("metadata") or {}
            except (ValueError, AttributeError):
                continue
            if meta.get("is_error") or meta.get("is_warning"):
                text = re.sub(r"\s+", " ", str(rec.get("value"))).strip()
                (errors if meta.get("is_error") else warnings).append(text)
    return errors, warnings


def verdict(result, effective=None, *, errors=None, warnings=None):
    """A plain dict: LoadGen's verdict on a test, from its parsed detail log.

    ``result``: ``records.loadgen_result(detail)``; ``effective``: the test's
    ``effective_*`` settings. Tests without a performance phase (AccuracyOnly) get
    ``validity`` None and no metric.
    """
    result, effective = result or {}, effective or {}
    scenario = result.get("effective_scenario") or effective.get("scenario")
    pct = result.get("effective_target_latency_percentile")
    errors = list(result.get("errors") or []) if errors is None else list(errors)
    out = {"validity": result.get("result_validity"), "scenario": scenario,
           "mode": result.get("effective_test_mode") or effective.get("test_mode"),
           "checks": {}, "reasons": [], "metric": None, "early_stopping": None,
           "advice": (result.get("result_invalid_reason") or "").strip() or None,
           "errors": errors, "warnings": list(warnings or []),
           "query_count": result.get("result_query_count")}
    if out["validity"] is None:
        return out
    min_s = (effective.get("min_duration_ms") or 0) / 1e3
    min_q = effective.get("min_query_count")
    checks = out["checks"]
    if "result_perf_constraints_met" in result:
        checks["latency bound"] = bool(result["result_perf_constraints_met"])
    checks["min duration"] = bool(result.get("result_min_duration_met"))
    checks["min queries"] = bool(result.get("result_min_queries_met"))
    checks["early stopping"] = bool(result.get("early_stopping_met"))
    reasons = out["reasons"]
    table = result.get("percentile_per_query_latency_ns") if scenario == "MultiStream" else None
    table = table or result.get("percentile_latency_ns") or {}
    plain = table.get(f"{pct * 100:.2f}") if pct else None
    if checks.get("latency bound") is False:
        target = effective.get("target_latency_ns")
        reasons.append(f"latency bound not met: the {_ordinal(pct)}-percentile latency "
                       f"{_ms(plain)} is over the target {_ms(target)} (lower the target QPS)")
    if not checks["min duration"]:
        reasons.append(f"min duration not met: the test ended before its {min_s:g} s "
                       f"(min_duration){_why_short(errors, effective)}")
    if not checks["min queries"]:
        reasons.append(f"min queries not met: {out['query_count']} queries of the "
                       f"{min_q} required (min_query_count)")
    es_text = _sentences(result.get("early_stopping_result"))
    if scenario != "Offline":
        out["early_stopping"] = {"met": checks["early stopping"], "lines": es_text,
                                 "percentile": pct,
                                 "estimate_ns": result.get(METRIC["SingleStream"][0] if scenario == "SingleStream"
                                                           else "early_stopping_latency_ms") or None}
        if not checks["early stopping"]:
            reasons.append("early stopping not met: " + "; ".join(es_text))
    for text, count in _distinct(errors):
        reasons.append(f"LoadGen error{f' (×{count})' if count > 1 else ''}: {text}")
    out["fix"] = _fix(checks, errors, scenario, effective) if out["validity"] != "VALID" else None
    key, what, unit = METRIC.get(scenario, (None, None, None))
    if key is not None:
        value = result.get(key)
        if scenario in ("SingleStream", "MultiStream"):
            name = f"{_ordinal(pct)}-percentile {what}" if pct else what
            if not value:  # too few queries for an early-stopping estimate
                value, source = plain, "plain percentile (too few queries for early stopping)"
            else:
                source = "early-stopping estimate"
            out["metric"] = {"name": name, "key": key, "value": value, "unit": unit,
                             "source": source, "plain_percentile_ns": plain}
        else:
            out["metric"] = {"name": what, "key": key, "value": value, "unit": unit,
                             "source": "LoadGen"}
            if scenario == "Server":
                out["metric"].update(percentile=pct, percentile_latency_ns=plain,
                                     target_latency_ns=effective.get("target_latency_ns"),
                                     scheduled_samples_per_sec=result.get("result_scheduled_samples_per_sec"))
    return out


def _distinct(messages):
    """``[(first text, count)]`` of messages that differ in more than their numbers (LoadGen
    logs one per internal test in FindPeakPerformance)."""
    seen = {}
    for m in messages:
        key = re.sub(r"\d+", "#", m)
        if key in seen:
            seen[key][1] += 1
        else:
            seen[key] = [m, 1]
    return [tuple(v) for v in seen.values()]


def _fix(checks, errors, scenario, effective):
    """What to change for a VALID test, from the cause (LoadGen's advice names only the
    setting it would move, even when the test ended for another reason)."""
    text = " ".join(errors).lower()
    fixes = []
    if "max query count reached" in text and not checks.get("min duration", True):
        fixes.append(f"raise or drop the max query count ({effective.get('max_query_count')}, "
                     "--max-queries/--count): it ended the test before its minimum duration, "
                     "or lower the duration (--time)")
    elif "ran out of generated queries" in text:
        target = "target QPS" if scenario in ("Server", "Offline") else "expected latency"
        fixes.append(f"let tailq measure the {target} at start (drop it from user.conf and "
                     "--qps/--max-latency), or set one closer to the real one")
    elif not checks.get("min duration", True):
        fixes.append("give the test more time or queries (--time, the target QPS)")
    if checks.get("latency bound") is False:
        fixes.append("lower the Server target QPS (--qps) or raise the latency bound "
                     "(user.conf target_latency)")
    if not checks.get("early stopping", True):
        fixes.append("run more queries (--time or --max-queries) so early stopping can hold")
    if not checks.get("min queries", True) and not fixes:
        fixes.append("run at least min_query_count queries (--max-queries, --time)")
    return "; ".join(fixes) or None


def _why_short(errors, effective):
    text = " ".join(errors).lower()
    if "ran out of generated queries" in text:
        return (" because LoadGen ran out of the queries it had generated (its expected "
                "latency or target QPS was set for a slower system)")
    if "max query count reached" in text:
        return f" because it reached its max_query_count ({effective.get('max_query_count')})"
    return ""


def _ms(ns):
    return "—" if ns is None else f"{ns / 1e6:.3f} ms"


def format_metric(m):
    """``90th-percentile latency 0.123 ms (early-stopping estimate; plain 0.120 ms)``."""
    if not m or m.get("value") is None:
        return None
    if m["unit"] == "ns":
        text = f"{m['name']} {_ms(m['value'])} ({m['source']}"
        if m.get("plain_percentile_ns") is not None and m["source"] == "early-stopping estimate":
            text += f"; plain percentile {_ms(m['plain_percentile_ns'])}"
        return text + ")"
    text = f"{m['name']} {m['value']:,.1f}"
    if m.get("percentile_latency_ns") is not None:
        text += (f" ({_ordinal(m['percentile'])}-percentile latency "
                 f"{_ms(m['percentile_latency_ns'])}, bound {_ms(m.get('target_latency_ns'))})")
    return text


def format_verdict(v):
    """One line: ``VALID`` or ``INVALID: reason; reason`` (None for a test without one)."""
    if not v or v.get("validity") is None:
        return None
    if v["validity"] == "VALID":
        return "VALID"
    return "INVALID: " + ("; ".join(v["reasons"]) or "LoadGen gave no reason")


def record_verdict(lg_dir, result, effective, *, pass_index, extra=None):
    """The verdict of the test whose logs are in ``lg_dir``; writes ``results.json`` there."""
    errors, warnings = loadgen_messages(os.path.join(lg_dir, "mlperf_log_detail.txt"))
    v = verdict(result, effective, errors=errors, warnings=warnings)
    write_result(lg_dir, RESULTS, RESULTS_FORMAT, RESULTS_SCHEMA_VERSION,
                 {"pass": pass_index, **(extra or {}), **v,
                  "percentile_latency_ns": (result or {}).get("percentile_latency_ns"),
                  "effective_settings": effective})
    return v


def read_results(lg_dir):
    """``results.json`` of a LoadGen directory (a UserError names a missing or bad one)."""
    return read_result(os.path.join(lg_dir, RESULTS), RESULTS_FORMAT, RESULTS_SCHEMA_VERSION,
                       missing="tests captured by this tailq write one beside LoadGen's logs")
