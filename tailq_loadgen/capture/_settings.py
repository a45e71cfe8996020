"""LoadGen settings: built-in mlperf.conf, then user.conf, then the experiment YAML, then flags.

LoadGen merges its built-in ``mlperf.conf`` only on the first ``conf_type=1`` call in a
process (later calls silently lose the official seeds and durations), so every TestSettings
is built as ``FromConfig("", model, scenario, 0)`` (built-in only) followed by
``FromConfig(user_conf, model, scenario, 2)`` (user.conf only). ``FromConfig`` never sets the
scenario; we do.
"""

import dataclasses
import enum
import os

import mlperf_loadgen as lg
import yaml

from .._errors import UserError

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
MODES = ("PerformanceOnly", "AccuracyOnly", "SubmissionRun")


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


def build_test_settings(*, model, scenario, mode, user_conf=None, experiment=None,
                        overrides=None):
    """A configured ``lg.TestSettings`` and the sources it came from, in order."""
    _check_choice("--scenario", scenario, SCENARIOS)
    _check_choice("--mode", mode, MODES)
    experiment = experiment or Experiment()
    ts = lg.TestSettings()
    sources = ["loadgen built-in mlperf.conf"]
    if ts.FromConfig("", model, scenario, 0) != 0:
        raise UserError(f"model {model!r}: LoadGen could not apply its built-in mlperf.conf")
    if user_conf is not None:
        if not os.path.isfile(user_conf) or not os.access(user_conf, os.R_OK):
            raise UserError(f"--user_conf {user_conf}: no readable file there; give the path of "
                            "a LoadGen user.conf")
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


def _set(ts, attr, value, where):
    try:
        setattr(ts, attr, value)
    except (TypeError, AttributeError) as exc:
        raise UserError(f"{where}: cannot set {value!r} ({exc})") from None


def cli_overrides(*, time_s=None, qps=None, max_queries=None):
    """MLPerf reference-harness semantics of --time, --qps and --max-queries."""
    out = {}
    if time_s is not None:
        if time_s <= 0:
            raise UserError(f"--time {time_s}: must be a positive number of seconds")
        out["min_duration_ms"] = int(time_s * 1000)
        out["max_duration_ms"] = int(time_s * 1000)
    if qps is not None:
        if qps <= 0:
            raise UserError(f"--qps {qps}: must be positive")
        out["server_target_qps"] = float(qps)
        out["offline_expected_qps"] = float(qps)
    if max_queries is not None:
        if max_queries <= 0:
            raise UserError(f"--max-queries {max_queries}: must be positive")
        out["min_query_count"] = int(max_queries)
        out["max_query_count"] = int(max_queries)
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
