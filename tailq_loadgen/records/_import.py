"""``tailq import``: LoadGen output directories of any harness → a tailq run directory.

Each directory is one pass (e.g. repeated AccuracyOnly runs). Per directory the trace gives
every sample's latency (joined on ``sample_seq``), the accuracy log its output (joined on
``seq_id`` and checked on the sample index). Memory follows the number of samples in the
trace, never the largest sequence number in it: the trace is held as five int64 arrays plus
a sorted lookup (about 60 bytes per sample), the accuracy log is streamed, and records are
written in chunks of ``chunk_rows``. The run directory is written through ``RunDirectory``
like a capture's: metadata first, locked, and a final status from what happened.
"""

import os

import numpy as np

from .._errors import UserError
from ._io import AtomicParquetWriter
from ._join import JoinError, SeqLookup
from ._loadgen_logs import (effective_settings, iter_accuracy_log, loadgen_result,
                            read_detail_log, read_trace_samples, require_keys)
from ._rundir import RunDirectory, final_path
from ._schema import SCHEMA, build_table

DETAIL, TRACE, ACCURACY = "mlperf_log_detail.txt", "mlperf_log_trace.json", "mlperf_log_accuracy.json"


def _check_dir(d):
    if not os.path.isdir(d):
        raise UserError(f"{d}: no such LoadGen output directory")
    for name in (DETAIL, TRACE):
        path = os.path.join(d, name)
        if not os.path.lexists(path):
            raise UserError(f"{path}: missing; a LoadGen output directory with the trace enabled "
                            "(LogSettings.enable_trace = True) is needed")
        if not os.path.isfile(path):
            raise UserError(f"{path}: not a regular file; give LoadGen's output directory")
        if os.path.getsize(path) == 0:
            raise UserError(f"{path}: the file is empty; re-run LoadGen with the trace enabled")


class _Chunks:
    """Rows accumulated in column lists, written every ``size`` rows (columns by name)."""

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
        self.writer.write_table(build_table(
            SCHEMA, **{"pass": np.full(len(q), self.p, dtype=np.int32)}, query_seq=q,
            sample_seq=seq, sample_index=idx, latency_ns=lat, issue_delay_ns=delay,
            status=status, error=error, output=out))
        self.rows = []


def _import_pass(d, out, index, total, chunk_rows):
    detail_path = os.path.join(d, DETAIL)
    detail = read_detail_log(detail_path)
    require_keys(detail, detail_path)
    trace_path = os.path.join(d, TRACE)
    trace = read_trace_samples(trace_path)
    seq = trace["sample_seq"]
    lookup = SeqLookup(seq, trace_path)
    bad_idx = (trace["sample_idx"] < 0) | (trace["sample_idx"] >= total)
    if bad_idx.any():
        raise UserError(f"{trace_path}: {int(bad_idx.sum())} samples have an index "
                        f"outside the dataset (0..{total - 1}); the directory does not belong here")
    used = np.zeros(seq.size, dtype=bool)
    warnings = []
    bad_latency = orphan = 0
    with AtomicParquetWriter(final_path(out, index), SCHEMA) as writer:
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
        if os.path.lexists(acc_path) and (not os.path.isfile(acc_path) or os.path.getsize(acc_path) > 0):
            for seq_id, qsl_idx, data in iter_accuracy_log(acc_path):
                i = int(lookup.positions([seq_id])[0]) if seq_id < 2**63 else -1
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
    if test["mode"] not in ("PerformanceOnly", "AccuracyOnly", "SubmissionRun"):
        raise UserError(f"{detail_path}: test mode {test['mode']!r} is not one tailq imports")
    return test, warnings


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


def _check_same_run_kind(dirs, first, total):
    """Every directory: the first one's scenario and dataset size (checked before writing)."""
    scenario = first["effective_scenario"]
    for d in dirs[1:]:
        path = os.path.join(d, DETAIL)
        detail = read_detail_log(path)
        require_keys(detail, path)
        if detail["effective_scenario"] != scenario:
            raise UserError(f"{d}: scenario {detail['effective_scenario']} differs from "
                            f"{dirs[0]}'s {scenario}; import one scenario at a time")
        if int(detail["qsl_reported_total_count"]) != total:
            raise UserError(f"{d}: dataset of {detail['qsl_reported_total_count']} samples differs "
                            f"from {dirs[0]}'s {total}; import runs of one dataset at a time")
    if scenario not in ("SingleStream", "MultiStream", "Server", "Offline"):
        raise UserError(f"{dirs[0]}: scenario {scenario!r} is not one tailq imports")


def import_loadgen_dirs(dirs, out, *, harness=None, output=None, sizes=None, overwrite=False,
                        chunk_rows=65536, tailq_version=None, scores=None, make_metric=None,
                        dataset_size=None, inputs=(), log=None, progress=None):
    """Write a run directory at ``out`` from LoadGen output ``dirs`` (one pass each).

    ``harness``: the describe() dict of the harness that scores the outputs (or None);
    ``output``: {"dtype", "shape"} of one sample's output bytes; ``sizes``: per-sample sizes.
    Scoring, stored in ``quality/`` so that no reader needs the harness again: ``scores``
    (``(values, metric name)`` per sample, from a correctness file) or ``make_metric``
    (outputs of one pass, in sample order, padded to ``dataset_size`` → a metric).
    ``inputs``: further files read (e.g. the correctness CSV); ``progress(done, total)`` is
    called after each pass. Returns the metadata written.
    """
    first, total = read_first_detail(dirs)
    _check_same_run_kind(dirs, first, total)
    meta = {"tailq_version": tailq_version, "origin": "import",
            "imported_from": [os.path.abspath(d) for d in dirs],
            "system": {"hostname": None, "cpu_model": None,
                       "note": "imported: the host that ran LoadGen is not recorded in its logs"},
            "harness": harness or {"name": "imported", "metric": None, "source": None},
            "backend": {"name": None, "version": None}, "scenario": first["effective_scenario"],
            "sample_count": total, "latency_source": "loadgen_trace", "latency_note": None,
            "settings": None, "seeds": None, "output": output, "mode": None, "quality": None,
            "quality_note": None}
    rundir = RunDirectory.create(out, meta, overwrite=overwrite, inputs=list(dirs) + list(inputs))
    with rundir:
        modes = set()
        for index, d in enumerate(dirs):
            test, warnings = _import_pass(d, out, index, total, chunk_rows)
            rundir.meta["tests"].append(test)
            rundir.meta["warnings"].extend(warnings)
            modes.add(test["mode"])
            rundir.write_metadata()
            if progress is not None:
                progress(index + 1, len(dirs))
        rundir.write_samples(np.full(total, np.nan) if sizes is None
                             else np.asarray(sizes, dtype=np.float64)[:total])
        if scores is not None:
            from ..metrics import Scores

            values, name = scores
            rundir.write_quality(None, Scores(values, name), "correctness file")
        elif make_metric is not None:
            _score_passes(rundir, make_metric, output, dataset_size or total, log)
        else:
            rundir.meta["quality_note"] = "imported without --harness or --correctness: nothing scores it"
        rundir.meta["mode"] = modes.pop() if len(modes) == 1 else "mixed"
        rundir.finish("complete")
    return rundir.meta


def _score_passes(rundir, make_metric, output, dataset_size, log):
    """Build the harness's metric on each complete AccuracyOnly pass and store its state."""
    from ._reader import load_run
    from ._scoring import pass_outputs, store_pass_quality

    run = load_run(rundir.path)
    for test in rundir.meta["tests"]:
        if test["mode"] != "AccuracyOnly":
            continue
        outputs = pass_outputs(run, test["pass"], output, dataset_size)
        store_pass_quality(rundir, test["pass"], outputs, make_metric,
                           f"harness {rundir.meta['harness'].get('name')} at import", log)
