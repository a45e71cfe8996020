"""Readers of LoadGen's own files: the trace (per-sample latencies) and the detail log.

Both are streamed line by line: the trace is not strict JSON and can be gigabytes long.
"""

import array
import json
import math
import os
import re
import stat

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
    _regular(path, "LoadGen's trace")
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
            try:
                for col, v in zip(cols, values):
                    col.append(int(v))
            except (OverflowError, ValueError):
                raise UserError(f"{path}:{lineno}: a number in this Sample event does not fit in "
                                "64 bits; the trace is corrupted: re-run the capture") from None
    if empty:
        raise UserError(f"{path}: LoadGen's trace is empty; was the run made with the trace "
                        "enabled (LogSettings.enable_trace)?")
    return {name: np.frombuffer(col, dtype=np.int64) if len(col) else np.zeros(0, np.int64)
            for name, col in zip(TRACE_FIELDS, cols)}


def _sample_from_json(line, path, lineno):
    try:
        args = json.loads(line.rstrip().rstrip(b","))["args"]
        values = tuple(args[k] for k in TRACE_FIELDS)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise ValueError("not integers")
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
    for key, value, meta in iter_detail_log(path):
        if key == "error_invalid_test_duration" or (isinstance(meta, dict) and meta.get("is_error")):
            errors.append(f"{key}: {str(value)[:500]}")
        out[key] = value
    if errors:
        out["_errors"] = errors
    return out


def iter_detail_log(path):
    """``(key, value, metadata)`` of every ``:::MLLOG`` line of a detail log, in order (a key
    may repeat: FindPeakPerformance logs one ``generic_message`` per step). Lines that are not
    MLLOG records are skipped."""
    _regular(path, "LoadGen's detail log")
    try:
        f = open(path, "r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read LoadGen's detail log ({exc.strerror})") from None
    with f:
        for line in f:
            if not line.startswith(":::MLLOG "):
                continue
            try:
                rec = json.loads(line[len(":::MLLOG "):], parse_constant=_no_constant)
                key = rec["key"]
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            if not isinstance(key, str) or len(key) > 200:
                continue
            yield key, rec.get("value"), rec.get("metadata")


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
    out = {k: detail[k] for k in keep if k in detail and _bounded(detail[k])}
    percentiles = {k: v for k, v in percentiles.items() if _scalar(v)}
    per_query = {k: v for k, v in per_query.items() if _scalar(v)}
    out["percentile_latency_ns"] = percentiles
    if per_query:
        out["percentile_per_query_latency_ns"] = per_query
    if "_errors" in detail:
        out["errors"] = detail["_errors"]
    return out


def effective_settings(detail):
    return {k[len("effective_"):]: v for k, v in detail.items()
            if k.startswith("effective_") and _scalar(v)}


def _scalar(v):
    """A value metadata can hold as one setting: a short string, a 64-bit integer, a finite
    number, a boolean or null (foreign logs may hold anything)."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return -2**63 <= v < 2**64
    if isinstance(v, float):
        return math.isfinite(v)
    return isinstance(v, str) and len(v) <= 10_000


def _bounded(v, depth=0):
    if _scalar(v):
        return True
    if depth < 4 and isinstance(v, list) and len(v) <= 1000:
        return all(_bounded(x, depth + 1) for x in v)
    if depth < 4 and isinstance(v, dict) and len(v) <= 1000:
        return all(isinstance(k, str) and _bounded(x, depth + 1) for k, x in v.items())
    return False


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _regular(path, what):
    try:
        st = os.stat(path)
    except OSError:
        return  # open() below reports it
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path}: {what} is not a regular file (a FIFO or device?); give "
                        "LoadGen's output directory")


_ACC_RE = re.compile(rb'"seq_id"\s*:\s*(\d+)\s*,\s*"qsl_idx"\s*:\s*(\d+)\s*,\s*"data"\s*:\s*"([0-9A-Fa-f]*)"')


def iter_accuracy_log(path):
    """``(seq_id, qsl_idx, bytes)`` per entry of ``mlperf_log_accuracy.json``, streamed.

    A line that is neither an entry nor JSON punctuation is an error naming the line; an
    odd-length or non-hex payload too.
    """
    _regular(path, "LoadGen's accuracy log")
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
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**31:
        bad.append("qsl_reported_total_count")
    if bad:
        raise UserError(f"{path}: {', '.join(f'{k}={detail[k]!r}' for k in bad)} is not what "
                        "LoadGen writes; the detail log is corrupted — re-run LoadGen or "
                        "restore the file")
