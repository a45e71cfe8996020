"""Progress for long steps: a duration estimate before, live progress within a pass (tqdm on
a terminal, a quiet line now and then otherwise), read by a thread — never the hot path."""

import io
import threading
import time

from conftest import run_tailq
from tailq_loadgen.capture._progress import PassProgress
from tailq_loadgen.cli._progress import ConsoleProgress, progress_bar


class FakeWriter:
    def __init__(self):
        self.rows_written, self.chunks = 0, 0

    def pending_chunks(self):
        return self.chunks


class Recorder:
    def __init__(self):
        self.updates, self.closed, self.started = [], None, None

    def note(self, text):
        pass

    def start(self, label, total, expected_s):
        self.started = (label, total, expected_s)
        return self

    def update(self, done, elapsed):
        self.updates.append(done)

    def close(self, done, elapsed):
        self.closed = done


def test_pass_progress_polls_the_writer_from_a_thread(monkeypatch):
    import tailq_loadgen.capture._progress as mod

    monkeypatch.setattr(mod, "POLL_S", 0.01)
    writer, rec = FakeWriter(), Recorder()
    with PassProgress(rec, "pass 0 (AccuracyOnly)", writer, per_chunk=8, total=100, expected_s=1.0):
        assert any(t.name == "tailq-progress" for t in threading.enumerate())
        for rows, chunks in ((0, 2), (16, 3), (48, 1)):
            writer.rows_written, writer.chunks = rows, chunks
            time.sleep(0.05)
        writer.rows_written, writer.chunks = 100, 0
    assert rec.started == ("pass 0 (AccuracyOnly)", 100, 1.0)
    assert rec.updates == sorted(rec.updates) and 16 in rec.updates and 40 in rec.updates
    assert rec.closed == 100
    assert not any(t.name == "tailq-progress" for t in threading.enumerate())


def test_no_reporter_no_thread():
    with PassProgress(None, "x", FakeWriter(), 1, 10):
        assert not any(t.name == "tailq-progress" for t in threading.enumerate())


def test_quiet_lines_without_a_terminal():
    out = io.StringIO()
    p = ConsoleProgress(stream=out, tty=False, quiet_every_s=0)
    h = p.start("pass 3 (PerformanceOnly)", 1000, 42.0)
    h.update(250, 2.0)
    h.close(1000, 8.0)
    text = out.getvalue()
    assert "pass 3 (PerformanceOnly): expected to take ≈ 42 s" in text
    assert "250/1,000 samples, 125/s, 2 s, ETA 6 s" in text


def test_a_bar_on_a_terminal():
    out = io.StringIO()
    h = ConsoleProgress(stream=out, tty=True).start("pass 0 (AccuracyOnly)", 719, 0.5)
    h.update(300, 0.2)
    h.close(719, 0.5)
    assert "pass 0 (AccuracyOnly)" in out.getvalue() and "expected to take" not in out.getvalue()


def test_step_progress_without_a_terminal(monkeypatch):
    import tailq_loadgen.cli._progress as mod

    monkeypatch.setattr(mod, "QUIET_EVERY_S", 0)
    out = io.StringIO()
    with progress_bar("analysing", unit="refit", stream=out, tty=False) as bar:
        for k in range(1, 4):
            bar(k, 10)
    text = out.getvalue()
    assert "analysing: 10 refits, ≈" in text and "in all (the first took" in text
    assert "analysing: 3/10 refits" in text and "ETA" in text


def test_run_announces_its_duration_and_numbers_passes_from_zero(tmp_path):
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                  "Server", "--passes", "2", "--out", str(tmp_path / "r"))
    assert p.returncode == 0, p.stderr
    assert "tailq: 2 AccuracyOnly passes ≈" in p.stderr and "QPS each" in p.stderr
    assert "measured at start" in p.stderr and "server_target_qps" in p.stderr
    # one numbering: console, LoadGen directory and show all say pass 0 for the first pass
    assert "pass 0 (AccuracyOnly)" in p.stdout and "pass 1 (AccuracyOnly)" in p.stdout
    assert "pass 2 (" not in p.stdout
    assert (tmp_path / "r" / "loadgen" / "pass-00000").is_dir()
    assert "  pass 0 AccuracyOnly" in run_tailq("show", str(tmp_path / "r")).stdout
