"""What a long step shows while it runs: tqdm on a terminal, a quiet line now and then in CI.

The capture calls ``note(text)`` for what it announces (settings measured at start, how
long the next tests will take) and ``start(label, plan)`` for each LoadGen test; the
handle's ``update(done, elapsed)`` is called from the capture's polling thread.
"""

import sys
import time

ANNOUNCE_S = 10.0   # a test expected to take longer than this is announced on its own
QUIET_EVERY_S = 30.0  # without a terminal, one progress line at most this often


def _rate_eta(done, total, elapsed):
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 and total else None
    return rate, eta


class _Quiet:
    """A line every ``every`` seconds: ``pass 3 (AccuracyOnly): 400/719 samples, 1,234/s, ETA 0.3 s``."""

    def __init__(self, stream, label, total, every):
        self.stream, self.label, self.total, self.every = stream, label, total, every
        self.last = 0.0

    def update(self, done, elapsed):
        if elapsed - self.last < self.every:
            return
        self.last = elapsed
        rate, eta = _rate_eta(done, self.total, elapsed)
        of = f"/{self.total:,}" if self.total else ""
        tail = f", ETA {eta:.0f} s" if eta is not None else ""
        print(f"tailq: {self.label}: {done:,}{of} samples, {rate:,.0f}/s, {elapsed:.0f} s{tail}",
              file=self.stream, flush=True)

    def close(self, done, elapsed):
        pass


class _Bar:
    def __init__(self, stream, label, total):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=label, unit="sample", file=stream, leave=False,
                        mininterval=0.5, dynamic_ncols=True)

    def update(self, done, elapsed):
        self.bar.update(done - self.bar.n)

    def close(self, done, elapsed):
        self.bar.close()


class ConsoleProgress:
    """The reporter the capturing commands hand to the capture (stderr; stdout keeps results)."""

    def __init__(self, stream=None, tty=None, quiet_every_s=QUIET_EVERY_S):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet_every_s = quiet_every_s

    def note(self, text):
        print(f"tailq: {text}", file=self.stream, flush=True)

    def start(self, label, total, expected_s):
        if expected_s is not None and expected_s >= ANNOUNCE_S:
            self.note(f"{label}: expected to take ≈ {_duration(expected_s)}")
        if self.tty:
            return _Bar(self.stream, label, total)
        return _Quiet(self.stream, label, total, self.quiet_every_s)


def _duration(seconds):
    from ..capture import format_duration  # LoadGen is loaded only by capturing commands

    return format_duration(seconds)


class progress_bar:
    """Progress of a step counted in units (analysis refits, imported passes): a tqdm bar on
    a terminal, otherwise a line with the rate and ETA at most every ``QUIET_EVERY_S``."""

    def __init__(self, desc, unit="step", stream=None, tty=None):
        self.desc, self.unit, self.bar = desc, unit, None
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = self.last = None

    def __enter__(self):
        self.t0 = time.monotonic()
        return self

    def __call__(self, done, total):
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, delay=1.0,
                                leave=False, file=self.stream)
            self.bar.update(done - self.bar.n)
            return
        elapsed = time.monotonic() - self.t0
        if done == 0:
            return
        rate, eta = _rate_eta(done, total, elapsed)
        if self.last is None and done < total:
            # the first unit timed: the duration of the whole step, before most of it runs
            print(f"tailq: {self.desc}: {total} {self.unit}s, ≈ {elapsed * total / done:.0f} s "
                  f"in all (the first took {elapsed / done:.1f} s)", file=self.stream, flush=True)
            self.last = elapsed
        elif self.last is not None and elapsed - self.last >= QUIET_EVERY_S:
            self.last = elapsed
            tail = f", ETA {eta:.0f} s" if eta is not None and done < total else ""
            print(f"tailq: {self.desc}: {done}/{total} {self.unit}s, {elapsed:.0f} s{tail}",
                  file=self.stream, flush=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
