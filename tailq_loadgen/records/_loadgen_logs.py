"""Readers of LoadGen's own files: the trace (per-sample latencies) and the detail log.

Both are streamed line by line: the trace is not strict JSON and can be gigabytes long.
"""

import array
import json
import re

import numpy as np

from .._errors import UserError

# One "Sample" begin event. LoadGen writes the keys in this order; the JSON fallback below
# covers any other writer.
_SAMPLE_RE = re.compile(
    rb'"sample_seq":(\d+),"query_seq":(\d+),"sample_idx":(\d+),'
    rb'"issue_start_ns":(-?\d+),"complete_ns":(-?\d+)')

TRACE_FIELDS = ("sample_seq", "query_seq", "sample_idx", "issue_start_ns", "complete_ns")


def read_trace_samples(path):
    """Per-sample events of ``mlperf_log_trace.json`` as int64 arrays, in file order.

    ``complete_ns`` is LoadGen's latency of the sample (completion minus scheduled time);
    ``issue_start_ns`` is how late LoadGen issued it after its scheduled time.
    """
    cols = [array.array("q") for _ in TRACE_FIELDS]  # 8 bytes per value: bounded memory
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise UserError(f"{path}: cannot read LoadGen's trace ({exc.strerror}); "
                        "was the run made with the trace enabled?") from None
    with f:
        empty = True
        for lineno, line in enumerate(f, 1):
            empty = False
            if b'"Sample"' not in line or b'"ph":"b"' not in line:
                continue
            m = _SAMPLE_RE.search(line)
            if m is not None:
                values = m.groups()
            else:
                values = _sample_from_json(line, path, lineno)
            for col, v in zip(cols, values):
                col.append(int(v))
    if empty:
        raise UserError(f"{path}: LoadGen's trace is empty; was the run made with the trace "
                        "enabled (LogSettings.enable_trace)?")
    return {name: np.frombuffer(col, dtype=np.int64) if len(col) else np.zeros(0, np.int64)
            for name, col in zip(TRACE_FIELDS, cols)}


def _sample_from_json(line, path, lineno):
    try:
        args = json.loads(line.rstrip().rstrip(b","))["args"]
        values = tuple(int(args[k]) for k in TRACE_FIELDS)
        if any(not (-2**63 <= v < 2**63) for v in values):
            raise ValueError("out of range")
        return values
    except (ValueError, KeyError, TypeError, OverflowError):
        raise UserError(f"{path}:{lineno}: unreadable Sample event in LoadGen's trace; "
                        "the file is corrupted: re-run the capture") from None


def read_detail_log(path):
    """``{key: value}`` of every ``:::MLLOG`` line of ``mlperf_log_detail.txt`` (last one wins).

    Unknown keys are kept; lines that are not MLLOG records are skipped.
    """
    out = {}
    errors = []
    try:
        f = open(path, "r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read LoadGen's detail log ({exc.strerror})") from None
    with f:
        for line in f:
            if not line.startswith(":::MLLOG "):
                continue
            try:
                rec = json.loads(line[len(":::MLLOG "):])
                key = rec["key"]
            except (ValueError, KeyError, TypeError):
                continue
            if key == "error_invalid_test_duration" or rec.get("metadata", {}).get("is_error"):
                errors.append(f"{key}: {rec.get('value')}")
            out[key] = rec.get("value")
    if errors:
        out["_errors"] = errors
    return out


_PERCENTILE_KEY = re.compile(r"result_(\d+\.\d+)_percentile_(per_query_)?latency_ns")


def loadgen_result(detail):
    """LoadGen's own verdict and latency figures, from a parsed detail log."""
    percentiles, per_query = {}, {}
    for key, value in detail.items():
        m = _PERCENTILE_KEY.fullmatch(key)
        if m:
            (per_query if m.group(2) else percentiles)[m.group(1)] = value
    keep = ("result_validity", "result_perf_constraints_met", "result_min_duration_met", "result_min_queries_met",
            "early_stopping_met", "early_stopping_result", "result_invalid_reason",
            "result_query_count", "result_min_latency_ns", "result_max_latency_ns",
            "result_mean_latency_ns", "result_samples_per_second",
            "result_scheduled_samples_per_sec", "result_completed_samples_per_sec",
            "result_overlatency_query_count", "result_qps_with_loadgen_overhead",
            "result_qps_without_loadgen_overhead", "early_stopping_latency_ns",
            "early_stopping_latency_ss", "early_stopping_latency_ms",
            "effective_target_latency_percentile", "effective_scenario", "effective_test_mode")
    out = {k: detail[k] for k in keep if k in detail}
    out["percentile_latency_ns"] = percentiles
    if per_query:
        out["percentile_per_query_latency_ns"] = per_query
    if "_errors" in detail:
        out["errors"] = detail["_errors"]
    return out


def effective_settings(detail):
    return {k[len("effective_"):]: v for k, v in detail.items() if k.startswith("effective_")}


_ACC_RE = re.compile(rb'"seq_id"\s*:\s*(\d+)\s*,\s*"qsl_idx"\s*:\s*(\d+)\s*,\s*"data"\s*:\s*"([0-9A-Fa-f]*)"')


def iter_accuracy_log(path):
    """``(seq_id, qsl_idx, bytes)`` per entry of ``mlperf_log_accuracy.json``, streamed.

    A line that is neither an entry nor JSON punctuation is an error naming the line; an
    odd-length or non-hex payload too.
    """
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise UserError(f"{path}: cannot read LoadGen's accuracy log ({exc.strerror})") from None
    with f:
        seen_any = False
        for lineno, line in enumerate(f, 1):
            seen_any = True
            stripped = line.strip()
            if stripped in (b"", b"[", b"]", b"],", b"[]"):
                continue
            m = _ACC_RE.search(stripped)
            if m is None or len(m.group(3)) % 2:
                raise UserError(f"{path}:{lineno}: not an accuracy-log entry; the file is "
                                "corrupted or truncated: re-run LoadGen or drop this directory")
            yield int(m.group(1)), int(m.group(2)), bytes.fromhex(m.group(3).decode())
        if not seen_any:
            raise UserError(f"{path}: the accuracy log is empty")


REQUIRED_DETAIL_KEYS = ("effective_scenario", "effective_test_mode", "qsl_reported_total_count")


def require_keys(detail, path):
    """Check the keys an import cannot do without: present, and of the kind LoadGen writes."""
    missing = [k for k in REQUIRED_DETAIL_KEYS if k not in detail]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}; not a complete LoadGen detail "
                        "log (was the run cut off?)")
    bad = [k for k in ("effective_scenario", "effective_test_mode")
           if not isinstance(detail[k], str) or not detail[k].strip()]
    count = detail["qsl_reported_total_count"]
    if isinstance(count, bool) or not isinstance(count, int):
        bad.append("qsl_reported_total_count")
    if bad:
        raise UserError(f"{path}: {', '.join(f'{k}={detail[k]!r}' for k in bad)} is not what "
                        "LoadGen writes; the detail log is corrupted — re-run LoadGen or "
                        "restore the file")
