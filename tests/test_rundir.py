"""The run directory's one owner: created and described first, locked for its life, and
finished with a status taken from what happened — never ``complete`` after an exception —
with nothing captured lost (issue 12, families 2, 3, 4 and 6).

Status and exit code per case (docs/record-format.md, "Status"):

| what happened | status | exit |
|---|---|---|
| ran to its end | complete | 0 |
| an exception in the session (bug, bad input found late) | failed: reason | 2 / traceback |
| records could not be written (full disk, I/O error) | failed: reason | 4 |
| the watchdog | aborted | 3 |
| Ctrl-C / SIGTERM, also outside a LoadGen test | interrupted | 130 |
"""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tailq_loadgen import RunAborted, RunFailed, UserError, harnesses, load_run, records, workflow
from tailq_loadgen.capture import CaptureSession, Experiment, run_capture

from conftest import REPO, EchoBackend, EchoDataset, echo_harness, run_tailq, wait_for
from tailq_loadgen.harnesses import Harness

QUIET = dict(log=lambda *_: None)
TAILQ = [sys.executable, "-m", "tailq_loadgen.cli"]


def _meta(out):
    return json.loads(open(os.path.join(out, "metadata.json")).read())


# -- status from what happened -----------------------------------------------------------------
def test_clean_session_is_complete(tmp_path):
    out = str(tmp_path / "r")
    result = run_capture(echo_harness(20), scenario="SingleStream", passes=2, out=out, **QUIET)
    assert result.complete and result.status == "complete"
    meta = _meta(out)
    assert meta["status"] == "complete" and meta["complete"] and meta["status_reason"] is None
    assert meta["writer_pid"] == os.getpid() and not records.is_live(out)


@pytest.mark.parametrize("exc,status", [(RuntimeError("a bug in the loop"), "failed"),
                                        (KeyboardInterrupt(), "interrupted"),
                                        (UserError("--thresholds: bad"), "failed")])
def test_an_exception_is_never_complete(tmp_path, exc, status):
    out = str(tmp_path / "r")
    with pytest.raises(type(exc)):
        with CaptureSession(echo_harness(20), scenario="SingleStream", out=out, **QUIET) as s:
            s.run(["AccuracyOnly"])
            raise exc
    meta = _meta(out)
    assert meta["status"] == status and not meta["complete"], meta["status"]
    assert meta["status_reason"]
    assert len(load_run(out)) == 20  # the pass captured before the exception is kept


def test_sigterm_outside_a_loadgen_test_is_interrupted(tmp_path):
    out = str(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        with CaptureSession(echo_harness(20), scenario="SingleStream", out=out, **QUIET) as s:
            s.run(["AccuracyOnly"])
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    meta = _meta(out)
    assert meta["status"] == "interrupted" and "SIGTERM" in meta["status_reason"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_metadata_is_written_first_and_a_failed_load_says_so(tmp_path):
    class FailingBackend(EchoBackend):
        def load(self):
            raise OSError("model file missing")

    out = tmp_path / "r"
    h = Harness(name="echo", task="t", runtime="python", backend=FailingBackend(), dataset=EchoDataset(10))
    with pytest.raises(RunFailed, match="failed to load: OSError: model file missing"):
        run_capture(h, scenario="SingleStream", passes=1, out=str(out), **QUIET)
    meta = _meta(out)
    assert meta["status"] == "failed" and "model file missing" in meta["status_reason"]
    assert meta["harness"]["name"] == "echo"  # the metadata was there before anything ran
    # a directory tailq half-created is tailq's: --overwrite replaces it
    run_capture(echo_harness(10), scenario="SingleStream", passes=1, out=str(out), overwrite=True, **QUIET)
    assert _meta(out)["status"] == "complete"


def test_cli_exit_codes_for_failed_loads(tmp_path):
    code = ("import sys; from tailq_loadgen.cli import main\n"
            "import tailq_loadgen.harnesses.sleep as s\n"
            "def broken(self): raise RuntimeError('no weights')\n"
            "s.SleepBackend.load = broken\n"
            "sys.exit(main(sys.argv[1:]))\n")
    p = subprocess.run([sys.executable, "-c", code, "run", "--harness", "sleep", "--harness-arg",
                        "samples=10", "--scenario", "Offline", "--passes", "1", "--out",
                        str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 4 and p.stderr.count("\n") == 1 and "no weights" in p.stderr, p.stderr
    assert _meta(tmp_path / "r")["status"] == "failed"


# -- the lock --------------------------------------------------------------------------------------
def _minimal_meta():
    return {"harness": {"name": "x"}, "scenario": "Offline", "sample_count": 1,
            "latency_source": "wrapper", "origin": "capture"}


def test_a_live_run_cannot_be_entered_or_overwritten(tmp_path):
    out = str(tmp_path / "r")
    rd = records.RunDirectory.create(out, _minimal_meta())
    assert records.is_live(out)
    for overwrite in (False, True):
        with pytest.raises(UserError, match=f"another tailq process \\(pid {os.getpid()}\\)"):
            records.RunDirectory.create(out, _minimal_meta(), overwrite=overwrite)
    assert os.path.exists(os.path.join(out, "metadata.json"))  # nothing was deleted
    rd.finish("complete")
    assert not records.is_live(out)
    records.RunDirectory.create(out, _minimal_meta(), overwrite=True).finish()


def test_two_runs_into_one_out_never_collide(tmp_path):
    args = ["run", "--harness", "sleep", "--harness-arg", "samples=40", "--scenario", "SingleStream",
            "--passes", "2"]
    for attempt in range(3):
        out = str(tmp_path / f"r{attempt}")
        procs = [subprocess.Popen(TAILQ + args + ["--out", out], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        codes = sorted(rc for rc, _ in results)
        assert codes == [0, 2], results
        loser = [err for rc, err in results if rc == 2][0]
        assert loser.count("\n") == 1 and ("another tailq process" in loser or "not empty" in loser), loser
        run = load_run(out)
        assert run.complete and len(run) == 80
        assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_overwrite_against_a_live_run_is_refused(tmp_path):
    out = str(tmp_path / "r")
    first = subprocess.Popen(TAILQ + ["run", "--harness", "sleep", "--harness-arg", "samples=3000",
                                      "--scenario", "SingleStream", "--passes", "3", "--out", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: os.path.exists(os.path.join(out, "records", "pass-00000.partial")))
        p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=10", "--scenario",
                      "Offline", "--passes", "1", "--out", out, "--overwrite")
        assert p.returncode == 2 and "another tailq process" in p.stderr, p.stderr
        assert first.poll() is None  # the live run carries on
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130
    run = load_run(out)
    assert run.metadata["status"] == "interrupted"
    assert len(run) >= 3000 and len(run) % 3000 == 0  # each pass that began completed every sample


def test_import_overwrite_refuses_inputs_inside_the_output(tmp_path):
    out = str(tmp_path / "r")
    run_capture(harnesses.get_harness("sleep", samples=20), scenario="SingleStream", passes=2,
                out=out, **QUIET)
    before = len(load_run(out))
    dirs = [os.path.join(out, "loadgen", f"pass-{i:05d}") for i in range(2)]
    p = run_tailq("import", *dirs, "--harness", "sleep", "--harness-arg", "samples=20", "--out",
                  out, "--overwrite")
    assert p.returncode == 2 and "lies inside it" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert len(load_run(out)) == before and all(os.path.isdir(d) for d in dirs)


def test_an_import_that_fails_midway_says_failed_and_can_be_replaced(tmp_path):
    src = tmp_path / "ext"
    import shutil

    shutil.copytree(os.path.join(REPO, "tests", "fixtures", "external"), src)
    acc = src / "pass-1" / "mlperf_log_accuracy.json"
    acc.write_bytes(acc.read_bytes().replace(b'"qsl_idx"', b'"qsl_idy"', 1))
    out = str(tmp_path / "o")
    with pytest.raises(UserError, match="not an accuracy-log entry"):
        workflow.import_run([str(src / "pass-0"), str(src / "pass-1")], out,
                            correctness=str(src / "correctness.csv"))
    meta = _meta(out)
    assert meta["status"] == "failed" and "accuracy-log" in meta["status_reason"]
    assert len(load_run(out)) == 48  # the pass imported before the failure is there
    workflow.import_run([str(src / "pass-0")], out, correctness=str(src / "correctness.csv"),
                        overwrite=True)
    assert _meta(out)["status"] == "complete"


# -- no record lost: writer failures, unstorable outputs ----------------------------------------------
def test_failed_segment_writes_keep_their_rows(tmp_path, monkeypatch):
    from tailq_loadgen.records import _writer

    real, calls = _writer.write_parquet_atomic, {"n": 0}

    def flaky(table, path):
        calls["n"] += 1
        if calls["n"] <= 3:  # a disk that is full for a moment
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, path)

    monkeypatch.setattr(_writer, "write_parquet_atomic", flaky)
    out = str(tmp_path / "r")
    logs = []
    run_capture(harnesses.get_harness("sleep", samples=200, base_ms=0.2), scenario="SingleStream",
                passes=1, out=out, experiment=Experiment(segment_seconds=0.05), log=logs.append)
    run = load_run(out)
    assert run.complete and len(run) == 200
    assert np.array_equal(np.sort(run["sample_seq"]), np.arange(200))  # none lost, none twice
    assert any("keeping them and trying again" in line for line in logs)


def test_a_write_that_keeps_failing_fails_the_run_loudly(tmp_path, monkeypatch):
    from tailq_loadgen.records import _writer

    def broken(table, path):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_writer, "write_parquet_atomic", broken)
    monkeypatch.setattr(_writer.PassWriter, "__init__", _short_retry(_writer.PassWriter.__init__))
    out = str(tmp_path / "r")
    with pytest.raises(RunFailed, match="could not be written .*Input/output error.*20 records did not reach"):
        run_capture(echo_harness(20), scenario="SingleStream", passes=2, out=out, **QUIET)
    meta = _meta(out)
    assert meta["status"] == "failed" and "could not be written" in meta["status_reason"]
    assert len(meta["tests"]) == 1  # no further pass was started


def _short_retry(init):
    def wrapped(self, *a, **kw):
        init(self, *a, **dict(kw, close_retry_s=0.5))
    return wrapped


class ObjectBackend(EchoBackend):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def predict(self, indices):
        if self.kind == "object":
            return np.array([{"label": int(i)} for i in indices], dtype=object)
        return [None if i % 3 == 0 else np.float32([i]) for i in indices]


@pytest.mark.parametrize("kind", ["object", "list with None"])
@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_unstorable_outputs_become_error_rows(tmp_path, kind, scenario):
    out = str(tmp_path / "r")
    h = Harness(name="obj", task="t", runtime="python", backend=ObjectBackend(kind.split()[0]),
                dataset=EchoDataset(30))
    run_capture(h, scenario=scenario, passes=1, out=out, **QUIET)
    run = load_run(out)
    assert len(run) == 30  # every sample recorded
    err = run["status"] == "error"
    assert err.any() and all("object" in e or "None" in e or "Python objects" in e
                             for e in run["error"][err]), set(run["error"][err])
    findings = workflow.check_run(out)
    assert findings[0].level == "problem" and "failed" in findings[0].message


def test_the_writer_itself_turns_unstorable_chunks_into_error_rows(tmp_path):
    w = records.PassWriter(str(tmp_path / "segs"), 0, seconds_per_segment=60)
    w.add((1, 0, 0, 0, 1, 2, 3, "ok", None, np.float32([1.0]), None))
    w.add((1, 1, 1, 1, 1, 2, 3, "ok", None, np.array([object()], dtype=object), None))
    w.add((2, 2, 2, [2, 3], 1, 2, 3, "ok", None, [np.float32([2.0]), None], (5, 6)))
    w.close()
    t = records.build_table  # noqa: F841 — the segment holds every row, by name
    import pyarrow.parquet as pq

    table = pq.read_table(os.path.join(tmp_path, "segs", "seg-00000.parquet"))
    assert table.column("status").to_pylist() == ["ok", "error", "error", "error"]
    assert table.column("server_compute_ns").to_pylist() == [None, None, 6, 6]
    assert w.unstorable == 3 and w.rows_written == 4


# -- --count N, end to end ------------------------------------------------------------------------
def test_count_scores_on_the_subset(tmp_path):
    out = tmp_path / "r"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=40", "--scenario",
                  "SingleStream", "--passes", "2", "--count", "12", "--out", str(out))
    assert p.returncode == 0, p.stderr
    h = harnesses.get_harness("sleep", samples=40)
    expected = float(np.mean(h.dataset.answers[:12] == h.dataset.labels[:12]))
    assert f"quality (accuracy): {expected:.4f}" in p.stdout
    shown = json.loads(run_tailq("show", str(out), "--json").stdout)
    assert shown["quality"]["value"] == pytest.approx(expected) and shown["samples"] == 24
    a = run_tailq("analyze", str(out), "--mc", "50")
    assert a.returncode == 0, a.stderr
    assert json.loads((out / "analysis.json").read_text())["inputs"]["samples"] == 12


# -- Ctrl-C during estimate's refit ----------------------------------------------------------------
def test_ctrl_c_during_estimates_refit_is_interrupted(tmp_path):
    out = str(tmp_path / "est")
    proc = subprocess.Popen(TAILQ + ["estimate", "--harness", "sleep", "--harness-arg", "samples=600",
                                     "--harness-arg", "base_ms=0.1", "--harness-arg", "per_unit_ms=0",
                                     "--scenario", "SingleStream", "--mc", "40000",
                                     "--max-passes", "30", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first round is 2 passes of ~0.1 s; its refit (600 samples × 40,000 synthetic passes)
    # takes seconds, so a Ctrl-C just after the second pass lands in the refit.
    assert wait_for(lambda: os.path.exists(os.path.join(out, "records", "pass-00001.parquet")))
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    run = load_run(out)
    assert run.metadata["status"] == "interrupted" and not run.complete
    assert len(run.metadata["tests"]) == 2  # it was in the refit: no third pass had begun
    for p in range(2):  # what was captured before the interrupt is all there
        assert sorted(run["sample_index"][run["pass"] == p].tolist()) == list(range(600))


# -- a full disk ---------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt):
    """Fill the file system to the last byte; returns the filler's path."""
    path = mnt / "filler"
    with open(path, "wb", buffering=0) as f:  # unbuffered: close() has nothing left to fail on
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
    return path


def test_a_disk_full_for_a_moment_loses_nothing(small_disk):
    out = str(small_disk / "r")
    state = {}

    def fill_then_free():
        wait_for(lambda: os.path.isdir(os.path.join(out, "records", "pass-00000.partial")))
        state["filler"] = _fill(small_disk)
        time.sleep(1.0)
        os.unlink(state["filler"])

    t = threading.Thread(target=fill_then_free)
    t.start()
    logs = []
    run_capture(harnesses.get_harness("sleep", samples=1500, base_ms=0.5, per_unit_ms=0.0),
                scenario="SingleStream", passes=1, out=out, log=logs.append,
                experiment=Experiment(trace=False, segment_seconds=0.1, segment_rows=100))
    t.join()
    run = load_run(out)
    assert run.complete and len(run) == 1500
    assert np.array_equal(np.sort(run["sample_seq"]), np.arange(1500))
    assert any("trying again" in line for line in logs)  # the disk really was full


def test_a_disk_that_stays_full_fails_loudly_and_says_so(small_disk):
    out = str(small_disk / "r")
    proc = subprocess.Popen(TAILQ + ["run", "--harness", "sleep", "--harness-arg", "samples=1500",
                                     "--harness-arg", "per_unit_ms=0", "--scenario", "SingleStream",
                                     "--passes", "2", "--no-trace", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: os.path.isdir(os.path.join(out, "records", "pass-00000.partial")))
    filler = _fill(small_disk)
    _, err = proc.communicate(timeout=180)
    last = err.strip().splitlines()[-1]  # (progress notes come before it)
    assert proc.returncode == 4 and "Traceback" not in err, err
    assert last.startswith("tailq: ") and "No space left" in last and "did not reach the disk" in last
    meta = _meta(out)  # the reserve kept room for the truth
    assert meta["status"] == "failed" and "No space left" in meta["status_reason"]
    os.unlink(filler)
    run = load_run(out)  # what reached the disk reads back
    assert not run.complete
