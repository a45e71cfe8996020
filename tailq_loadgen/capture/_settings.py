"""LoadGen settings, in order: built-in mlperf.conf, --mlperf_conf, targets measured at start,
user.conf, the experiment YAML's loadgen section, then flags (the last one that sets a field wins).

LoadGen merges its built-in ``mlperf.conf`` only on the first ``conf_type=1`` call in a
process (later calls silently lose the official seeds and durations, and log "Multiple conf
files are used"), so every TestSettings is built as ``FromConfig("", model, scenario, 0)``
(built-in only) followed by ``FromConfig(file, model, scenario, 2)`` for each file.
``conf_type=0`` ignores its path, so the seeds of a ``--mlperf_conf FILE`` are set here
from our own reading of the file. ``FromConfig`` never sets the scenario; we do. The audit
config (``--audit_conf``) is not applied here: LoadGen reads it inside ``StartTest`` with
the model ``*``, and only when a path is passed — never a stray ``audit.config`` in the
working directory.
"""

import dataclasses
import enum
import math
import os

import mlperf_loadgen as lg
import yaml

from .._errors import UserError
from . import _conffile
from ._calibrate import describe_targets, measured_targets

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
MODES = ("PerformanceOnly", "AccuracyOnly", "SubmissionRun", "FindPeakPerformance")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """tailq's own run options (``mlperf_configs/experiment.yaml`` documents each)."""

    trace: bool = True
    watchdog_timeout_s: float = 60.0
    cancel_grace_s: float = 10.0
    segment_rows: int = 65536
    segment_seconds: float = 2.0
    offline_batch_size: int = 32
    server_workers: int = 1
    max_in_flight: int = 0  # 0: backend's default (remote 8; in-process inline/server_workers)
    vary_seeds_per_pass: bool = True
    gc_during_test: bool = False
    warmup_queries: int = 32
    loadgen: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return dataclasses.asdict(self)


def load_experiment(path):
    """Read an experiment YAML file; unknown keys and wrong types are errors naming the file."""
    if path is None:
        return Experiment()
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as exc:
        raise UserError(f"--experiment {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise UserError(f"--experiment {path}: not valid YAML{where}; fix the file") from None
    if not isinstance(data, dict):
        raise UserError(f"--experiment {path}: must be a mapping of option: value")
    fields = {f.name: f for f in dataclasses.fields(Experiment)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"--experiment {path}: unknown option(s) {', '.join(unknown)}; "
                        f"known: {', '.join(fields)}")
    defaults = Experiment()
    for key, value in data.items():
        want = type(getattr(defaults, key))
        ok = isinstance(value, want) or (want is float and isinstance(value, int)
                                         and not isinstance(value, bool))
        if not ok or (want is int and isinstance(value, bool)):
            raise UserError(f"--experiment {path}: {key} must be {want.__name__}, got {value!r}")
    loadgen = data.get("loadgen", {})
    for section, attrs in loadgen.items():
        if section != "*" and section not in SCENARIOS or not isinstance(attrs, dict):
            raise UserError(f"--experiment {path}: loadgen.{section} must be '*' or a scenario "
                            "name, mapping TestSettings attributes to values")
        for attr in attrs:
            if not hasattr(lg.TestSettings(), attr) or attr.startswith("_"):
                raise UserError(f"--experiment {path}: loadgen.{section}.{attr} is not a LoadGen "
                                "TestSettings attribute")
    return dataclasses.replace(defaults, **data)


def _check_choice(flag, value, choices):
    if value not in choices:
        raise UserError(f"{flag} {value!r}: unknown; choose one of {', '.join(choices)}")


def _check_conf_path(flag, path):
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise UserError(f"{flag} {path}: no readable file there; give the path of a LoadGen "
                        f"{'mlperf.conf' if flag == '--mlperf_conf' else 'config file'}")
    return _conffile.parse_conf(path, flag)  # names a malformed line before LoadGen sees it


def build_test_settings(*, model, scenario, mode, user_conf=None, experiment=None,
                        overrides=None, mlperf_conf=None, measured=None):
    """A configured ``lg.TestSettings`` and the sources it came from, in order.

    ``measured``: ``{attribute: value}`` targets measured at start; they replace
    mlperf.conf's placeholders and yield to user.conf, the experiment file and flags.
    """
    _check_choice("--scenario", scenario, SCENARIOS)
    _check_choice("--mode", mode, MODES)
    if mode == "FindPeakPerformance" and scenario != "Server":
        raise UserError(f"--find-peak-performance: LoadGen searches the peak QPS in the Server "
                        f"scenario only, not {scenario}")
    experiment = experiment or Experiment()
    ts = lg.TestSettings()
    sources = ["loadgen built-in mlperf.conf"]
    if ts.FromConfig("", model, scenario, 0) != 0:
        raise UserError(f"model {model!r}: LoadGen could not apply its built-in mlperf.conf")
    if mlperf_conf is not None:
        entries = _check_conf_path("--mlperf_conf", mlperf_conf)
        if ts.FromConfig(mlperf_conf, model, scenario, 2) != 0:
            raise UserError(f"--mlperf_conf {mlperf_conf}: LoadGen rejected it; each line must "
                            "read `model.scenario.key = value`")
        for attr, value in _conffile.mlperf_conf_only_values(entries, model, scenario).items():
            _set(ts, attr, value, f"--mlperf_conf {mlperf_conf}")
        sources.append(f"mlperf.conf {os.path.abspath(mlperf_conf)}")
    for attr, value in (measured or {}).items():
        _set(ts, attr, value, f"measured {attr}")
    if measured:
        sources.append("targets measured at start")
    if user_conf is not None:
        _check_conf_path("--user_conf", user_conf)
        if ts.FromConfig(user_conf, model, scenario, 2) != 0:
            raise UserError(f"--user_conf {user_conf}: LoadGen rejected it; each line must read "
                            "`model.scenario.key = value`")
        sources.append(f"user.conf {os.path.abspath(user_conf)}")
    for section in ("*", scenario):
        for attr, value in experiment.loadgen.get(section, {}).items():
            _set(ts, attr, value, f"experiment loadgen.{section}.{attr}")
    if experiment.loadgen:
        sources.append("experiment loadgen section")
    for attr, value in (overrides or {}).items():
        _set(ts, attr, value, f"override {attr}")
    if overrides:
        sources.append("command-line flags")
    ts.scenario = getattr(lg.TestScenario, scenario)
    ts.mode = getattr(lg.TestMode, mode)
    return ts, sources


class SessionSettings:
    """Everything that makes a capture session's TestSettings, checked once up front.

    ``build(mode)`` gives one test's settings; ``calibrate(warmup)`` adds the targets
    measured at start; ``warnings`` lists user.conf keys that do nothing in this run.
    """

    def __init__(self, *, model, scenario, harness_name=None, user_conf=None, mlperf_conf=None,
                 audit_conf=None, experiment=None, overrides=None, first_mode="AccuracyOnly"):
        self.model, self.scenario = model, scenario
        self.user_conf, self.mlperf_conf = user_conf, mlperf_conf
        self.experiment = experiment or Experiment()
        self.overrides = dict(overrides or {})
        self.measured = {}
        self.audit_conf = None
        self.audit = None
        if audit_conf is not None:
            entries = _check_conf_path("--audit_conf", audit_conf)
            self.audit_conf = os.path.abspath(audit_conf)
            self.audit = {"path": self.audit_conf, "test": _conffile.audit_test_name(entries),
                          "keys": {e.name: e.value for e in entries}}
        self.warnings = []
        if user_conf is not None:
            entries = _check_conf_path("--user_conf", user_conf)
            self.warnings = _conffile.unmatched_keys(entries, model=model,
                                                     harness_name=harness_name, path=user_conf)
        self.first_mode = first_mode or "AccuracyOnly"
        ts, self.sources = self.build(self.first_mode)
        self.requested = snapshot(ts)

    def build(self, mode, overrides=None):
        over = dict(self.overrides, **(overrides or {}))
        return build_test_settings(model=self.model, scenario=self.scenario, mode=mode,
                                   user_conf=self.user_conf, mlperf_conf=self.mlperf_conf,
                                   experiment=self.experiment, overrides=over,
                                   measured=self.measured)

    def calibrate(self, warmup):
        """Measure the targets from the warm-up; returns a line saying what they became."""
        self.measured = measured_targets(self.scenario, warmup,
                                         workers=self.experiment.server_workers)
        ts, self.sources = self.build(self.first_mode)
        self.requested = snapshot(ts)
        return describe_targets(self.measured, self.requested, warmup)

    def as_dict(self):
        return {"model": self.model, "sources": self.sources, "requested": self.requested,
                "measured": dict(self.measured), "user_conf_warnings": list(self.warnings),
                "mlperf_conf": None if self.mlperf_conf is None else os.path.abspath(self.mlperf_conf),
                "audit": self.audit, "experiment": self.experiment.as_dict(),
                "overrides": dict(self.overrides)}


def _set(ts, attr, value, where):
    try:
        setattr(ts, attr, value)
    except (TypeError, AttributeError) as exc:
        raise UserError(f"{where}: cannot set {value!r} ({exc})") from None


def cli_overrides(*, time_s=None, qps=None, max_queries=None, count=None,
                  samples_per_query=None, max_latency_s=None, performance_sample_count=None):
    """MLPerf reference-harness semantics of its flags (vision/.../python/main.py).

    ``--time S``: min and max duration; ``--qps Q``: Server target and Offline expected QPS;
    ``--count N``: (the dataset is cut to N items elsewhere) min and max query count N;
    ``--max-queries N``: min and max query count N (wins over --count);
    ``--samples-per-query N``: MultiStream's samples per query; ``--max-latency S``: Server
    latency bound and MultiStream expected latency; ``--performance-sample-count N``:
    LoadGen's performance_sample_count_override.
    """
    out = {}

    def positive(flag, value, kind=float):
        if isinstance(value, float) and not math.isfinite(value) or value <= 0:
            raise UserError(f"{flag} {value}: must be a positive {'number' if kind is float else 'whole number'}")
        return kind(value)

    if time_s is not None:
        ms = int(positive("--time", time_s) * 1000)
        out["min_duration_ms"] = out["max_duration_ms"] = ms
    if qps is not None:
        out["server_target_qps"] = out["offline_expected_qps"] = positive("--qps", qps)
    for flag, value in (("--count", count), ("--max-queries", max_queries)):
        if value is not None:
            out["min_query_count"] = out["max_query_count"] = positive(flag, value, int)
    if samples_per_query is not None:
        out["multi_stream_samples_per_query"] = positive("--samples-per-query", samples_per_query, int)
    if max_latency_s is not None:
        ns = int(positive("--max-latency", max_latency_s) * 1e9)
        out["server_target_latency_ns"] = out["multi_stream_expected_latency_ns"] = ns
    if performance_sample_count is not None:
        out["performance_sample_count_override"] = positive("--performance-sample-count",
                                                            performance_sample_count, int)
    return out


def snapshot(ts):
    """Every TestSettings attribute as plain JSON values (enums by name)."""
    out = {}
    for name in dir(ts):
        if name.startswith("_") or name == "FromConfig":
            continue
        value = getattr(ts, name)
        if callable(value):
            continue
        if isinstance(value, enum.Enum) or hasattr(value, "name") and not isinstance(value, (int, float, str, bool)):
            value = value.name
        out[name] = value
    return out
