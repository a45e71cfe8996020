"""Scoring a pass while its writer still has the harness at hand (capture, import).

The harness's metric factory is code: it runs only in the process that was given the harness
on its command line, right after the pass is written; what it computes is stored in
``quality/`` and every later reader uses that.
"""

import numpy as np
import pyarrow.compute as pc

from ._rundir import one_line


def pass_outputs(run, index, spec, dataset_size):
    """Pass ``index``'s outputs decoded and placed by sample index in a
    ``(dataset_size, *shape)`` array (zeros for samples without an ok output, and beyond the
    run's subset when ``--count`` used fewer samples than the dataset has). None when the
    outputs vary in dtype or shape, or the run records no output spec."""
    if not spec or not spec.get("dtype") or spec.get("shape") is None:
        return None
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    width = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    out = np.zeros((dataset_size,) + shape, dtype=dtype)
    for table in (run.read_pass(index, ["sample_index", "status", "output"]),):
        idx = table.column("sample_index").to_numpy()
        ok = pc.equal(table.column("status"), "ok").to_numpy(zero_copy_only=False)
        raw = table.column("output").combine_chunks()
        if width == 0 or not len(raw):
            break
        offsets = np.frombuffer(raw.buffers()[1], dtype=np.int32)[raw.offset:raw.offset + len(raw) + 1]
        data = np.frombuffer(raw.buffers()[2], dtype=np.uint8)
        starts, lengths = offsets[:-1], np.diff(offsets)
        good = ok & (lengths == width) & (idx < dataset_size)
        target = out.reshape(dataset_size, -1).view(np.uint8)
        if good.all() and np.all(lengths == width):  # every row one output, back to back
            target[idx] = data[starts[0]:starts[0] + len(raw) * width].reshape(-1, width)
            break
        rows = np.flatnonzero(good)
        for k in range(0, rows.size, 65536):  # bounded gather: 65,536 rows at a time
            r = rows[k:k + 65536]
            target[idx[r]] = data[starts[r][:, None] + np.arange(width)[None, :]]
        break
    return out


def store_pass_quality(rundir, index, outputs, make_metric, source, log=None):
    """Build the metric on ``outputs`` and store its state for pass ``index``. A harness whose
    metric cannot be built or stored leaves the run without scores and says why (the records
    are the evidence and stay complete)."""
    if make_metric is None:
        return _note(rundir, "the harness has no quality metric", log)
    if outputs is None:
        return _note(rundir, "outputs vary in dtype or shape, so the harness's metric could not be "
                             "built on them", log)
    try:
        metric = make_metric(outputs)
    except Exception as exc:  # noqa: BLE001 — the harness's own code; reported, run kept
        return _note(rundir, f"the harness's metric raised on pass {index}'s outputs "
                             f"({one_line(exc)})", log, warn=True)
    if metric is None:
        return _note(rundir, "the harness has no quality metric", log)
    try:
        rundir.write_quality(index, metric, source, count=int(rundir.meta["sample_count"]))
    except TypeError as exc:
        return _note(rundir, f"the harness's metric cannot be stored: {exc}", log, warn=True)
    except ValueError as exc:
        return _note(rundir, f"the harness's metric on pass {index} cannot be stored: {exc}",
                     log, warn=True)
    return True


def _note(rundir, text, log, warn=False):
    if rundir.meta.get("quality") is None and rundir.meta.get("quality_note") != text:
        rundir.meta["quality_note"] = text
        if warn:
            rundir.meta["warnings"].append(f"no scores stored: {text}")
            if log is not None:
                log(f"tailq: warning: no scores stored: {text}")
        rundir.write_metadata()
    return False
