"""Writes one pass's records as Parquet segments while the pass runs.

The capture's hot path only appends a tuple to a deque (thread-safe, no lock); a background
thread drains it and writes a segment whenever ``rows_per_segment`` rows are waiting or
``seconds_per_segment`` have passed. A SIGKILL therefore loses at most the last few seconds
of records, and everything written before stays readable.

No record is lost on the way to disk:

* outputs the format cannot store (object arrays, a list holding ``None``, …) become rows
  with status ``error`` and the reason, never a lost pass;
* a segment that cannot be written (a full disk, an I/O error) keeps its rows; they are
  written with the next segment, and ``close`` tries again for ``close_retry_s`` before it
  raises ``WriteFailed`` naming how many rows could not reach the disk.

A chunk is one predict call's result:
``(n, query_seq, first_sample_seq, sample_index(es), issue_ns, complete_ns, compute_ns,
status, error, outputs, extra)`` where ``sample_index(es)`` is an int when ``n == 1`` and a sequence
otherwise, and ``outputs`` is ``None`` (empty outputs), one array whose first axis has ``n``
rows, or a list of ``n`` arrays (``n == 1``: the array of that one sample). ``extra`` is None
or a tuple that fills, in order, the nullable columns of ``EXTRA_COLUMNS`` for every sample
of the chunk: ``(queue_ns, compute_ns)`` as a remote server reported them, or
``(None, None, variant, server, wait_ns, service_ns)`` from a pool SUT; a shorter tuple, or a
None inside it, leaves those columns null.
"""

import collections
import operator
import os
import threading
import time

import numpy as np
import pyarrow as pa

from .._errors import RunFailed
from ._io import write_parquet_atomic
from ._schema import SCHEMA, build_table

_EMPTY = np.zeros(0, dtype=np.uint8)
# The nullable columns a chunk's ``extra`` tuple fills, in its order, with their NumPy types.
EXTRA_COLUMNS = (("server_queue_ns", np.int64), ("server_compute_ns", np.int64),
                 ("variant", object), ("server", np.int32), ("wait_ns", np.int64),
                 ("service_ns", np.int64))
_DTYPE = operator.attrgetter("dtype")
_KINDS = "biufcSU"  # dtypes whose bytes are the value (metadata records the dtype to decode them)


class WriteFailed(RunFailed):
    """Records could not be written to disk even after retrying."""


class OutputSpec:
    """Dtype and per-sample shape of the outputs seen so far (None where they varied)."""

    def __init__(self):
        self.dtype = None
        self.shape = None
        self._seen = False
        self.varies = False

    def observe(self, arr, per_sample_shape):
        if not self._seen:
            self.dtype, self.shape, self._seen = arr.dtype.str, list(per_sample_shape), True
            return
        if arr.dtype.str != self.dtype:
            self.dtype, self.varies = None, True
        if self.shape is not None and list(per_sample_shape) != self.shape:
            self.shape, self.varies = None, True

    def as_dict(self):
        return {"dtype": self.dtype, "shape": self.shape}


class _Unstorable(Exception):
    pass


def _storable(arr):
    if not isinstance(arr, np.ndarray):
        raise _Unstorable(f"an output is {type(arr).__name__}, not an array")
    if arr.dtype.hasobject:
        raise _Unstorable(f"an output has dtype {arr.dtype} (Python objects), which has no bytes "
                          "to record")
    if arr.dtype.kind not in _KINDS:
        raise _Unstorable(f"an output has dtype {arr.dtype}; record numbers, bytes or text")
    return np.ascontiguousarray(arr)


class PassWriter:
    """Collects one pass's chunks; writes ``seg-NNNNN.parquet`` files into ``segment_dir``."""

    def __init__(self, segment_dir, pass_index, *, rows_per_segment=65536,
                 seconds_per_segment=2.0, wrapper_latency=False, close_retry_s=5.0, log=None):
        os.makedirs(segment_dir, exist_ok=True)
        self.segment_dir = segment_dir
        self.pass_index = int(pass_index)
        self.rows_per_segment = int(rows_per_segment)
        self.seconds_per_segment = float(seconds_per_segment)
        self.wrapper_latency = wrapper_latency
        self.close_retry_s = float(close_retry_s)
        self.log = log
        self.outputs = OutputSpec()
        self.rows_written = 0
        self.status_counts = collections.Counter()
        self.write_errors = 0       # segment writes that failed (and were retried)
        self.last_write_error = None
        self.unstorable = 0         # rows whose output could not be stored (status error)
        self._queue = collections.deque()
        self._retry = []            # chunks of a failed segment write, written first next time
        self._segments = 0
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="tailq-writer", daemon=True)
        self._thread.start()

    # -- hot path ---------------------------------------------------------------------------
    def add(self, chunk):
        self._queue.append(chunk)
        if len(self._queue) >= self.rows_per_segment:
            self._wake.set()

    def pending_chunks(self):
        """Chunks queued and not yet written (read by the progress thread; O(1))."""
        return len(self._queue)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def pending_rows(self):
        return sum(c[0] for c in self._retry) + sum(c[0] for c in list(self._queue))

    def flush(self):
        """Write what is queued now (writer thread, close, or an emergency stop). A failed
        write keeps its chunks for the next call and re-raises the error."""
        with self._flush_lock:
            items, self._retry = self._retry, []
            popleft = self._queue.popleft
            while True:
                try:
                    items.append(popleft())
                except IndexError:
                    break
            if not items:
                return
            try:
                self._write_segment(items)
            except BaseException as exc:
                self._retry = items
                self.write_errors += 1
                self.last_write_error = exc
                raise

    def close(self):
        """Stop the thread and write everything; raises WriteFailed if rows cannot be written."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        deadline = time.monotonic() + self.close_retry_s
        while True:
            try:
                self.flush()
                return
            except Exception as exc:  # noqa: BLE001 — retried, then reported
                if time.monotonic() >= deadline:
                    n = self.pending_rows
                    raise WriteFailed(
                        f"records of pass {self.pass_index} could not be written ({_one_line(exc)}); "
                        f"{n} records did not reach the disk, {self.rows_written} did") from None
                time.sleep(0.2)

    def _loop(self):
        reported = False
        while not self._stop:
            self._wake.wait(self.seconds_per_segment)
            self._wake.clear()
            try:
                self.flush()
                reported = False
            except Exception as exc:  # noqa: BLE001 — kept and retried; close() reports it
                if not reported and self.log is not None:
                    self.log(f"tailq: warning: could not write records ({_one_line(exc)}); "
                             "keeping them and trying again")
                reported = True

    # -- conversion ---------------------------------------------------------------------------
    def _write_segment(self, items):
        table, counts = self._to_table(items)
        path = os.path.join(self.segment_dir, f"seg-{self._segments:05d}.parquet")
        write_parquet_atomic(table, path)
        self._segments += 1
        self.rows_written += table.num_rows
        self.status_counts.update(counts)

    def _to_table(self, items):
        (ns, qseq, seq0, idx, t_issue, t_done, compute, status, error, outputs,
         extra) = zip(*items)
        rows = len(ns)
        counts = np.fromiter(ns, dtype=np.int64, count=rows)
        total = int(counts.sum())
        output_col, bad = self._outputs_array(outputs, counts)
        if bad:  # rows whose outputs could not be stored are errors that say why
            status, error = list(status), list(error)
            for k, reason in bad.items():
                status[k], error[k] = "error", reason
        if total == rows:
            # One sample per chunk (SingleStream, Server): every column is per row already.
            # This is the path that runs at LoadGen's highest query rates, so no repeats.
            def per_row(values, dtype):
                return np.fromiter(values, dtype=dtype, count=rows)

            sample_index = per_row(idx, np.int64)
            sample_seq = per_row(seq0, np.int64)
            status_rows, error_rows = list(status), list(error)
            status_counts = collections.Counter(status)
            batch = counts.astype(np.int32)
        else:
            def per_row(values, dtype):
                return np.repeat(np.fromiter(values, dtype=dtype, count=rows), counts)

            sample_index = np.concatenate([np.atleast_1d(np.asarray(i, dtype=np.int64)) for i in idx])
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            sample_seq = per_row(seq0, np.int64) + (np.arange(total) - starts)
            status_rows = np.repeat(np.asarray(status, dtype=object), counts)
            error_rows = np.repeat(np.asarray(error, dtype=object), counts)
            status_counts = collections.Counter()
            for s, c in zip(status, counts):
                status_counts[s] += int(c)
            batch = np.repeat(counts.astype(np.int32), counts)
        issue_ns = per_row(t_issue, np.int64)
        complete_ns = per_row(t_done, np.int64)
        table = build_table(
            SCHEMA,
            **{"pass": np.full(total, self.pass_index, dtype=np.int32)},
            query_seq=per_row(qseq, np.int64), sample_seq=sample_seq, sample_index=sample_index,
            latency_ns=(complete_ns - issue_ns) if self.wrapper_latency else None,
            wrapper_issue_ns=issue_ns, wrapper_complete_ns=complete_ns,
            compute_ns=per_row(compute, np.int64), batch_size=batch,
            status=pa.array(status_rows, type=pa.string()),
            error=pa.array(error_rows, type=pa.string()), output=output_col,
            **_extra_columns(extra, counts, total))
        return table, status_counts

    def _outputs_array(self, outputs, counts):
        """(binary column, {chunk: reason} for chunks whose outputs could not be stored)."""
        fast = _stack_uniform(outputs)
        if fast is not None:  # the common case: one dtype and per-sample shape for all chunks
            self.outputs.observe(fast, fast.shape[1:])
            raw = fast.reshape(fast.shape[0], -1).view(np.uint8)
            width = raw.shape[1]
            offsets = np.arange(raw.shape[0] + 1, dtype=np.int64) * width
            return _binary(offsets, raw.reshape(-1)), {}
        pieces, lengths, bad = [], [], {}
        for k, (out, n) in enumerate(zip(outputs, counts)):
            n = int(n)
            if out is None:
                lengths.extend([0] * n)
                continue
            try:
                if isinstance(out, np.ndarray):  # one row per sample (checked by the capture)
                    arr = _storable(out)
                    raw = arr.reshape(n, -1).view(np.uint8)
                    parts = [(arr, arr.shape[1:], raw.reshape(-1), [raw.shape[1]] * n)]
                else:  # a list of per-sample arrays of possibly different shapes
                    parts = []
                    for o in out:
                        o = _storable(o if isinstance(o, np.ndarray) else np.asarray(o))
                        parts.append((o, o.shape, o.reshape(-1).view(np.uint8), [o.nbytes]))
                    if len(parts) != n:
                        raise _Unstorable(f"{len(parts)} outputs for {n} samples")
            except (_Unstorable, TypeError, ValueError) as exc:
                bad[k] = f"output not recorded: {exc}"[:500]
                self.unstorable += n
                lengths.extend([0] * n)
                continue
            for arr, shape, data, lens in parts:
                self.outputs.observe(arr, shape)
                pieces.append(data)
                lengths.extend(lens)
        data = np.concatenate(pieces) if pieces else _EMPTY
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return _binary(offsets, data), bad


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _extra_columns(extra, counts, total):
    """The ``EXTRA_COLUMNS`` the chunks' ``extra`` tuples fill, per sample; columns no chunk
    fills are left out (``build_table`` makes them null)."""
    if extra.count(None) == len(extra):  # plain in-process backends: the common, cheap case
        return {}
    width = max(len(e) for e in extra if e is not None)
    repeat = total != len(extra)
    out = {}
    for k, (name, kind) in enumerate(EXTRA_COLUMNS[:width]):
        values = [None if e is None or len(e) <= k else e[k] for e in extra]
        if values.count(None) == len(values):
            continue
        if kind is object:  # text: repeated per sample, nulls kept
            arr = np.asarray(values, dtype=object)
            out[name] = pa.array(np.repeat(arr, counts) if repeat else arr, type=pa.string())
            continue
        mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        arr = np.fromiter((0 if v is None else v for v in values), dtype=kind, count=len(values))
        if repeat:
            arr, mask = np.repeat(arr, counts), np.repeat(mask, counts)
        out[name] = pa.array(arr, mask=mask)
    return out


def _stack_uniform(outputs):
    """All chunks' outputs as one (rows, *shape) array, or None unless all share dtype and shape."""
    # set(map(...)) runs in C: this is called on up to a segment's worth of chunks.
    if set(map(type, outputs)) != {np.ndarray}:
        return None
    dtypes = set(map(_DTYPE, outputs))
    if len(dtypes) != 1 or next(iter(dtypes)).kind not in _KINDS:
        return None
    try:  # concatenate itself checks that every per-sample shape (and ndim ≥ 1) agrees
        return np.ascontiguousarray(np.concatenate(outputs))
    except ValueError:
        return None


def _binary(offsets, data):
    return pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)]).cast(pa.binary())
