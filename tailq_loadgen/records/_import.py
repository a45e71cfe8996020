"""``tailq import``: LoadGen output directories of any harness → a tailq run directory.

Each directory is one pass (e.g. repeated AccuracyOnly runs). Per directory the trace gives
every sample's latency (joined on ``sample_seq``), the accuracy log its output (joined on
``seq_id`` and checked on the sample index). Memory stays bounded on huge logs: the trace is
held as five int64 arrays (40 bytes per sample) plus a bitmap, the accuracy log is streamed,
and records are written in chunks of ``chunk_rows``.
"""

import datetime
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._errors import UserError
from ._io import _fsync_and_replace, write_parquet_atomic
from ._join import JoinError
from ._loadgen_logs import (effective_settings, iter_accuracy_log, loadgen_result,
                            read_detail_log, read_trace_samples, require_keys)
from ._rundir import SAMPLES, create_run_dir, final_path, write_metadata
from ._schema import SAMPLES_SCHEMA, SCHEMA

DETAIL, TRACE, ACCURACY = "mlperf_log_detail.txt", "mlperf_log_trace.json", "mlperf_log_accuracy.json"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _check_dir(d):
    if not os.path.isdir(d):
        raise UserError(f"{d}: no such LoadGen output directory")
    for name in (DETAIL, TRACE):
        path = os.path.join(d, name)
        if not os.path.isfile(path):
            raise UserError(f"{path}: missing; a LoadGen output directory with the trace enabled "
                            "(LogSettings.enable_trace = True) is needed")
        if os.path.getsize(path) == 0:
            raise UserError(f"{path}: the file is empty; re-run LoadGen with the trace enabled")


class _Chunks:
    """Rows accumulated in column lists, flushed to a ParquetWriter every ``size`` rows."""

    def __init__(self, writer, pass_index, size):
        self.writer, self.p, self.size = writer, pass_index, size
        self.rows = []
        self.counts = {"ok": 0, "error": 0}

    def add(self, query, seq, idx, latency, delay, status, error, output):
        self.rows.append((query, seq, idx, latency, delay, status, error, output))
        self.counts[status] += 1
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        q, seq, idx, lat, delay, status, error, out = zip(*self.rows)
        n = len(q)
        nulls = pa.nulls(n, pa.int64())
        table = pa.Table.from_arrays([
            pa.array(np.full(n, self.p, dtype=np.int32)), pa.array(q, pa.int64()),
            pa.array(seq, pa.int64()), pa.array(idx, pa.int64()), pa.array(lat, pa.int64()),
            pa.array(delay, pa.int64()), nulls, nulls, nulls, pa.nulls(n, pa.int32()),
            pa.array(status, pa.string()), pa.array(error, pa.string()),
            pa.array(out, pa.binary()), nulls, nulls], schema=SCHEMA)
        self.writer.write_table(table)
        self.rows = []


def _import_pass(d, out, index, total, chunk_rows):
    detail_path = os.path.join(d, DETAIL)
    detail = read_detail_log(detail_path)
    require_keys(detail, detail_path)
    trace = read_trace_samples(os.path.join(d, TRACE))
    seq = trace["sample_seq"]
    if seq.size and np.unique(seq).size != seq.size:
        raise JoinError(f"{os.path.join(d, TRACE)}: a sample sequence number appears twice "
                        "(duplicated lines); the trace is corrupted")
    bad_idx = (trace["sample_idx"] < 0) | (trace["sample_idx"] >= total)
    if bad_idx.any():
        raise UserError(f"{os.path.join(d, TRACE)}: {int(bad_idx.sum())} samples have an index "
                        f"outside the dataset (0..{total - 1}); the directory does not belong here")
    size = int(seq.max()) + 1 if seq.size else 0
    pos = np.full(size, -1, dtype=np.int64)
    pos[seq] = np.arange(seq.size)
    used = np.zeros(seq.size, dtype=bool)
    path = final_path(out, index)
    tmp = path + ".tmp"
    warnings = []
    bad_latency = orphan = 0
    with pq.ParquetWriter(tmp, SCHEMA) as writer:
        chunks = _Chunks(writer, index, chunk_rows)

        def emit(i, output):
            nonlocal bad_latency
            lat = int(trace["complete_ns"][i])
            ok = lat > 0
            bad_latency += not ok
            chunks.add(int(trace["query_seq"][i]), int(seq[i]), int(trace["sample_idx"][i]),
                       lat if ok else None, int(trace["issue_start_ns"][i]),
                       "ok" if ok else "error", None if ok else "invalid latency in LoadGen's trace",
                       output)

        acc_path = os.path.join(d, ACCURACY)
        if os.path.isfile(acc_path) and os.path.getsize(acc_path) > 0:
            for seq_id, qsl_idx, data in iter_accuracy_log(acc_path):
                i = pos[seq_id] if seq_id < size else -1
                if i < 0:
                    orphan += 1
                    if not 0 <= qsl_idx < total:
                        raise UserError(f"{acc_path}: seq_id {seq_id} has sample index {qsl_idx} "
                                        f"outside the dataset (0..{total - 1})")
                    chunks.add(-1, seq_id, qsl_idx, None, None, "error",
                               "no latency for this sample in LoadGen's trace", data)
                    continue
                if used[i]:
                    raise JoinError(f"{acc_path}: seq_id {seq_id} appears twice; the accuracy log "
                                    "is corrupted")
                if trace["sample_idx"][i] != qsl_idx:
                    raise JoinError(f"{acc_path}: seq_id {seq_id} is sample {qsl_idx} here but "
                                    f"sample {int(trace['sample_idx'][i])} in the trace; the logs "
                                    "do not belong to the same run")
                used[i] = True
                emit(i, data)
        for i in np.flatnonzero(~used):
            emit(int(i), b"")
        chunks.flush()
    _fsync_and_replace(tmp, path)
    if bad_latency:
        warnings.append(f"pass {index}: {bad_latency} samples with a zero or negative latency in "
                        "the trace were marked as errors")
    if orphan:
        warnings.append(f"pass {index}: {orphan} accuracy-log entries have no trace event (trace "
                        "and accuracy log disagree on counts); marked as errors")
    n_out = int(used.sum())
    if 0 < n_out < seq.size:
        warnings.append(f"pass {index}: only {n_out} of {seq.size} samples have an output in the "
                        "accuracy log")
    test = {"pass": index, "mode": detail["effective_test_mode"], "imported_from": os.path.abspath(d),
            "complete": True, "samples": int(seq.size + orphan),
            "status_counts": {k: v for k, v in chunks.counts.items() if v},
            "loadgen_result": loadgen_result(detail), "effective_settings": effective_settings(detail),
            "join": {"rows": int(seq.size + orphan), "with_output": n_out,
                     "without_trace": orphan, "invalid_latency": bad_latency}}
    return detail, test, warnings


def read_first_detail(dirs):
    """Check that every one of ``dirs`` is a LoadGen output directory with a trace, and
    return the first one's detail log and the dataset size LoadGen reports in it (> 0)."""
    if not dirs:
        raise UserError("no LoadGen directory given")
    for d in dirs:
        _check_dir(d)
    first = read_detail_log(os.path.join(dirs[0], DETAIL))
    require_keys(first, os.path.join(dirs[0], DETAIL))
    total = int(first["qsl_reported_total_count"])
    if total <= 0:
        raise UserError(f"{dirs[0]}: LoadGen reports an empty dataset")
    return first, total


def import_loadgen_dirs(dirs, out, *, harness=None, output=None, sizes=None, overwrite=False,
                        chunk_rows=65536, tailq_version=None, progress=None):
    """Write a run directory at ``out`` from LoadGen output ``dirs`` (one pass each).

    ``harness``: the describe() dict of the harness that will score the outputs (or None),
    ``output``: {"dtype", "shape"} of one sample's output bytes, ``sizes``: per-sample sizes.
    Returns the metadata written.
    """
    first, total = read_first_detail(dirs)
    scenario = first["effective_scenario"]
    create_run_dir(out, overwrite=overwrite)
    meta = {"tailq_version": tailq_version, "imported": True,
            "imported_from": [os.path.abspath(d) for d in dirs],
            "system": {"hostname": None, "cpu_model": None,
                       "note": "imported: the host that ran LoadGen is not recorded in its logs"},
            "harness": harness or {"name": "imported", "metric": None, "source": None},
            "backend": {"name": None, "version": None}, "scenario": scenario,
            "sample_count": total, "latency_source": "loadgen_trace", "latency_note": None,
            "settings": {}, "seeds": {}, "started": _now(), "ended": None, "complete": False,
            "status": "running", "abort_reason": None, "tests": [], "output": output,
            "warnings": [], "mode": None}
    write_metadata(out, meta)
    modes = set()
    for index, d in enumerate(dirs):
        detail, test, warnings = _import_pass(d, out, index, total, chunk_rows)
        if detail["effective_scenario"] != scenario:
            raise UserError(f"{d}: scenario {detail['effective_scenario']} differs from "
                            f"{dirs[0]}'s {scenario}; import one scenario at a time")
        if int(detail["qsl_reported_total_count"]) != total:
            raise UserError(f"{d}: dataset of {detail['qsl_reported_total_count']} samples differs "
                            f"from {dirs[0]}'s {total}; import runs of one dataset at a time")
        meta["tests"].append(test)
        meta["warnings"].extend(warnings)
        modes.add(test["mode"])
        write_metadata(out, meta)
        if progress is not None:
            progress(index + 1, len(dirs))
    sizes = np.full(total, np.nan) if sizes is None else np.asarray(sizes, dtype=np.float64)[:total]
    write_parquet_atomic(pa.Table.from_arrays(
        [pa.array(np.arange(total, dtype=np.int64)), pa.array(sizes)], schema=SAMPLES_SCHEMA),
        os.path.join(out, SAMPLES))
    meta.update(mode=modes.pop() if len(modes) == 1 else "mixed", ended=_now(), complete=True,
                status="complete")
    write_metadata(out, meta)
    return meta
