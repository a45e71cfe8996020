"""Live progress of a LoadGen test, read from the record writer by a polling thread.

The capture's hot path is left alone: a thread wakes every ``POLL_S`` seconds, reads how
many records the writer holds (written rows plus queued chunks × samples per chunk — an
O(1) read), and hands ``(done, total, elapsed)`` to the reporter the caller gave. The
reporter (the CLI's: a tqdm bar on a terminal, a quiet line now and then otherwise)
decides what to show. ``benchmarks/capture_overhead.py`` measures that this costs nothing
measurable.
"""

import threading
import time

POLL_S = 0.5


class NullReporter:
    """What a capture reports to when nobody listens: notes go to ``log``, progress nowhere."""

    def __init__(self, log=print):
        self.log = log

    def note(self, text):
        self.log(text)

    def start(self, label, total, expected_s):
        return None


class PassProgress:
    """``with PassProgress(reporter, label, writer, per_chunk, total, expected_s):`` around a test."""

    def __init__(self, reporter, label, writer, per_chunk, total, expected_s=None):
        self.handle = reporter.start(label, total, expected_s) if reporter is not None else None
        self.writer, self.per_chunk = writer, max(1, int(per_chunk))
        self.total = total
        self._stop = threading.Event()
        self._thread = None
        self._t0 = None

    def done(self):
        return self.writer.rows_written + self.writer.pending_chunks() * self.per_chunk

    def _loop(self):
        while not self._stop.wait(POLL_S):
            self.handle.update(min(self.done(), self.total or float("inf")),
                               time.monotonic() - self._t0)

    def __enter__(self):
        self._t0 = time.monotonic()
        if self.handle is not None:
            self._thread = threading.Thread(target=self._loop, name="tailq-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        if self.handle is not None:
            self.handle.close(self.done(), time.monotonic() - self._t0)
        return False
