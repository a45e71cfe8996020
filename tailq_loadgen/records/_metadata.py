"""Typed, documented metadata keys of a run directory (``metadata.json``), validated on read
and on write.

Modelled on pyperf's metadata registry: every key is declared once, here, with its type and
its meaning, and ``docs/record-format.md`` lists them all (a test checks that it does).
Adding a key is one line::

    declare("system.tdp_watts", Nullable(Float(0)), "thermal design power of the CPU (W)")

A path names a key inside the document: ``a.b`` is key ``b`` of the mapping under ``a``;
``tests[].x`` is key ``x`` of every item of the list ``tests``. Keys that are not declared
are kept and checked only as bounded JSON, so a newer tailq of the same schema can add
keys that this one carries through. Validation never trusts the input: depth, sizes,
numbers (finite, 64-bit) and strings are bounded, and a violation is one line naming the
key.
"""

import math
import re

from .._errors import UserError

MAX_DEPTH = 32
MAX_STR = 100_000
MAX_ITEMS = 1_000_000
INT64 = (-(2**63), 2**64 - 1)  # signed or unsigned 64-bit (LoadGen seeds are uint64)
SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline")
MODE_NAMES = ("PerformanceOnly", "AccuracyOnly", "SubmissionRun", "FindPeakPerformance")
RUN_STATUSES = ("running", "complete", "aborted", "interrupted", "failed")


class MetadataError(UserError):
    """A metadata value of the wrong type or out of range (names the key)."""


def _fail(path, problem):
    raise MetadataError(f"{path or 'metadata'}: {problem}")


def _kind(value):
    return "null" if value is None else type(value).__name__


# -- types ------------------------------------------------------------------------------------
class Type:
    text = "any"

    def check(self, value, path, depth):
        raise NotImplementedError


class Str(Type):
    def __init__(self, max_len=MAX_STR, choices=None, pattern=None):
        self.max_len, self.choices = max_len, choices
        self.pattern = re.compile(pattern) if pattern else None
        self.text = ("one of " + ", ".join(repr(c) for c in choices)) if choices else "string"

    def check(self, value, path, depth):
        if not isinstance(value, str):
            _fail(path, f"must be a string, got {_kind(value)}")
        if len(value) > self.max_len:
            _fail(path, f"string of {len(value)} characters (at most {self.max_len})")
        if self.choices is not None and value not in self.choices:
            _fail(path, f"{value[:80]!r} is not one of {', '.join(self.choices)}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            _fail(path, f"{value[:80]!r} is not a valid value here")


class Int(Type):
    def __init__(self, lo=INT64[0], hi=INT64[1]):
        self.lo, self.hi = lo, hi
        self.text = ("integer" if (lo, hi) == INT64 else f"integer ≥ {lo}" if hi == INT64[1]
                     else f"integer in [{lo}, {hi:,}]")

    def check(self, value, path, depth):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, f"must be an integer, got {_kind(value)}")
        if not self.lo <= value <= self.hi:
            _fail(path, f"{value} is outside [{self.lo}, {self.hi}]")


class Float(Type):
    """A finite number (integers are accepted)."""

    def __init__(self, lo=-math.inf, hi=math.inf):
        self.lo, self.hi = lo, hi
        self.text = "finite number" + (f" in [{lo:g}, {hi:g}]" if (lo, hi) != (-math.inf, math.inf) else "")

    def check(self, value, path, depth):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, f"must be a number, got {_kind(value)}")
        if isinstance(value, int):
            Int().check(value, path, depth)
        elif not math.isfinite(value):
            _fail(path, f"{value} is not a finite number")
        if not self.lo <= value <= self.hi:
            _fail(path, f"{value} is outside [{self.lo:g}, {self.hi:g}]")


class Bool(Type):
    text = "boolean"

    def check(self, value, path, depth):
        if not isinstance(value, bool):
            _fail(path, f"must be true or false, got {_kind(value)}")


class Nullable(Type):
    def __init__(self, inner):
        self.inner = inner
        self.text = f"{inner.text}, or null" if " or " in inner.text else f"{inner.text} or null"

    def check(self, value, path, depth):
        if value is not None:
            self.inner.check(value, path, depth)


class ListOf(Type):
    def __init__(self, item, max_len=MAX_ITEMS):
        self.item, self.max_len = item, max_len
        self.text = f"list of ({item.text})" if " or " in item.text else f"list of {item.text}"

    def check(self, value, path, depth):
        if not isinstance(value, list):
            _fail(path, f"must be a list, got {_kind(value)}")
        if len(value) > self.max_len:
            _fail(path, f"list of {len(value)} items (at most {self.max_len})")
        _depth(path, depth)
        for i, v in enumerate(value):
            self.item.check(v, f"{path}[{i}]", depth + 1)


class MapOf(Type):
    """A mapping with free (string) keys and values of one type."""

    def __init__(self, value, max_len=MAX_ITEMS):
        self.value, self.max_len = value, max_len
        self.text = f"mapping of ({value.text})" if " or " in value.text else f"mapping of {value.text}"

    def check(self, value, path, depth):
        if not isinstance(value, dict):
            _fail(path, f"must be a mapping, got {_kind(value)}")
        if len(value) > self.max_len:
            _fail(path, f"mapping of {len(value)} keys (at most {self.max_len})")
        _depth(path, depth)
        for k, v in value.items():
            _key(k, path)
            self.value.check(v, f"{path}.{k}", depth + 1)


class Scalar(Type):
    text = "string, number, boolean or null"

    def check(self, value, path, depth):
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, str):
            Str().check(value, path, depth)
        elif isinstance(value, (int, float)):
            Float().check(value, path, depth)
        else:
            _fail(path, f"must be a string, number, boolean or null, got {_kind(value)}")


class JSON(Type):
    """Any JSON value, bounded: depth, sizes, finite 64-bit numbers."""

    text = "JSON value"

    def check(self, value, path, depth):
        _depth(path, depth)
        if isinstance(value, dict):
            if len(value) > MAX_ITEMS:
                _fail(path, f"mapping of {len(value)} keys (at most {MAX_ITEMS})")
            for k, v in value.items():
                _key(k, path)
                self.check(v, f"{path}.{k}", depth + 1)
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                _fail(path, f"list of {len(value)} items (at most {MAX_ITEMS})")
            for i, v in enumerate(value):
                self.check(v, f"{path}[{i}]", depth + 1)
        else:
            Scalar().check(value, path, depth)


class Record(Type):
    """A mapping whose keys are declared under this key's path (unknown keys: bounded JSON)."""

    text = "mapping (keys below)"

    def check(self, value, path, depth, prefix=None):
        if not isinstance(value, dict):
            _fail(path, f"must be a mapping, got {_kind(value)}")
        _depth(path, depth)
        prefix = path if prefix is None else prefix
        declared = _CHILDREN.get(prefix, {})
        for name, key in declared.items():
            if key.required and name not in value:
                _fail(f"{path}.{name}" if path else name, "is missing")
        for k, v in value.items():
            _key(k, path)
            where = f"{path}.{k}" if path else k
            key = declared.get(k)
            if key is None:
                JSON().check(v, where, depth + 1)
            elif isinstance(key.type, Record):
                key.type.check(v, where, depth + 1, prefix=key.path)
            elif isinstance(key.type, ListOf) and isinstance(key.type.item, Record):
                ListOf(_ItemRecord(key.path + "[]"), key.type.max_len).check(v, where, depth + 1)
            elif isinstance(key.type, Nullable) and isinstance(key.type.inner, Record):
                if v is not None:
                    key.type.inner.check(v, where, depth + 1, prefix=key.path)
            else:
                key.type.check(v, where, depth + 1)


class _ItemRecord(Type):
    def __init__(self, prefix):
        self.prefix = prefix

    def check(self, value, path, depth):
        Record().check(value, path, depth, prefix=self.prefix)


def _depth(path, depth):
    if depth > MAX_DEPTH:
        _fail(path, f"nested deeper than {MAX_DEPTH} levels")


def _key(k, path):
    if not isinstance(k, str) or len(k) > 200:
        _fail(path, "has a key that is not a short string")


# -- the registry -----------------------------------------------------------------------------
class Key:
    __slots__ = ("path", "type", "doc", "required")

    def __init__(self, path, type_, doc, required):
        self.path, self.type, self.doc, self.required = path, type_, doc, required


KEYS = {}        # path -> Key, in declaration order
_CHILDREN = {}   # parent path ("" for the top) -> {name: Key}


def declare(path, type_, doc, required=False):
    """Declare one metadata key (see the module docstring for the path syntax)."""
    if path in KEYS:
        raise ValueError(f"metadata key {path} declared twice")
    parent, _, name = path.rpartition(".")
    key = KEYS[path] = Key(path, type_, doc, required)
    _CHILDREN.setdefault(parent, {})[name] = key
    return key


def to_json(value, path=""):
    """A copy of ``value`` as plain JSON values: NumPy scalars become numbers, tuples and sets
    lists; a non-finite number is an error naming its key (metadata is strict JSON)."""
    if isinstance(value, dict):
        return {k: to_json(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [to_json(v, path) for v in sorted(value, key=repr)]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        _fail(path, f"{value} is not a finite number")
    return value


def validate(meta):
    """Check a whole metadata document; raises MetadataError naming the first bad key."""
    Record().check(meta, "", 0)
    passes = [t["pass"] for t in meta.get("tests", [])]
    if len(set(passes)) != len(passes):
        _fail("tests", "lists a pass twice")
    status, complete = meta.get("status"), meta.get("complete")
    if isinstance(complete, bool) and complete != (status == "complete"):
        _fail("complete", f"is {str(complete).lower()} but status is {status!r}")
    return meta


_STR = Str()
_OPT_STR = Nullable(Str())
_OPT_INT = Nullable(Int())
_COUNT = Int(0)
_DTYPE = Str(16, pattern=r"[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[SU][0-9]{1,6})")
_ISO = Str(64)

# Top level.
declare("format", Str(choices=("tailq-run",)), "always \"tailq-run\"", required=True)
declare("schema_version", Int(1), "version of this format (see the format history)", required=True)
declare("tailq_version", _OPT_STR, "version of tailq that wrote the directory")
declare("origin", Str(choices=("capture", "import")),
        "\"capture\": tailq drove LoadGen; \"import\": built from another harness's LoadGen logs")
declare("imported_from", Nullable(ListOf(_STR)), "import: the LoadGen directories, one per pass")
declare("writer_pid", _OPT_INT, "process id of the tailq process that wrote the directory")
declare("versions", Nullable(MapOf(_OPT_STR)),
        "tailq, mlcommons-loadgen, numpy, pyarrow, scipy, PyYAML versions, and those of the "
        "installed frameworks and servers")
declare("system", Nullable(Record()), "the machine that ran LoadGen (null keys when imported)")
for _name, _type, _doc in (
        ("hostname", _OPT_STR, "host name"), ("platform", _OPT_STR, "platform.platform()"),
        ("machine", _OPT_STR, "CPU architecture"), ("cpu_model", _OPT_STR, "CPU model name"),
        ("cpu_count_logical", _OPT_INT, "logical CPUs"),
        ("cpu_count_physical", _OPT_INT, "physical cores"),
        ("cpu_affinity", _OPT_INT, "CPUs this process may run on"),
        ("memory_total_bytes", _OPT_INT, "physical memory"),
        ("python", _OPT_STR, "Python version"),
        ("python_implementation", _OPT_STR, "CPython, PyPy, …"),
        ("note", _OPT_STR, "why keys are null (an import)"),
        # the system description for vendor reports (docs/vendor-evaluation.md)
        ("os", _OPT_STR, "operating system (os-release PRETTY_NAME)"),
        ("kernel", _OPT_STR, "kernel release"),
        ("cpu_vendor", _OPT_STR, "CPU vendor"),
        ("cpu_family_model_stepping", Nullable(ListOf(Scalar(), 3)), "CPU family, model, stepping"),
        ("cpu_flags_avx512", Nullable(ListOf(Str(64))), "AVX-512 flags of the CPU"),
        ("smt_threads_per_core", _OPT_INT, "hardware threads per core"),
        ("smt_active", Nullable(Bool()), "whether SMT is active"),
        ("numa_nodes", _OPT_INT, "NUMA nodes"),
        ("cpu_freq_mhz", Nullable(MapOf(Nullable(Float()))), "current, min and max CPU frequency (MHz)"),
        ("cpu_freq_advertised_hz", Nullable(Float()), "advertised CPU frequency (Hz)"),
        ("cpu_governor", Nullable(JSON()), "cpufreq governor(s)"),
        ("cache_bytes", Nullable(MapOf(Scalar())), "L1d, L2, L3 cache sizes"),
        ("memory_available_bytes", _OPT_INT, "memory available when the run started"),
        ("load_average_1m", Nullable(Float()), "1-minute load average when the run started"),
        ("accelerators", Nullable(ListOf(MapOf(Scalar()))), "GPUs and their drivers (nvidia-smi)"),
        ("thread_env", Nullable(MapOf(Str())), "thread environment variables (OMP_NUM_THREADS …)")):
    declare(f"system.{_name}", _type, _doc)
declare("code", Nullable(ListOf(MapOf(Scalar()))),
        "per file defining the harness's backend and dataset: file, repository, commit, dirty (git)")
declare("dispatch", Nullable(MapOf(Scalar())),
        "how samples reached the backend: mode (inline, worker-threads, async-threads, async), "
        "max_in_flight, max_in_flight_requested, request_batch_size")
declare("harness", Record(), "what was measured", required=True)
for _name, _type, _doc in (
        ("name", _STR, "harness name"), ("task", _OPT_STR, "task in words"),
        ("runtime", _OPT_STR, "framework"), ("model", _OPT_STR, "model name (LoadGen's config key)"),
        ("metric", _OPT_STR, "quality metric name"), ("seed", _OPT_INT, "the harness's seed"),
        ("threads", Nullable(JSON()), "thread settings the backend reports"),
        ("params", Nullable(MapOf(JSON())), "the harness's parameters"),
        ("source", _OPT_STR,
         "how the harness was named on the command line — provenance text only: no reader "
         "imports or calls it"),
        ("args", Nullable(MapOf(JSON())), "the --harness-arg values it was built with (data only)"),
        ("output", Nullable(Record()), "dtype and shape the harness declares for one output"),
        ("dataset", _OPT_STR, "dataset class"),
        ("dataset_size", Nullable(Int(0)), "items in the harness's dataset")):
    declare(f"harness.{_name}", _type, _doc, required=_name == "name")
declare("harness.remote", Nullable(JSON()),
        "--remote: url, protocol, address, model, server name/version, model metadata")
declare("harness.local_backend", Nullable(JSON()), "--remote: the local harness's runtime and threads")
declare("harness.output.dtype", Nullable(_DTYPE), "NumPy dtype string")
declare("harness.output.shape", Nullable(ListOf(Int(0), 8)), "per-sample shape")
declare("backend", Nullable(Record()), "the backend's name() and version()")
declare("backend.name", _OPT_STR, "backend name()")
declare("backend.version", _OPT_STR, "backend version()")
declare("threads", Nullable(JSON()), "the thread settings the harness used")
declare("scenario", Str(choices=SCENARIO_NAMES), "LoadGen scenario", required=True)
declare("mode", Nullable(Str(choices=MODE_NAMES + ("mixed",))),
        "LoadGen test mode of every test, or \"mixed\"")
declare("tests_requested", Nullable(ListOf(Str(choices=MODE_NAMES))), "modes of the tests asked for")
declare("sample_count", Int(1, 2**31 - 1), "dataset items the QSL exposed (rows of samples.parquet)",
        required=True)
declare("performance_sample_count", _OPT_INT, "LoadGen's performance sample count")
declare("latency_source", Str(choices=("loadgen_trace", "wrapper")),
        "where latency_ns comes from", required=True)
declare("latency_note", _OPT_STR, "why the latency source matters (trace-less runs)")
declare("settings", Nullable(Record()), "LoadGen settings and their sources")
declare("settings.model", _OPT_STR, "the model name LoadGen matched user.conf keys on")
declare("settings.sources", Nullable(ListOf(_STR)), "sources in order of precedence")
declare("settings.requested", Nullable(MapOf(Scalar())), "every TestSettings attribute as built")
declare("settings.experiment", Nullable(JSON()), "tailq's experiment options")
declare("settings.overrides", Nullable(MapOf(Scalar())), "TestSettings set by command-line flags")
declare("settings.measured", Nullable(MapOf(Scalar())), "targets measured at start (from the warm-up)")
declare("settings.user_conf_warnings", Nullable(ListOf(Str())), "user.conf keys that do nothing in this run")
declare("settings.mlperf_conf", _OPT_STR, "the --mlperf_conf file, or null (LoadGen's built-in one)")
declare("settings.audit", Nullable(JSON()), "the audit config LoadGen read (path, test, keys), or null")
declare("seeds", Nullable(Record()), "random seeds")
declare("seeds.loadgen", Nullable(MapOf(Int())), "LoadGen's seeds from mlperf.conf")
declare("seeds.per_pass_seeds", Nullable(Bool()), "whether each pass got its own LoadGen seeds")
declare("seeds.harness", _OPT_INT, "the harness's seed")
declare("warmup", Nullable(MapOf(Scalar())), "warm-up queries before LoadGen started: count, time, errors")
declare("started", Nullable(_ISO), "UTC time the run directory was created (ISO 8601)")
declare("ended", Nullable(_ISO), "UTC time the run finished (ISO 8601), null while running")
declare("status", Str(choices=RUN_STATUSES), "see \"Status\"", required=True)
declare("status_reason", _OPT_STR, "why the run is not complete, in one line")
declare("complete", Bool(), "status == \"complete\"", required=True)
declare("output", Nullable(Record()), "dtype and per-sample shape of the outputs recorded")
declare("output.dtype", Nullable(_DTYPE), "NumPy dtype string of the output bytes, null if it varied")
declare("output.shape", Nullable(ListOf(Int(0), 8)), "per-sample shape, null if it varied")
declare("warnings", ListOf(Str()), "anything the reader should know")
declare("quality", Nullable(Record()),
        "what scores the outputs: null when nothing can (see quality_note)")
declare("quality.metric", _STR, "metric name", required=True)
declare("quality.kind", Str(choices=("scores", "labels")),
        "\"scores\": one score in [0, 1] per sample; \"labels\": prediction and label (F1)",
        required=True)
declare("quality.params", MapOf(Scalar()), "the metric's parameters (e.g. F1's average, n_classes)")
declare("quality.source", _STR, "where the scores came from (the harness's metric at capture, a file)",
        required=True)
declare("quality.passes", ListOf(Int(0)), "passes with a quality file (quality/pass-NNNNN.parquet)")
declare("quality.every_pass", Bool(), "one file (quality/every-pass.parquet) scores every pass")
declare("quality_note", _OPT_STR, "why the run has no quality (no metric, unsupported metric …)")

declare("tests", ListOf(Record()), "one entry per LoadGen test (pass)", required=True)
for _name, _type, _doc in (
        ("pass", Int(0, 2**31 - 1), "index of the test (the pass column)"),
        ("mode", Str(choices=MODE_NAMES), "LoadGen test mode"),
        ("seeds", Nullable(MapOf(Int())), "LoadGen seeds of this test"),
        ("started", Nullable(_ISO), "start (UTC, ISO 8601)"),
        ("ended", Nullable(_ISO), "end (UTC, ISO 8601)"),
        ("loadgen_dir", _OPT_STR, "LoadGen's output directory, relative to the run"),
        ("imported_from", _OPT_STR, "import: the LoadGen directory this pass came from"),
        ("complete", Bool(), "the test ran to its end (nothing cancelled)"),
        ("samples", Nullable(_COUNT), "records of this test"),
        ("status_counts", Nullable(MapOf(_COUNT)), "records per status"),
        ("loadgen_result", Nullable(JSON()), "LoadGen's own verdict and percentiles (detail log)"),
        ("effective_settings", Nullable(MapOf(Scalar())), "LoadGen's effective_* settings"),
        ("join", Nullable(MapOf(Int())), "rows joined with LoadGen's trace"),
        ("overrides", Nullable(MapOf(Scalar())), "settings overridden for this test only"),
        ("accuracy_phase_samples", Nullable(_COUNT),
         "SubmissionRun: sample_seq below this is LoadGen's accuracy phase"),
        ("load_error", _OPT_STR, "the dataset failed to load samples"),
        ("server_statistics", Nullable(MapOf(Float())),
         "change of a V2 server's cumulative statistics over the test (Triton)"),
        ("requested_mode", Nullable(Str(choices=MODE_NAMES)),
         "the mode asked for, when an audit config made LoadGen run another"),
        ("verdict", Nullable(JSON()),
         "LoadGen's verdict: VALID/INVALID with reasons, the scenario's metric (also results.json)"),
        ("expected", Nullable(JSON()), "the duration estimate made before the test ran"),
        ("latency_source", Nullable(Str(choices=("loadgen_trace", "wrapper"))),
         "this test's latency source when it differs from the run's (FindPeakPerformance)")):
    declare(f"tests[].{_name}", _type, _doc, required=_name in ("pass", "mode", "complete"))

# Pool SUTs (capture/_pool.py, `tailq route`, docs/routing.md): model variants on servers
# behind a dispatcher that calls a routing policy; one LoadGen Server test per policy and load.
declare("pool", Nullable(Record()), "pool SUT: model variants on servers behind a dispatcher "
        "(tailq route); null for other runs")
declare("pool.executor", Str(choices=("threads", "processes", "mixed")),
        "where the servers' models computed: in a thread per server (the runtime releases the "
        "GIL), in a worker process per server, or mixed (per variant: pool.variants[].executor)",
        required=True)
declare("pool.executor_reason", _OPT_STR, "why that executor was chosen")
declare("pool.servers", Int(1), "servers in all", required=True)
declare("pool.variants", ListOf(MapOf(Scalar())),
        "per variant, in server order: name, servers, first_server, backend, version, runtime, "
        "releases_gil, executor ('thread' or 'process'; absent in runs before it: 'thread')",
        required=True)
declare("tests[].routing", Nullable(JSON()),
        "pool SUT: this test's policy (name, parameters and plan, its final state), target QPS, "
        "decisions per variant, held jobs, the dispatcher's own time per decision and the hand-off "
        "(issue → service start of jobs that found their server idle)")
