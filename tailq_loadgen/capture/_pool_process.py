"""A pool server's backend in its own worker process, for runtimes that hold the GIL.

The pool SUT (``_pool.py``) keeps one thread per server either way: the thread owns the
sample's bookkeeping (pending, completion, record) and, for a process server, hands the
inputs to its worker over a pipe and blocks on the answer — blocking on a pipe releases the
GIL, so a model that holds it computes in a process of its own, in parallel with the others
and with LoadGen. The worker is started with ``spawn`` (no copy of the parent's threads or
locks) and builds its backend by calling ``build()``, a picklable function given by the
caller (the CLI passes one that builds a *registered* harness by name: code of ours, never
anything read from a run directory).

The pipe carries bytes only, both ways: a 4-byte length, a JSON header (dtype, shape,
status, the service time the worker measured around ``predict``) and the array's raw bytes.
Nothing is unpickled from a worker. Arrays of Python objects are refused (their bytes are
pointers). A worker that dies — killed, crashed, out of memory — closes its end of the pipe:
the waiting thread gets ``WorkerDied``, which the pool turns into a failed run.
"""

import json
import multiprocessing
import struct
import time

import numpy as np

_READY_TIMEOUT_S = 300.0  # a worker imports its framework and loads its model (seconds on 2 cores)
_STOP = b""


class WorkerDied(RuntimeError):
    """The worker process of a pool server ended while the pool needed it."""


def _pack(header, arr=None):
    if arr is not None:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"a process server passes arrays only, got {type(arr).__name__}")
        if arr.dtype.hasobject:
            raise TypeError(f"a process server cannot pass an array of dtype {arr.dtype} (Python objects)")
        arr = np.ascontiguousarray(arr)
        header = {**header, "dtype": arr.dtype.str, "shape": list(arr.shape)}
    head = json.dumps(header).encode()
    return struct.pack("<I", len(head)) + head + (arr.tobytes() if arr is not None else b"")


def _unpack(data):
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4:4 + n].decode())
    arr = None
    if "dtype" in header:
        dtype = np.dtype(header["dtype"])
        if dtype.hasobject:
            raise ValueError("a process server sent an array of Python objects")
        arr = np.frombuffer(data, dtype=dtype, offset=4 + n).reshape(header["shape"])
    return header, arr


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _worker_main(conn, build):
    """The worker: build the backend, then answer ``predict`` requests until told to stop."""
    try:
        backend = build()
        conn.send_bytes(_pack({"ready": True, "name": backend.name(), "version": backend.version()}))
    except BaseException as exc:  # noqa: BLE001 — the parent reports it
        conn.send_bytes(_pack({"ready": False, "error": _one_line(exc)}))
        return
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent is gone
        if msg == _STOP:
            return
        service = 0
        try:
            _, inputs = _unpack(msg)
            inputs = inputs.copy()  # writable, as a dataset's own arrays are (torch warns otherwise)
            c0 = time.perf_counter_ns()
            outs = backend.predict(inputs)
            service = time.perf_counter_ns() - c0
            reply = _pack({"ok": True, "service_ns": service}, np.asarray(outs))
        except BaseException as exc:  # noqa: BLE001 — this sample's error, the worker lives on
            reply = _pack({"ok": False, "service_ns": service, "error": _one_line(exc)})
        conn.send_bytes(reply)


class ProcessServer:
    """The parent's end of one worker: ``predict(inputs)`` as a backend, over the pipe.

    Used by exactly one pool server thread; ``last_service_ns`` is the worker's own
    measurement of its last ``predict`` (the pipe's cost is not in it)."""

    def __init__(self, build, label):
        self.build, self.label = build, label
        self.process, self._conn, self.last_service_ns = None, None, 0

    @property
    def pid(self):
        return None if self.process is None else self.process.pid

    def start(self):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, self.build), daemon=True,
                                   name=f"tailq-{self.label}")
        self.process.start()
        child.close()
        return self

    def wait_ready(self, timeout_s=_READY_TIMEOUT_S):
        if not self._conn.poll(timeout_s):
            raise WorkerDied(f"{self.label}: its worker process did not start within {timeout_s:g} s")
        header, _ = _unpack(self._recv())
        if not header.get("ready"):
            raise WorkerDied(f"{self.label}: its worker process could not build the backend "
                             f"({header.get('error')})")
        return header

    def _recv(self):
        try:
            return self._conn.recv_bytes()
        except (EOFError, OSError):
            raise WorkerDied(self._died()) from None

    def _died(self):
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        return (f"{self.label}: its worker process (pid {self.process.pid}) died"
                + (f" with exit code {code}" if code is not None else ""))

    def predict(self, inputs):
        msg = _pack({}, np.asarray(inputs))
        try:
            self._conn.send_bytes(msg)
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._died()) from None
        header, arr = _unpack(self._recv())
        self.last_service_ns = int(header.get("service_ns") or 0)
        if not header.get("ok"):
            raise RuntimeError(header.get("error") or "the worker's backend failed")
        return arr

    def close(self, timeout_s=5.0):
        if self.process is None:
            return
        try:
            self._conn.send_bytes(_STOP)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=timeout_s)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=timeout_s)
        self._conn.close()
        self.process = None
