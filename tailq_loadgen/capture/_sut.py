"""The SUT and QSL that LoadGen drives: dispatch to the backend, stamps, completion, watchdog.

Dispatch is *inline* (the backend runs inside LoadGen's issue callback) for SingleStream,
MultiStream and Offline: LoadGen waits for the answer anyway, and a hand-off to a worker
thread costs ~50 µs a query against ~3.5 µs for the whole LoadGen round trip. Server uses
worker threads, because its issue callback must return at once (late issuing is charged to
the SUT's latency).

*Asynchronous* dispatch (``_async.py``): for a backend with ``submit`` (a remote server), or
a synchronous one given ``max_in_flight`` in MultiStream, Server or Offline (wrapped in
``ThreadedBackend``), the issue callback only queues the query's requests and returns; at most
``max_in_flight`` are outstanding, and each completion (on the backend's thread) submits the
next. MultiStream's query is split into ``max_in_flight`` requests so that its samples run
concurrently; SingleStream stays one at a time (LoadGen issues the next query only after the
last completes).

Every batch is registered in ``_pending`` before the backend sees it; whoever pops it first
(the dispatcher or the watchdog) completes it, so no sample is ever completed twice and none
is left uncompleted (LoadGen would hang forever). Queued asynchronous requests sit in
``_pending`` with no start time; the watchdog times only those in flight.
"""

import collections
import functools
import math
import os
import queue
import select
import signal
import threading
import time

import mlperf_loadgen as lg
import numpy as np

from ._async import DEFAULT_MAX_IN_FLIGHT, ThreadedBackend, is_async

_SIGNALS_CANCEL = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_INTERRUPT = signal.SIGUSR1


class _Interrupted(BaseException):
    """Raised inside an inline predict by our signal handler (timeout or Ctrl-C)."""


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


class CaptureSUT:
    """Wraps a backend and dataset as LoadGen's SUT/QSL and records every sample."""

    def __init__(self, backend, dataset, *, threaded, batch_size, workers=1,
                 watchdog_timeout_s=60.0, cancel_grace_s=10.0, on_stuck=None, log=print,
                 scenario=None, max_in_flight=0):
        self.backend = backend
        self.dataset = dataset
        self.threaded = threaded
        self.batch_size = max(1, int(batch_size))
        self.workers = max(1, int(workers))
        self._async, self.max_in_flight = None, None
        self.max_in_flight_requested = int(max_in_flight or 0)
        if is_async(backend):
            self._async = backend
        elif max_in_flight and scenario in ("MultiStream", "Server", "Offline"):
            self._async = ThreadedBackend(backend, max_in_flight)
        if self._async is not None:
            self.threaded = False  # no worker threads of our own: the backend answers later
            self.max_in_flight = int(max_in_flight or DEFAULT_MAX_IN_FLIGHT)
            setter = getattr(self._async, "set_max_in_flight", None)
            if setter is not None:  # e.g. the HTTP backend opens one connection per request
                setter(self.max_in_flight)
            if scenario == "MultiStream":  # the query's samples go out as concurrent requests
                self.batch_size = max(1, math.ceil(self.batch_size / self.max_in_flight))
        self._waiting = collections.deque()
        self._lock = threading.Lock()
        self._tls = threading.local()
        self._in_flight = 0
        self._generation = 0
        self.server_statistics = None
        self.watchdog_timeout_ns = int(watchdog_timeout_s * 1e9)
        self.cancel_grace_ns = int(cancel_grace_s * 1e9)
        self.on_stuck = on_stuck
        self.log = log
        self.cancel_reason = None
        self.cancel_status = "cancelled"
        self.user_interrupts = 0
        self.load_error = None
        self._writer = None
        self._pending = {}
        self._in_predict = False
        self._seq = 0
        self._qseq = 0
        self._queue = None
        self._threads = []
        self._cancel_ns = None
        self._running = False
        self._issued = False       # LoadGen has called issue() in this test
        self._loading = False      # inside a QSL load/unload callback (the dataset's time)
        self._quiet_since = 0      # start of the test, or the end of the last QSL callback

    # -- LoadGen callbacks: none may raise (an escaping exception crashes the interpreter) --
    def issue(self, ids, indices):
        t_issue = time.time_ns()
        self._issued = True
        n = len(ids)
        seq0 = self._seq
        self._seq = seq0 + n
        qseq = self._qseq
        self._qseq = qseq + 1
        if self.threaded:
            self._pending[seq0] = (time.perf_counter_ns(), ids, indices, qseq, t_issue)
            self._queue.put(seq0)
            return
        bs = self.batch_size
        if self._async is not None:
            for start in range(0, n, bs):  # queued with no start time; _pump sends them
                self._pending[seq0 + start] = (None, ids[start:start + bs],
                                               indices[start:start + bs], qseq, t_issue)
                self._waiting.append(seq0 + start)
            self._pump()
            return
        if n <= bs:  # the common case, written out: this path runs up to ~300k times a second
            self._pending[seq0] = (time.perf_counter_ns(), ids, indices, qseq, t_issue)
            self._execute(seq0, ids, indices, qseq, t_issue)
            return
        for start in range(0, n, bs):
            self._run_batch(seq0 + start, ids[start:start + bs], indices[start:start + bs],
                            qseq, t_issue)

    def _pend_samples(self, ids, indices):
        """For SUTs that queue every sample as a job of its own (the pool, the pipeline): stamp
        the issue, hold each sample as pending under its key (not started) and return the keys
        with the arrival time, for the caller to queue."""
        t_issue = time.time_ns()
        t_arrive = time.perf_counter_ns()
        self._issued = True
        seq0, qseq = self._seq, self._qseq
        self._seq, self._qseq = seq0 + len(ids), qseq + 1
        for j in range(len(ids)):  # Server issues one sample per query; a job per sample anyway
            self._pending[seq0 + j] = (None, ids[j:j + 1], indices[j:j + 1], qseq, t_issue)
        return range(seq0, seq0 + len(ids)), t_arrive

    def flush(self):
        pass

    def load_samples(self, indices):
        self._loading = True
        try:
            self.dataset.load_query_samples(list(indices))
        except BaseException as exc:  # noqa: BLE001 — must not reach LoadGen
            self.load_error = _one_line(exc)
            self.cancel(f"dataset failed to load samples: {self.load_error}", "error")
        finally:
            self._quiet_since, self._loading = time.perf_counter_ns(), False

    def unload_samples(self, indices):
        self._loading = True
        try:
            self.dataset.unload_query_samples(list(indices))
        except BaseException as exc:  # noqa: BLE001
            self.log(f"warning: dataset failed to unload samples: {_one_line(exc)}")
        finally:
            self._quiet_since, self._loading = time.perf_counter_ns(), False

    # -- dispatch -------------------------------------------------------------------------
    def _run_batch(self, key, ids, indices, qseq, t_issue):
        self._pending[key] = (time.perf_counter_ns(), ids, indices, qseq, t_issue)
        self._execute(key, ids, indices, qseq, t_issue)

    def _execute(self, key, ids, indices, qseq, t_issue):
        n = len(ids)
        status, error, arr, parts, compute = "ok", None, None, None, 0
        if self.cancel_reason is not None:
            status, error = "cancelled", self.cancel_reason
        else:
            try:
                inputs = self.dataset.get_samples(indices)
                self._in_predict = True
                c0 = time.perf_counter_ns()
                outs = self.backend.predict(inputs)
                compute = time.perf_counter_ns() - c0
                self._in_predict = False
                arr, parts = _as_outputs(outs, n)
            except _Interrupted:
                self._in_predict = False
                status, error = self.cancel_status, self.cancel_reason
            except BaseException as exc:  # noqa: BLE001 — a failing backend must not kill LoadGen
                self._in_predict = False
                status, error = "error", _one_line(exc)
        if self._pending.pop(key, None) is None:
            return  # the watchdog completed these samples already
        responses, outputs = responses_for(ids, arr, parts)
        t_done = time.time_ns()
        lg.QuerySamplesComplete(responses)
        self._writer.add((n, qseq, key, indices[0] if n == 1 else indices, t_issue, t_done,
                          compute, status, error, outputs, None))

    # -- asynchronous dispatch (never raises: it runs in LoadGen's and the backend's threads) --
    def _pump(self):
        """Send queued requests while fewer than ``max_in_flight`` are outstanding.

        Not re-entered on one thread: an answer given synchronously inside ``submit`` (or a
        ``submit`` that raises) lets this loop go on, instead of recursing once per request."""
        tls = self._tls
        if getattr(tls, "pumping", False):
            return
        tls.pumping = True
        try:
            self._pump_loop()
        finally:
            tls.pumping = False

    def _pump_loop(self):
        while True:
            with self._lock:
                if (self._in_flight >= self.max_in_flight or not self._waiting
                        or self.cancel_reason is not None):
                    return
                key = self._waiting.popleft()
                # pop, then put back with its start time: if the watchdog completed it in
                # between, it is gone and stays gone (never completed twice)
                item = self._pending.pop(key, None)
                if item is None:
                    continue
                self._in_flight += 1
                t0 = time.perf_counter_ns()
                self._pending[key] = (t0,) + item[1:]
            done = functools.partial(self._on_done, self._generation, key, t0)
            try:
                self._async.submit(self.dataset.get_samples(item[2]), done)
            except BaseException as exc:  # noqa: BLE001 — becomes this request's answer
                done(None, exc, None)

    def _on_done(self, generation, key, t0, outs, error, server):
        try:
            self._answer(generation, key, t0, outs, error, server)
        except BaseException as exc:  # noqa: BLE001 — a lost completion would hang LoadGen
            self.cancel(f"internal error while completing a request: {_one_line(exc)}", "error")
        finally:
            if generation == self._generation:
                with self._lock:
                    self._in_flight -= 1
                self._pump()

    def _answer(self, generation, key, t0, outs, error, server):
        compute = time.perf_counter_ns() - t0
        if generation != self._generation:
            return  # a late answer to a request of an earlier test (the watchdog ended it)
        item = self._pending.get(key)
        if item is None:
            return
        _, ids, indices, qseq, t_issue = item
        n = len(ids)
        status, err_text, arr, parts = "ok", None, None, None
        if error is None:
            try:
                arr, parts = _as_outputs(outs, n)
            except Exception as exc:  # noqa: BLE001 — a malformed answer is this batch's error
                status, err_text = "error", _one_line(exc)
        else:
            status, err_text = "error", _one_line(error)
            if getattr(error, "fatal", False):
                self.cancel(f"remote backend failed: {err_text}", "error")
        timing = None
        if server:
            timing = (server.get("queue_ns"), server.get("compute_ns"))
        if self._pending.pop(key, None) is None:
            return  # the watchdog completed these samples already
        responses, outputs = responses_for(ids, arr, parts)
        t_done = time.time_ns()
        lg.QuerySamplesComplete(responses)
        self._writer.add((n, qseq, key, indices[0] if n == 1 else indices, t_issue, t_done,
                          compute, status, err_text, outputs, timing))

    def dispatch_info(self):
        """How samples reach the backend (recorded in the run's metadata)."""
        asked = {"max_in_flight_requested": self.max_in_flight_requested}
        if self._async is not None:
            kind = "async" if self._async is self.backend else "async-threads"
            return {"mode": kind, "max_in_flight": self.max_in_flight,
                    "request_batch_size": self.batch_size, **asked}
        if self.threaded:
            return {"mode": "worker-threads", "max_in_flight": self.workers,
                    "request_batch_size": self.batch_size, **asked}
        return {"mode": "inline", "max_in_flight": 1, "request_batch_size": self.batch_size,
                **asked}

    def _worker(self):
        while True:
            key = self._queue.get()
            if key is None:
                return
            item = self._pending.get(key)
            if item is None:
                continue
            _, ids, indices, qseq, t_issue = item
            self._execute(key, ids, indices, qseq, t_issue)

    # -- cancellation and watchdog ------------------------------------------------------
    def cancel(self, reason, status="cancelled"):
        if self.cancel_reason is None:
            self.cancel_status = status
            self.cancel_reason = reason
            self._cancel_ns = time.perf_counter_ns()

    def _complete_pending(self, keys, status, error):
        for key in keys:
            item = self._pending.pop(key, None)
            if item is None:
                continue
            _, ids, indices, qseq, t_issue = item
            t_done = time.time_ns()
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])
            n = len(ids)
            self._writer.add((n, qseq, key, indices[0] if n == 1 else indices, t_issue, t_done,
                              0, status, error, None, None))

    def _watch(self, wake_fd, main_ident):
        interrupted_main = False
        while self._running:
            if wake_fd is not None:
                ready, _, _ = select.select([wake_fd], [], [], 0.05)
                if ready:
                    for signum in os.read(wake_fd, 64):
                        if signum in _SIGNALS_CANCEL:
                            self._on_user_cancel(signal.Signals(signum).name)
            else:
                time.sleep(0.05)
            now = time.perf_counter_ns()
            if not self._issued and not self._loading and self.cancel_reason is None \
                    and now - self._quiet_since > self.watchdog_timeout_ns and self.on_stuck is not None:
                # LoadGen itself is stuck before its first query (e.g. a schedule it cannot
                # build): there is nothing to complete that would free it, so leave.
                self.cancel(f"LoadGen did not start issuing queries within "
                            f"{self.watchdog_timeout_ns / 1e9:g} s (watchdog)", "timeout")
                self.on_stuck(self.cancel_reason)
                return
            if self.cancel_reason is None:
                late = [k for k, v in list(self._pending.items())
                        if v[0] is not None and now - v[0] > self.watchdog_timeout_ns]
                if late:
                    self.cancel(f"backend did not answer within {self.watchdog_timeout_ns / 1e9:g} s "
                                f"(watchdog); {len(late)} batch(es) completed as timed out",
                                "timeout")
                    self.log(f"tailq: {self.cancel_reason}; ending the run")
                    self._complete_pending(late, "timeout", "watchdog: no answer in time")
            if self.cancel_reason is not None:
                self._complete_pending(list(self._pending), self.cancel_status, self.cancel_reason)
                if self._in_predict and main_ident is not None and not interrupted_main \
                        and not self.threaded:
                    interrupted_main = True
                    signal.pthread_kill(main_ident, _SIGNAL_INTERRUPT)
                if now - self._cancel_ns > self.cancel_grace_ns and self.on_stuck is not None:
                    self.on_stuck(f"{self.cancel_reason}; LoadGen did not finish within "
                                  f"{self.cancel_grace_ns / 1e9:g} s after cancelling")
                    return

    def _on_user_cancel(self, name):
        self.user_interrupts += 1
        if self.user_interrupts == 1:
            self.cancel(f"interrupted by {name}", "cancelled")
            self.log(f"tailq: {name} received; finishing LoadGen's test with the remaining samples "
                     "cancelled (press Ctrl-C again to stop at once)")
        elif self.on_stuck is not None:
            self.on_stuck(f"interrupted twice by {name}")

    # -- one LoadGen test ---------------------------------------------------------------
    def start_test(self, sut, qsl, settings, log_settings, writer, audit_config=""):
        """Run ``lg.StartTestWithLogSettings`` with recording, signals and watchdog around it.

        ``audit_config``: the path LoadGen reads an audit.config from; "" (never the
        binding's default "audit.config", which a stray file in the working directory would
        silently satisfy) reads none."""
        self._writer = writer
        self._seq = self._qseq = 0
        self._pending.clear()
        self._issued, self._quiet_since = False, time.perf_counter_ns()
        self._waiting.clear()
        self._in_flight = 0
        self._generation += 1
        self._running = True
        stats_before = self._server_statistics()
        if isinstance(self._async, ThreadedBackend):
            self._async.start()
        on_main = threading.current_thread() is threading.main_thread()
        saved, wake_r, wake_w, old_wakeup = {}, None, None, None
        if on_main:
            wake_r, wake_w = os.pipe()
            os.set_blocking(wake_w, False)
            old_wakeup = signal.set_wakeup_fd(wake_w)
            for s in _SIGNALS_CANCEL + (_SIGNAL_INTERRUPT,):
                saved[s] = signal.signal(s, self._signal_handler)
        if self.threaded:
            self._queue = queue.SimpleQueue()
            self._threads = [threading.Thread(target=self._worker, name=f"tailq-worker-{i}",
                                              daemon=True) for i in range(self.workers)]
            for t in self._threads:
                t.start()
        watchdog = threading.Thread(target=self._watch, name="tailq-watchdog", daemon=True,
                                    args=(wake_r, threading.main_thread().ident if on_main else None))
        watchdog.start()
        try:
            lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, audit_config)
        finally:
            self._running = False
            watchdog.join()
            self.server_statistics = _statistics_delta(stats_before, self._server_statistics())
            for _ in self._threads:
                self._queue.put(None)
            for t in self._threads:
                t.join(timeout=1.0)  # a worker stuck in a hung backend is left behind (daemon)
            self._threads = []
            if on_main:
                for s, h in saved.items():
                    signal.signal(s, h)
                signal.set_wakeup_fd(old_wakeup)
                os.close(wake_r)
                os.close(wake_w)

    def _server_statistics(self):
        get = getattr(self._async, "statistics", None)
        if get is None or self.cancel_reason is not None:
            return None
        try:
            return get()
        except Exception:  # noqa: BLE001 — statistics are a bonus; a dead server has none
            return None

    def close(self):
        """Release the backend's threads and connections (after the last test)."""
        close = getattr(self._async, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001
                self.log(f"warning: closing the backend failed: {_one_line(exc)}")

    def _signal_handler(self, signum, frame):
        # Runs on the main thread between bytecodes. Only breaks out of a running inline
        # predict; the watchdog thread (woken through the wakeup fd) does the rest.
        if signum in _SIGNALS_CANCEL and self.cancel_reason is None:
            self.cancel(f"interrupted by {signal.Signals(signum).name}", "cancelled")
        if self._in_predict:
            raise _Interrupted()


def responses_for(ids, arr, parts):
    """LoadGen's responses for one batch and the outputs they point into: ``arr`` (one row
    per sample), ``parts`` (one array per sample) or neither (empty answers). The outputs
    must stay referenced until ``QuerySamplesComplete`` has returned (loadgen-facts trap 4)."""
    if arr is not None:
        base = arr.__array_interface__["data"][0]
        size = arr.nbytes // len(ids) if ids else 0
        return [lg.QuerySampleResponse(i, base + k * size, size) for k, i in enumerate(ids)], arr
    if parts is not None:
        return [lg.QuerySampleResponse(i, p.__array_interface__["data"][0], p.nbytes)
                for i, p in zip(ids, parts)], parts
    return [lg.QuerySampleResponse(i, 0, 0) for i in ids], None


def _statistics_delta(before, after):
    """Per-key difference of two cumulative server statistics snapshots (flat dicts of
    numbers), or None when the server keeps none."""
    if not before or not after:
        return None
    return {k: after[k] - before.get(k, 0) for k in after
            if isinstance(after[k], (int, float)) and not isinstance(after[k], bool)}


def _as_outputs(outs, n):
    """(array with n rows, None) or (None, list of n arrays); raises on a malformed answer."""
    if isinstance(outs, np.ndarray):
        if outs.ndim == 0 or outs.shape[0] != n:
            raise ValueError(f"backend returned an array of shape {outs.shape} for {n} samples")
        _has_bytes(outs)
        return np.ascontiguousarray(outs), None
    if isinstance(outs, (list, tuple)):
        if len(outs) != n:
            raise ValueError(f"backend returned {len(outs)} outputs for {n} samples")
        parts = [np.ascontiguousarray(o) for o in outs]
        for p in parts:
            _has_bytes(p)
        return None, parts
    raise TypeError(f"backend returned {type(outs).__name__}; expected an array with one row "
                    "per sample or a list of per-sample arrays")


def _has_bytes(arr):
    # An object array (or a list holding None) has pointers, not an answer, in its memory:
    # LoadGen would log garbage and the record could not hold it. An error row says why.
    if arr.dtype.hasobject:
        raise TypeError(f"backend returned an output of dtype {arr.dtype} (Python objects); "
                        "return numbers (an array with one row per sample)")
