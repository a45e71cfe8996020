"""Errors, hangs, kills and interrupts: captured records survive and the run says why it ended."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tailq_loadgen import RunAborted, load_run
from tailq_loadgen.capture import Experiment, run_capture

from tailq_loadgen import harnesses
from conftest import FAST, REPO, echo_harness, run_tailq, wait_for

QUIET = dict(log=lambda *_: None)


def test_raising_backend_completes_with_error_status(tmp_path):
    out = str(tmp_path / "run")
    result = run_capture(echo_harness(40, fail_on={3, 7}), scenario="SingleStream",
                         passes=2, out=out, **QUIET)
    run = load_run(out)
    assert result.complete and run.complete
    failed = run["status"] == "error"
    assert sorted(run["sample_index"][failed].tolist()) == [3, 3, 7, 7]
    assert all("simulated failure" in e for e in run["error"][failed])
    assert all(len(b) == 0 for b in run["output"][failed])  # never a fake answer
    assert result.status_counts == {"ok": 76, "error": 4}
    assert run.metadata["tests"][0]["status_counts"] == {"ok": 38, "error": 2}


@pytest.mark.parametrize("scenario", ["SingleStream", "Server", "Offline"])
def test_hanging_backend_ends_within_watchdog(tmp_path, scenario):
    out = str(tmp_path / "run")
    h = harnesses.get_harness("sleep", samples=60, hang_index=50, base_ms=0.2)
    t0 = time.monotonic()
    with pytest.raises(RunAborted, match="watchdog"):
        run_capture(h, scenario=scenario, passes=3, out=out, overrides={"server_target_qps": 500.0},
                    experiment=Experiment(watchdog_timeout_s=1.0, segment_seconds=0.2), **QUIET)
    assert time.monotonic() - t0 < 15
    run = load_run(out)
    assert not run.complete
    assert run.metadata["status"] == "aborted" and "watchdog" in run.metadata["status_reason"]
    assert len(run.metadata["tests"]) == 1  # no further pass was started
    status = run["status"]
    assert (status[run["sample_index"] == 50] == "timeout").all()
    assert set(status) <= {"ok", "timeout", "cancelled"}
    assert len(run) == 60  # every issued sample completed exactly once


def _segments(out):
    rec = os.path.join(out, "records")
    if not os.path.isdir(rec):
        return []
    return [f for d in os.listdir(rec) if d.endswith(".partial")
            for f in os.listdir(os.path.join(rec, d)) if f.endswith(".parquet")]


def test_sigkill_keeps_flushed_prefix(tmp_path):
    out = str(tmp_path / "run")
    exp = tmp_path / "exp.yaml"
    exp.write_text("segment_seconds: 0.2\n")
    proc = subprocess.Popen([sys.executable, "-m", "tailq_loadgen.cli", "run", "--harness", "sleep",
                             "--harness-arg", "samples=2000", "--scenario", "SingleStream",
                             "--passes", "3", "--experiment", str(exp), "--out", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: len(_segments(out)) >= 2, timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = load_run(out)
    assert not run.complete
    assert run.metadata["status"] == "running"  # never finished: it reads back as incomplete
    assert run.partial_passes == (0,)
    assert len(run) >= 2
    assert (run["status"] == "ok").all()
    assert not run.has_latency.any()  # LoadGen's trace was never joined for the cut-off pass
    # the flushed prefix is the first samples in issue order, with no gap
    assert np.array_equal(np.sort(run["sample_seq"]), np.arange(len(run)))
    shown = run_tailq("show", out)
    assert shown.returncode == 0 and "partial" in shown.stdout


def test_ctrl_c_ends_cleanly(tmp_path):
    out = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "tailq_loadgen.cli", "run", "--harness", "sleep",
                             "--harness-arg", "samples=3000", "--scenario", "SingleStream",
                             "--passes", "5", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: os.path.exists(os.path.join(out, "records", "pass-00000.partial")),
                    timeout=30)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT" in err and "Traceback" not in err
    run = load_run(out)
    assert run.metadata["status"] == "interrupted" and "SIGINT" in run.metadata["status_reason"]
    assert len(run.metadata["tests"]) == 1
    assert set(run["status"]) <= {"ok", "cancelled"}
    assert (run["status"] == "cancelled").any()
    assert len(run) == 3000  # LoadGen finished its test: every sample completed once


def test_ctrl_c_during_long_server_run_leaves_within_grace(tmp_path):
    # Server follows its Poisson schedule whatever the SUT does, so cancelling cannot shorten
    # it: after cancel_grace_s the capture keeps what it has and the process leaves.
    out = str(tmp_path / "run")
    exp = tmp_path / "exp.yaml"
    exp.write_text("cancel_grace_s: 1.0\nsegment_seconds: 0.2\n")
    proc = subprocess.Popen([sys.executable, "-m", "tailq_loadgen.cli", "run", "--harness", "sleep",
                             "--scenario", "Server", "--mode", "PerformanceOnly", "--time", "120",
                             "--qps", "100", "--experiment", str(exp), "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(_segments(out)) >= 1, timeout=30)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 20
    assert proc.returncode == 130, err
    meta = json.load(open(os.path.join(out, "metadata.json")))
    assert meta["status"] == "interrupted" and "LoadGen did not finish" in meta["status_reason"]
    assert len(load_run(out)) > 0


def test_backend_hanging_in_warm_up_ends_before_loadgen(tmp_path):
    out = str(tmp_path / "run")
    h = harnesses.get_harness("sleep", samples=60, hang_index=3, base_ms=0.2)
    with pytest.raises(RunAborted, match="warm-up"):
        run_capture(h, scenario="SingleStream", passes=1, out=out,
                    experiment=Experiment(watchdog_timeout_s=1.0), **QUIET)
    meta = json.load(open(os.path.join(out, "metadata.json")))
    assert meta["status"] == "aborted" and meta["tests"] == []


def test_warm_up_is_recorded_separately(tmp_path):
    out = str(tmp_path / "run")
    run_capture(echo_harness(40, fail_on={3}), scenario="Offline", passes=1, out=out, **QUIET)
    warm = load_run(out).metadata["warmup"]
    assert warm["queries"] == 32 and warm["batch_size"] == 32 and warm["errors"] >= 1
    assert len(load_run(out)) == 40  # warm-up queries are not records
