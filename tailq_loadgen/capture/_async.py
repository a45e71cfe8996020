"""The asynchronous backend protocol, and an in-process adapter for synchronous backends.

An *asynchronous backend* has, besides ``name()``, ``version()`` and ``load()``:

``submit(inputs, done)``
    starts inference on ``inputs`` (what the dataset's ``get_samples`` returned) and returns
    at once; later, on any thread, it calls ``done(outputs, error, server_timing)`` exactly
    once — ``outputs`` as ``predict`` would return them (None on failure), ``error`` an
    exception or None, ``server_timing`` ``{"queue_ns": int, "compute_ns": int}`` when the
    server reported its own timing for this request, else None. An error whose ``fatal``
    attribute is true (the server is gone) ends the run.

Optional: ``predict(inputs)`` (used for warm-up), ``set_max_in_flight(k)`` (told the limit
before ``load``), ``statistics()`` (cumulative server-side counters, compared before and
after each test) and ``close()``.

The capture (``_sut.CaptureSUT``) keeps at most ``max_in_flight`` requests outstanding and
queues the rest, so LoadGen's issue callback never blocks.
"""

import queue
import threading

# Default limit on requests in flight for a backend that is asynchronous by nature (remote).
DEFAULT_MAX_IN_FLIGHT = 8


def is_async(backend):
    return callable(getattr(backend, "submit", None))


def stop_workers(work_queue, threads, timeout_s=1.0):
    """Stop worker threads that take items from ``work_queue`` until they get ``None``; returns
    the empty list that replaces ``threads``. A thread stuck in a hung call (a predict, a stalled
    server) is left behind after ``timeout_s``: the workers are daemons."""
    for _ in threads:
        work_queue.put(None)
    for t in threads:
        t.join(timeout=timeout_s)
    return []


class ThreadedBackend:
    """A synchronous in-process backend made asynchronous: ``k`` threads call ``predict``.

    With ``k`` worker threads, ``k`` requests can be in flight at once; the capture's limit
    is set to the same ``k``. Frameworks that release the GIL inside ``predict`` (PyTorch,
    ONNX Runtime, TensorFlow) then run requests concurrently.
    """

    def __init__(self, backend, workers):
        self.backend = backend
        self.workers = max(1, int(workers))
        self._queue = queue.SimpleQueue()
        self._threads = []

    def name(self):
        return self.backend.name()

    def version(self):
        return self.backend.version()

    def load(self):
        return self  # the wrapped backend is loaded by the capture already

    def predict(self, inputs):
        return self.backend.predict(inputs)

    def start(self):
        if self._threads:
            return
        self._threads = [threading.Thread(target=self._work, name=f"tailq-inproc-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def submit(self, inputs, done):
        self._queue.put((inputs, done))

    def close(self):
        self._threads = stop_workers(self._queue, self._threads)

    def _work(self):
        predict = self.backend.predict
        while True:
            item = self._queue.get()
            if item is None:
                return
            inputs, done = item
            try:
                out = predict(inputs)
            except BaseException as exc:  # noqa: BLE001 — handed to the capture as the answer
                done(None, exc, None)
                continue
            done(out, None, None)
