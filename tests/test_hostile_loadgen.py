"""LoadGen's own traps (docs/capture.md; loadgen-facts §10): every setting that reaches
TestSettings is checked, whichever source set it, and refused with one line and exit 2
before LoadGen can crash or hang — and before a run directory is made. The watchdog also
covers a LoadGen that never starts issuing."""

import json
import os
import subprocess
import sys

import pytest

from tailq_loadgen import UserError
from tailq_loadgen.capture import Experiment, build_test_settings, run_capture
from tailq_loadgen.capture import _guards

from conftest import echo_harness, run_tailq

SLEEP = ["--harness", "sleep", "--harness-arg", "samples=20"]


def _refused(tmp_path, *args, needle=None):
    out = tmp_path / "r"
    p = run_tailq("run", *SLEEP, *args, "--out", str(out))
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    line = p.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("tailq: error:") and "Traceback" not in line, line
    if needle:
        assert needle in line, line
    assert not out.exists()  # refused before a directory was made
    return line


@pytest.mark.parametrize("conf,scenario,needle", [
    ("sleep.Server.target_qps = 0", "Server", "--user_conf"),
    ("sleep.Server.target_latency = -5", "Server", "server_target_latency_ns"),
    ("sleep.SingleStream.target_latency = -5", "SingleStream", "single_stream_expected_latency_ns"),
    ("sleep.MultiStream.target_latency = -5", "MultiStream", "multi_stream_expected_latency_ns"),
    ("sleep.Offline.target_qps = -1", "Offline", "offline_expected_qps"),
    ("*.SingleStream.target_latency_percentile = 150", "SingleStream", "percentile"),  # in percent
    ("sleep.Server.target_latency = 0", "Server", "server_target_latency_ns"),
    ("sleep.MultiStream.samples_per_query = 0", "MultiStream", "multi_stream_samples_per_query"),
])
def test_user_conf_traps(tmp_path, conf, scenario, needle):
    path = tmp_path / "user.conf"
    path.write_text(conf + "\n")
    line = _refused(tmp_path, "--scenario", scenario, "--passes", "1", "--user_conf", str(path),
                    needle=needle)
    assert "user.conf" in line and "LoadGen does not check this" in line


@pytest.mark.parametrize("flags,needle", [
    (["--qps", "1e-9"], "--qps 1e-09"),
    (["--qps", "nan"], "--qps nan"),
    (["--qps", "-3"], "--qps -3"),
    (["--qps", "inf"], "--qps inf"),
    (["--time", "nan"], "--time nan"),
    (["--time", "inf"], "--time inf"),
    (["--time", "0.0000001"], "--time"),
    (["--max-queries", "-2"], "--max-queries"),
    (["--harness-arg", "sigma=nan"], "not a finite number"),
])
def test_flag_traps(tmp_path, flags, needle):
    _refused(tmp_path, "--scenario", "Server", "--passes", "1", *flags, needle=needle)


@pytest.mark.parametrize("yaml_text,needle", [
    ("loadgen: {SingleStream: {single_stream_expected_latency_ns: -5}}\n", "--experiment loadgen.SingleStream"),
    ("loadgen: {'*': {single_stream_expected_latency_ns: .nan}}\n", "--experiment loadgen.*"),
    ("loadgen: {SingleStream: {single_stream_expected_latency_ns: 1}}\n", "PerformanceOnly"),
    ("watchdog_timeout_s: 0\n", "watchdog_timeout_s"),
    ("watchdog_timeout_s: -1\n", "watchdog_timeout_s"),
    ("watchdog_timeout_s: .nan\n", "watchdog_timeout_s"),
    ("segment_rows: 0\n", "segment_rows"),
    ("segment_seconds: -2\n", "segment_seconds"),
    ("cancel_grace_s: 0\n", "cancel_grace_s"),
    ("server_workers: 0\n", "server_workers"),
])
def test_experiment_traps(tmp_path, yaml_text, needle):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml_text)
    if needle == "PerformanceOnly":  # a 1 ns expected latency: 1.2e12 queries pre-generated
        _refused(tmp_path, "--scenario", "SingleStream", "--mode", "PerformanceOnly",
                 "--experiment", str(path), needle="pre-generate")
        return
    _refused(tmp_path, "--scenario", "SingleStream", "--passes", "1", "--experiment", str(path),
             needle=needle)


def test_a_server_schedule_longer_than_a_week_is_refused():
    with pytest.raises(UserError, match="would take .* days"):
        _guards.check_schedule({"server_target_qps": 1e-3, "min_duration_ms": 0,
                                "max_duration_ms": 0, "min_query_count": 10**6},
                               "Server", "PerformanceOnly", 100, _guards.Sources("Server"))


def test_the_guards_pass_mlperf_conf_and_the_shipped_settings():
    from conftest import REPO

    conf = os.path.join(REPO, "mlperf_configs", "user.conf")
    for scenario in ("SingleStream", "MultiStream", "Server", "Offline"):
        for mode in ("PerformanceOnly", "AccuracyOnly", "SubmissionRun"):
            for model in ("sleep", "digits-cnn", "minilm-l6-v2", "other"):
                build_test_settings(model=model, scenario=scenario, mode=mode, user_conf=conf)
                build_test_settings(model=model, scenario=scenario, mode=mode)


def test_guards_apply_to_python_callers_too(tmp_path):
    with pytest.raises(UserError, match="server_target_qps"):
        run_capture(echo_harness(10), scenario="Server", passes=1, out=str(tmp_path / "r"),
                    overrides={"server_target_qps": float("nan")}, log=lambda *_: None)
    with pytest.raises(UserError, match="server_target_latency_ns"):
        run_capture(echo_harness(10), scenario="Server", passes=1, out=str(tmp_path / "r"),
                    overrides={"server_target_latency_ns": 0}, log=lambda *_: None)
    with pytest.raises(UserError, match="watchdog_timeout_s"):
        run_capture(echo_harness(10), scenario="Server", passes=1, out=str(tmp_path / "r"),
                    experiment=Experiment(watchdog_timeout_s=0.0), log=lambda *_: None)
    assert not (tmp_path / "r").exists()


_BARE_LOADGEN = """
import array, sys, tempfile
import mlperf_loadgen as lg
bufs = []
def issue(qs):
    rs = []
    for q in qs:
        b = array.array("q", [1]); bufs.append(b)
        rs.append(lg.QuerySampleResponse(q.id, b.buffer_info()[0], 8))
    lg.QuerySamplesComplete(rs)
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(16, 16, lambda s: None, lambda s: None)
ts = lg.TestSettings()
ts.FromConfig("", "m", "Server", 0)
ts.scenario, ts.mode = lg.TestScenario.Server, lg.TestMode.AccuracyOnly
ts.server_target_qps = 0.0
log = lg.LogSettings(); log.log_output.outdir = tempfile.mkdtemp()
lg.StartTestWithLogSettings(sut, qsl, ts, log)
"""


def test_the_trap_is_real_without_the_guard():
    # Why the guards exist: LoadGen 6.0.17 itself, given Server.target_qps = 0, crashes.
    p = subprocess.run([sys.executable, "-c", _BARE_LOADGEN], capture_output=True, text=True, timeout=60)
    assert p.returncode < 0 or p.returncode >= 128, (p.returncode, p.stderr[-300:])  # a signal


_STUCK = """
import sys
from tailq_loadgen.capture import _guards
_guards.check_test_settings = lambda *a, **k: None   # let LoadGen see what it cannot run
_guards.check_schedule = lambda *a, **k: None
from tailq_loadgen.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_watchdog_covers_a_loadgen_that_never_starts_issuing(tmp_path):
    # Without the guard, Server at target_qps 0 in PerformanceOnly never issues a query (it
    # would hang forever); the watchdog ends the run with what it knows.
    exp = tmp_path / "exp.yaml"
    exp.write_text("watchdog_timeout_s: 2.0\ncancel_grace_s: 1.0\n"
                   "loadgen: {Server: {server_target_qps: 0.0}}\n")
    out = tmp_path / "r"
    p = subprocess.run([sys.executable, "-c", _STUCK, "run", *SLEEP, "--scenario", "Server",
                        "--mode", "PerformanceOnly", "--experiment", str(exp), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, (p.returncode, p.stderr)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "aborted" and "did not start issuing" in meta["status_reason"]
