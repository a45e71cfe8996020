"""Guards in front of LoadGen: every setting that reaches ``TestSettings``, checked before
LoadGen sees it.

LoadGen 6.0.17 checks almost nothing (docs/capture.md, "LoadGen's traps"): a zero
``Server.target_qps``, a negative ``target_latency`` or expected latency, or a QPS of 1e-9
crash the process (segfault, exit 139); a NaN or negative QPS silently falls back to 1 query
per second and runs for days; a tiny expected latency makes it pre-generate more queries
than memory holds. Here every value is checked as LoadGen parsed it — whichever source set
it: flags, ``user.conf``, the experiment file, or LoadGen's built-in ``mlperf.conf`` — and
refused with a one-line UserError (exit 2) that names the source.

Pure functions of plain values: no LoadGen, no files (``memory_bytes`` asks the OS).
"""

import math
import os

from .._errors import UserError

MAX_TEST_SECONDS = 7 * 86400     # longer Server schedules are refused (and LoadGen's ns clock ends)
QUERY_BYTES = 400                # LoadGen's memory per pre-generated query (~317 B measured) …
SAMPLE_BYTES = 16                # … plus per sample in it
MAX_COUNT = 2**40
# A negative latency in user.conf wraps around LoadGen's unsigned parser to ~1.8e19 ns:
# latency settings above a day are such wrap-arounds, not targets.
MAX_LATENCY_NS = 86400 * 10**9

# TestSettings attribute → the user.conf key LoadGen reads it from (for the message).
USER_CONF_KEY = {
    "server_target_qps": "target_qps", "offline_expected_qps": "target_qps",
    "single_stream_expected_latency_ns": "target_latency (ms)",
    "multi_stream_expected_latency_ns": "target_latency (ms)",
    "server_target_latency_ns": "target_latency (ms)",
    "single_stream_target_latency_percentile": "target_latency_percentile",
    "multi_stream_target_latency_percentile": "target_latency_percentile",
    "server_target_latency_percentile": "target_latency_percentile",
    "multi_stream_samples_per_query": "samples_per_query",
    "min_duration_ms": "min_duration (ms)", "max_duration_ms": "max_duration (ms)",
}
FLAG = {"min_duration_ms": "--time", "max_duration_ms": "--time", "server_target_qps": "--qps",
        "offline_expected_qps": "--qps", "min_query_count": "--max-queries",
        "max_query_count": "--max-queries"}


class Sources:
    """Where each setting may have come from, to name it in an error."""

    def __init__(self, scenario, user_conf=None, experiment_loadgen=None, overrides=None,
                 before_user_conf=None, mlperf_conf=None, measured=None):
        self.scenario, self.user_conf, self.mlperf_conf = scenario, user_conf, mlperf_conf
        self.experiment = experiment_loadgen or {}
        self.overrides, self.before_user_conf = overrides or {}, before_user_conf or {}
        self.measured = measured or {}

    def name(self, attr, value):
        if attr in self.overrides:
            flag = FLAG.get(attr)
            given = self.overrides[attr]
            return f"{flag} {given:g} ({attr})" if flag and _number(given) \
                else f"setting {attr} = {value!r} (from the command)"
        for section in (self.scenario, "*"):
            if attr in self.experiment.get(section, {}):
                return f"--experiment loadgen.{section}.{attr} = {value!r}"
        if self.user_conf and self.before_user_conf.get(attr, object()) != value:
            key = USER_CONF_KEY.get(attr, attr)
            return (f"--user_conf {self.user_conf}: LoadGen read {attr} = {value!r} from it "
                    f"(key {self.scenario}.{key})")
        if attr in self.measured:
            return f"the target measured at start: {attr} = {value!r}"
        if self.mlperf_conf:
            return f"--mlperf_conf {self.mlperf_conf} (or LoadGen's built-in one): {attr} = {value!r}"
        return f"LoadGen's built-in mlperf.conf: {attr} = {value!r}"


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _refuse(sources, attr, value, rule):
    raise UserError(f"{sources.name(attr, value)}: {rule}; LoadGen does not check this and would "
                    "crash or hang")


def check_test_settings(s, scenario, mode, sources):
    """Check the snapshot ``s`` of a TestSettings (attribute → value) for ``scenario``."""
    def positive(attr, integer=False, upper=None):
        v = s.get(attr)
        if not _number(v) or not math.isfinite(v) or v <= 0 or (upper is not None and v > upper):
            _refuse(sources, attr, v, "must be a positive finite number"
                    + (f" no larger than {upper:g} (a negative user.conf value wraps around "
                       "to a huge one)" if upper is not None else ""))

    def count(attr, lo=0, hi=MAX_COUNT):
        v = s.get(attr)
        if not _number(v) or not math.isfinite(v) or v != int(v) or not lo <= v <= hi:
            _refuse(sources, attr, v, f"must be a whole number in [{lo}, {hi:g}]")

    def fraction(attr, closed=False):
        v = s.get(attr)
        ok = _number(v) and math.isfinite(v) and ((0 <= v <= 1) if closed else (0 < v < 1))
        if not ok:
            _refuse(sources, attr, v, "must lie in [0, 1]" if closed else "must lie strictly between 0 and 1")

    for attr in ("min_duration_ms", "max_duration_ms"):
        count(attr, 0, MAX_TEST_SECONDS * 1000)
    for attr in ("min_query_count", "max_query_count", "accuracy_sample_count_override",
                 "performance_sample_count_override"):
        count(attr)
    fraction("accuracy_log_probability", closed=True)
    count("accuracy_log_sampling_target")
    if scenario == "SingleStream":
        positive("single_stream_expected_latency_ns", upper=MAX_LATENCY_NS)
        fraction("single_stream_target_latency_percentile")
    elif scenario == "MultiStream":
        positive("multi_stream_expected_latency_ns", upper=MAX_LATENCY_NS)
        count("multi_stream_samples_per_query", 1, 2**20)
        fraction("multi_stream_target_latency_percentile")
    elif scenario == "Server":
        positive("server_target_qps")
        positive("server_target_latency_ns", upper=MAX_LATENCY_NS)
        fraction("server_target_latency_percentile")
        count("server_max_async_queries")
    elif scenario == "Offline":
        positive("offline_expected_qps")


def target_qps(s, scenario):
    return {"SingleStream": lambda: 1e9 / s["single_stream_expected_latency_ns"],
            "MultiStream": lambda: 1e9 / s["multi_stream_expected_latency_ns"],
            "Server": lambda: s["server_target_qps"],
            "Offline": lambda: s["offline_expected_qps"]}[scenario]()


def check_schedule(s, scenario, mode, samples, sources, memory_bytes=None):
    """Refuse tests whose schedule LoadGen cannot hold: more pre-generated queries than half
    the memory, or a Server schedule longer than ``MAX_TEST_SECONDS`` (LoadGen's nanosecond
    clock overflows on a 1e-9 QPS). ``samples``: the QSL's size. Call after
    :func:`check_test_settings`."""
    qps = target_qps(s, scenario)
    attr = {"SingleStream": "single_stream_expected_latency_ns",
            "MultiStream": "multi_stream_expected_latency_ns", "Server": "server_target_qps",
            "Offline": "offline_expected_qps"}[scenario]
    spq = int(s.get("multi_stream_samples_per_query") or 1) if scenario == "MultiStream" else 1
    duration = s["min_duration_ms"] / 1000.0
    phases = {"AccuracyOnly": ["accuracy"], "PerformanceOnly": ["performance"],
              "SubmissionRun": ["accuracy", "performance"]}.get(mode, ["performance"])
    for phase in phases:
        if phase == "accuracy":
            queries = max(1, samples // spq) if scenario != "Offline" else 1
            per_query = spq if scenario != "Offline" else samples
            seconds = queries / qps if scenario == "Server" else 0.0
        elif scenario == "Offline":
            queries, per_query = 1, max(s["min_query_count"], 1.1 * duration * qps)
            seconds = 0.0
        else:
            queries, per_query = max(s["min_query_count"], 2 * duration * qps), spq
            seconds = max(duration, s["min_query_count"] / qps) if scenario == "Server" else 0.0
            if s["max_duration_ms"] > 0:
                seconds = min(seconds, s["max_duration_ms"] / 1000.0)
        if seconds > MAX_TEST_SECONDS:
            _refuse(sources, attr, s[attr],
                    f"at {qps:g} queries/s the Server test of {queries:,.0f} queries would take "
                    f"{seconds / 86400:,.3g} days (at most {MAX_TEST_SECONDS // 86400} allowed); "
                    "give a higher target QPS or fewer queries")
        need = queries * (QUERY_BYTES + SAMPLE_BYTES * per_query)
        if memory_bytes and need > memory_bytes / 2:
            _refuse(sources, attr, s[attr],
                    f"LoadGen would pre-generate {queries:,.0f} queries of {per_query:,.0f} "
                    f"samples (~{need / 2**30:,.1f} GiB, more than half of this machine's "
                    f"{memory_bytes / 2**30:,.1f} GiB); set it closer to the system's real "
                    "speed, or shorten the test")


def memory_bytes():
    """Physical memory (os.sysconf), or None where the platform does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_experiment(experiment):
    """tailq's own run options (experiment YAML or ``Experiment(...)``)."""
    def need(name, ok, rule):
        value = getattr(experiment, name)
        if isinstance(value, bool) or not _number(value) or not math.isfinite(value) or not ok(value):
            raise UserError(f"--experiment: {name} = {value!r}: {rule}")

    need("watchdog_timeout_s", lambda v: 0 < v <= 86400, "must be a positive number of seconds (≤ 1 day)")
    need("cancel_grace_s", lambda v: 0 < v <= 86400, "must be a positive number of seconds (≤ 1 day)")
    need("segment_seconds", lambda v: 0 < v <= 3600, "must be a positive number of seconds (≤ 1 hour)")
    need("segment_rows", lambda v: v == int(v) and 1 <= v <= 2**24, "must be a whole number in [1, 16,777,216]")
    need("offline_batch_size", lambda v: v == int(v) and 1 <= v <= 2**20, "must be a whole number ≥ 1")
    need("server_workers", lambda v: v == int(v) and 1 <= v <= 1024, "must be a whole number in [1, 1024]")
    need("warmup_queries", lambda v: v == int(v) and 0 <= v <= 10**6, "must be a whole number ≥ 0")
    if hasattr(experiment, "max_in_flight"):
        need("max_in_flight", lambda v: v == int(v) and 0 <= v <= 4096,
             "must be a whole number in [0, 4096] (0: the backend's default)")
