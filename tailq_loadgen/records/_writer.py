"""Writes one pass's records as Parquet segments while the pass runs.

The capture's hot path only appends a tuple to a deque (thread-safe, no lock); a background
thread drains it and writes a segment whenever ``rows_per_segment`` rows are waiting or
``seconds_per_segment`` have passed. A SIGKILL therefore loses at most the last few seconds
of records, and everything written before stays readable.

A chunk is one predict call's result:
``(n, query_seq, first_sample_seq, sample_index(es), issue_ns, complete_ns, compute_ns,
status, error, outputs, server)`` where ``sample_index(es)`` is an int when ``n == 1`` and a sequence
otherwise, and ``outputs`` is ``None`` (empty outputs), one array whose first axis has ``n``
rows, or a list of ``n`` arrays (``n == 1``: the array of that one sample), and ``server``
is None or ``(queue_ns, compute_ns)`` as a remote server reported them for the request.
"""

import collections
import operator
import os
import threading

import numpy as np
import pyarrow as pa

from ._io import write_parquet_atomic
from ._schema import SCHEMA

_EMPTY = np.zeros(0, dtype=np.uint8)
_DTYPE = operator.attrgetter("dtype")


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


class PassWriter:
    """Collects one pass's chunks; writes ``seg-NNNNN.parquet`` files into ``segment_dir``."""

    def __init__(self, segment_dir, pass_index, *, rows_per_segment=65536,
                 seconds_per_segment=2.0, wrapper_latency=False):
        os.makedirs(segment_dir, exist_ok=True)
        self.segment_dir = segment_dir
        self.pass_index = int(pass_index)
        self.rows_per_segment = int(rows_per_segment)
        self.seconds_per_segment = float(seconds_per_segment)
        self.wrapper_latency = wrapper_latency
        self.outputs = OutputSpec()
        self.rows_written = 0
        self.status_counts = collections.Counter()
        self.error = None  # an exception raised in the writer thread, re-raised by close()
        self._queue = collections.deque()
        self._pending_rows = 0
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
    def flush(self):
        """Write what is queued now (writer thread, close, or an emergency stop)."""
        with self._flush_lock:
            self._flush_locked()

    def _flush_locked(self):
        items = []
        popleft = self._queue.popleft
        while True:
            try:
                items.append(popleft())
            except IndexError:
                break
        if items:
            self._write_segment(items)

    def close(self):
        self._stop = True
        self._wake.set()
        self._thread.join()
        self.flush()
        if self.error is not None:
            raise self.error

    def _loop(self):
        while not self._stop:
            self._wake.wait(self.seconds_per_segment)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # surfaced by close(); the hot path must never see it
                self.error = exc
                return

    # -- conversion ---------------------------------------------------------------------------
    def _write_segment(self, items):
        table = self._to_table(items)
        path = os.path.join(self.segment_dir, f"seg-{self._segments:05d}.parquet")
        write_parquet_atomic(table, path)
        self._segments += 1
        self.rows_written += table.num_rows

    def _to_table(self, items):
        (ns, qseq, seq0, idx, t_issue, t_done, compute, status, error, outputs,
         server) = zip(*items)
        rows = len(ns)
        counts = np.fromiter(ns, dtype=np.int64, count=rows)
        total = int(counts.sum())
        if total == rows:
            # One sample per chunk (SingleStream, Server): every column is per row already.
            # This is the path that runs at LoadGen's highest query rates, so no repeats.
            def per_row(values, dtype):
                return np.fromiter(values, dtype=dtype, count=rows)

            sample_index = per_row(idx, np.int64)
            sample_seq = per_row(seq0, np.int64)
            status_rows, error_rows = status, error
            self.status_counts.update(status)
        else:
            def per_row(values, dtype):
                return np.repeat(np.fromiter(values, dtype=dtype, count=rows), counts)

            sample_index = np.concatenate([np.atleast_1d(np.asarray(i, dtype=np.int64)) for i in idx])
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            sample_seq = per_row(seq0, np.int64) + (np.arange(total) - starts)
            status_rows = np.repeat(np.asarray(status, dtype=object), counts)
            error_rows = np.repeat(np.asarray(error, dtype=object), counts)
            for s, c in zip(status, counts):
                self.status_counts[s] += int(c)
        issue_ns = per_row(t_issue, np.int64)
        complete_ns = per_row(t_done, np.int64)
        latency = pa.array(complete_ns - issue_ns) if self.wrapper_latency else pa.nulls(total, pa.int64())
        columns = [
            pa.array(np.full(total, self.pass_index, dtype=np.int32)),
            pa.array(per_row(qseq, np.int64)),
            pa.array(sample_seq),
            pa.array(sample_index),
            latency,
            pa.nulls(total, pa.int64()),
            pa.array(issue_ns),
            pa.array(complete_ns),
            pa.array(per_row(compute, np.int64)),
            pa.array(np.repeat(counts.astype(np.int32), counts) if total != rows
                     else counts.astype(np.int32)),
            pa.array(status_rows, type=pa.string()),
            pa.array(error_rows, type=pa.string()),
            self._outputs_array(outputs, counts),
            *_server_columns(server, counts, total),
        ]
        return pa.Table.from_arrays(columns, schema=SCHEMA)

    def _outputs_array(self, outputs, counts):
        fast = _stack_uniform(outputs)
        if fast is not None:  # the common case: one dtype and per-sample shape for all chunks
            self.outputs.observe(fast, fast.shape[1:])
            raw = fast.reshape(fast.shape[0], -1).view(np.uint8)
            width = raw.shape[1]
            offsets = np.arange(raw.shape[0] + 1, dtype=np.int64) * width
            return _binary(offsets, raw.reshape(-1))
        pieces, lengths = [], []
        for out, n in zip(outputs, counts):
            n = int(n)
            if out is None:
                lengths.extend([0] * n)
                continue
            if isinstance(out, np.ndarray):  # one row per sample (checked by the capture)
                self.outputs.observe(out, out.shape[1:])
                raw = np.ascontiguousarray(out).reshape(n, -1).view(np.uint8)
                pieces.append(raw.reshape(-1))
                lengths.extend([raw.shape[1]] * n)
                continue
            for o in out:  # a list of per-sample arrays of possibly different shapes
                o = np.ascontiguousarray(o)
                self.outputs.observe(o, o.shape)
                pieces.append(o.reshape(-1).view(np.uint8))
                lengths.append(o.nbytes)
        data = np.concatenate(pieces) if pieces else _EMPTY
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return _binary(offsets, data)


def _server_columns(server, counts, total):
    """(server_queue_ns, server_compute_ns) per sample: nulls unless a server reported them."""
    if server.count(None) == len(server):  # in-process backends: the common, cheap case
        return pa.nulls(total, pa.int64()), pa.nulls(total, pa.int64())
    cols = []
    for k in range(2):
        values = [None if s is None else s[k] for s in server]
        mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        arr = np.fromiter((0 if v is None else v for v in values), dtype=np.int64,
                          count=len(values))
        cols.append(pa.array(np.repeat(arr, counts), mask=np.repeat(mask, counts)))
    return cols


def _stack_uniform(outputs):
    """All chunks' outputs as one (rows, *shape) array, or None unless all share dtype and shape."""
    # set(map(...)) runs in C: this is called on up to a segment's worth of chunks.
    if set(map(type, outputs)) != {np.ndarray} or len(set(map(_DTYPE, outputs))) != 1:
        return None
    try:  # concatenate itself checks that every per-sample shape (and ndim ≥ 1) agrees
        return np.ascontiguousarray(np.concatenate(outputs))
    except ValueError:
        return None


def _binary(offsets, data):
    return pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)]).cast(pa.binary())
