"""Targets measured at start, and how long a LoadGen test will take, before it runs.

LoadGen's built-in mlperf.conf holds placeholders for the fields a user.conf should set
(``*.SingleStream.target_latency = 10`` ms, ``*.Server.target_qps = 1``, …). With them a
fast SUT runs out of pre-generated queries (INVALID: "ran out of generated queries") and a
Server pass over 719 samples takes 12 minutes. So the warm-up's timing (the backend alone,
before LoadGen starts) gives each scenario's target, applied *before* user.conf, the
experiment file and the flags — any of which, when it sets the field, wins:

* SingleStream / MultiStream expected latency = median warm-up call + LoadGen's round trip
  (≈ 15 µs, docs/capture.md). LoadGen generates queries for twice the minimum duration at
  this latency, so a real latency down to half of it still fills the test.
* Server target QPS = ``SERVER_UTILISATION`` × workers / (median call + the hand-off to a
  worker, ≈ 250 µs): far enough from saturation that the 99th percentile stays under the
  latency bound on a busy machine.
* Offline expected QPS = samples per batch / median batch time: the backend's own
  throughput, an upper bound of the real one, so the single query lasts at least the
  minimum duration.
"""

ROUND_TRIP_NS = 15_000        # LoadGen + wrapper per query, SingleStream (loadgen-facts)
SERVER_HANDOFF_NS = 250_000   # issue thread → worker thread, GIL included (measured p50)
SERVER_UTILISATION = 0.3
TRACE_BYTES_PER_SAMPLE = 700  # LoadGen's trace on disk
TEST_OVERHEAD_S = 0.12        # starting and finishing one LoadGen test (measured: 20-sample passes)
QUERY_BYTES = 317             # LoadGen's memory per pre-generated query
MEASURED_ATTRS = {"SingleStream": "single_stream_expected_latency_ns",
                  "MultiStream": "multi_stream_expected_latency_ns",
                  "Server": "server_target_qps", "Offline": "offline_expected_qps"}


def _round(x, digits=3):
    from math import floor, log10

    return x if x <= 0 else round(x, -int(floor(log10(x))) + digits - 1)


def measured_targets(scenario, warmup, *, workers=1):
    """``{TestSettings attribute: value}`` from the warm-up (empty when it timed nothing)."""
    median_ms = (warmup or {}).get("median_ms")
    batch = int((warmup or {}).get("batch_size") or 1)
    if not median_ms or median_ms <= 0:
        return {}
    call_ns = median_ms * 1e6
    if scenario in ("SingleStream", "MultiStream"):
        return {MEASURED_ATTRS[scenario]: int(_round(call_ns + ROUND_TRIP_NS))}
    if scenario == "Server":
        return {"server_target_qps": float(_round(SERVER_UTILISATION * max(1, workers) * 1e9
                                                  / (call_ns + SERVER_HANDOFF_NS)))}
    return {"offline_expected_qps": float(_round(batch * 1e9 / call_ns))}


def describe_targets(measured, settings, warmup):
    """One line: what was measured, and what the test uses (another source may have won)."""
    if not measured:
        return None
    parts = []
    for attr, value in measured.items():
        used = settings.get(attr)
        unit = " ns" if attr.endswith("_ns") else " QPS"
        tail = "used" if used == value else f"not used: {used:g}{unit} set by user.conf or flags"
        parts.append(f"{attr} = {value:g}{unit} ({tail})")
    return (f"measured at start ({warmup.get('queries')} warm-up calls of "
            f"{warmup.get('batch_size')} sample(s), median {warmup['median_ms']:.3f} ms): "
            + "; ".join(parts))


def _per_sample_s(scenario, settings, warmup):
    """Seconds per sample the SUT will take, from the warm-up (None when unknown)."""
    median_ms = (warmup or {}).get("median_ms")
    batch = int((warmup or {}).get("batch_size") or 1)
    if not median_ms:
        return None
    per_call = median_ms / 1e3 + (ROUND_TRIP_NS / 1e9 if scenario != "Offline" else 0)
    return per_call / batch


def estimate_test(scenario, mode, settings, *, samples, warmup=None, pace_s=None):
    """What one LoadGen test will do: ``{"samples", "seconds", "trace_bytes", "why"}``.

    ``samples`` is the dataset size (an AccuracyOnly pass issues each once). ``seconds`` is
    an estimate (None when it cannot be made), ``why`` names what sets the length.
    ``pace_s``: seconds per sample that an earlier test of this session took, LoadGen and
    recording included — better than the warm-up's backend-only timing, which on a busy
    machine can miss LoadGen's round trip by an order of magnitude.
    """
    per_sample = pace_s or _per_sample_s(scenario, settings, warmup)
    spq = int(settings.get("multi_stream_samples_per_query") or 8) if scenario == "MultiStream" else 1
    if mode == "AccuracyOnly":
        n = int(settings.get("accuracy_sample_count_override") or 0) or samples
        if scenario == "Server":
            seconds = n / max(settings.get("server_target_qps") or 1.0, 1e-9)
            why = f"{n:,} samples at {settings.get('server_target_qps'):g} QPS"
        else:
            seconds = n * per_sample if per_sample else None
            why = f"{n:,} samples" + (" at the pace of the last pass" if pace_s else "")
        return _plan(n, None if seconds is None else seconds + TEST_OVERHEAD_S, why)
    if mode == "SubmissionRun":
        acc = estimate_test(scenario, "AccuracyOnly", settings, samples=samples, warmup=warmup)
        perf = estimate_test(scenario, "PerformanceOnly", settings, samples=samples, warmup=warmup)
        total = None if None in (acc["seconds"], perf["seconds"]) else acc["seconds"] + perf["seconds"]
        return _plan(acc["samples"] + perf["samples"], total,
                     f"accuracy phase ({acc['why']}), then {perf['why']}")
    min_s = (settings.get("min_duration_ms") or 0) / 1e3
    max_s = (settings.get("max_duration_ms") or 0) / 1e3 or None
    min_q = int(settings.get("min_query_count") or 0)
    max_q = int(settings.get("max_query_count") or 0) or None
    if scenario == "Offline":
        qps = settings.get("offline_expected_qps") or 1.0
        n = max(min_q, int(1.1 * min_s * qps))
        seconds = n * per_sample if per_sample else None
        why = f"one query of {n:,} samples (1.1 × {min_s:g} s × {qps:g} expected QPS)"
        return _plan(n, seconds, why)
    if scenario == "Server":
        rate = settings.get("server_target_qps") or 1.0
    else:
        latency_s = (per_sample * spq) if per_sample else \
            (settings.get(MEASURED_ATTRS[scenario]) or 0) / 1e9
        rate = 1.0 / latency_s if latency_s else None
    if rate is None:
        return _plan(None, None, f"≥ {min_s:g} s and ≥ {min_q:,} queries")
    seconds = max(min_s, min_q / rate)
    why = (f"≥ {min_s:g} s (min_duration)" if min_s >= min_q / rate
           else f"≥ {min_q:,} queries (min_query_count)")
    if max_s is not None and seconds > max_s:
        seconds, why = max_s, f"{max_s:g} s (max_duration)"
    queries = int(seconds * rate)
    if max_q is not None and queries > max_q:
        queries, seconds, why = max_q, max_q / rate, f"{max_q:,} queries (max_query_count)"
    return _plan(queries * spq, seconds, why)


def _plan(samples, seconds, why):
    return {"samples": samples, "seconds": seconds, "why": why,
            "trace_bytes": None if samples is None else samples * TRACE_BYTES_PER_SAMPLE}


def format_duration(seconds):
    if seconds is None:
        return "unknown"
    if seconds < 0.1:
        return "< 0.1 s"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(n):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def describe_tests(label, plans):
    """``label ≈ 3.1 s (719 samples at 1,200 QPS each)`` for a list of test plans."""
    seconds = None if any(p["seconds"] is None for p in plans) else sum(p["seconds"] for p in plans)
    whys = sorted({p["why"] for p in plans})
    each = f"{whys[0]} each" if len(whys) == 1 and len(plans) > 1 else "; ".join(whys)
    trace = sum(p["trace_bytes"] or 0 for p in plans)
    tail = f"; LoadGen's trace ≈ {format_bytes(trace)}" if trace >= 100e6 else ""
    return f"{label} ≈ {format_duration(seconds)} ({each}){tail}"


def tests_label(modes):
    """``5 AccuracyOnly passes``, ``1 PerformanceOnly test``, ``3 tests``."""
    n = len(modes)
    if len(set(modes)) != 1:
        return f"{n} tests"
    if modes[0] == "AccuracyOnly":
        return f"{n} AccuracyOnly pass{'es' if n != 1 else ''}"
    return f"{n} {modes[0]} test{'s' if n != 1 else ''}"
