"""``load_run``: the one reader of run directories."""

import glob
import os
import re
import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._errors import UserError
from ._join import segment_files
from ._rundir import RECORDS, SAMPLES, read_metadata
from ._schema import COLUMN_NAMES, SCHEMA, SAMPLES_SCHEMA

# integer columns that may be null: read back as -1 there (``has_latency`` tells for latency)
_NULLABLE_INTS = ("latency_ns", "issue_delay_ns", "wrapper_issue_ns", "wrapper_complete_ns",
                  "compute_ns", "batch_size", "server_queue_ns", "server_compute_ns")
_PASS_FILE = re.compile(r"pass-(\d+)\.parquet$")
_PASS_PARTIAL = re.compile(r"pass-(\d+)\.partial$")


class Run:
    """A captured run: its per-sample table as read-only NumPy arrays, and its metadata.

    ``run["latency_ns"]`` etc. give columns (see ``docs/record-format.md``);
    ``run.metadata`` the parsed ``metadata.json``; ``run.complete`` whether the capture
    finished; ``run.partial_passes`` the passes whose records were cut off before LoadGen's
    trace could be joined (their ``latency_ns`` is null, i.e. -1 here with ``run.has_latency``
    False for those rows).
    """

    def __init__(self, path, metadata, table, samples, partial_passes):
        self.path = path
        self.metadata = types.MappingProxyType(metadata)
        self._table = table
        self.partial_passes = tuple(partial_passes)
        self._columns = {}
        self.samples = types.MappingProxyType({
            name: _readonly(samples.column(name).to_numpy()) for name in samples.column_names})

    @property
    def complete(self):
        return bool(self.metadata.get("complete")) and not self.partial_passes

    @property
    def num_rows(self):
        return self._table.num_rows

    @property
    def latency_source(self):
        return self.metadata.get("latency_source")

    def __len__(self):
        return self._table.num_rows

    def __getitem__(self, name):
        if name not in self._columns:
            if name not in COLUMN_NAMES:
                raise KeyError(f"no column {name!r}; columns: {', '.join(COLUMN_NAMES)}")
            col = self._table.column(name)
            if name in _NULLABLE_INTS:
                arr = col.fill_null(-1).to_numpy()
            elif pa.types.is_string(col.type) or pa.types.is_binary(col.type):
                arr = np.asarray(col.to_pylist(), dtype=object)
            else:
                arr = col.to_numpy()
            self._columns[name] = _readonly(arr)
        return self._columns[name]

    @property
    def has_latency(self):
        return _readonly(self._table.column("latency_ns").is_valid().to_numpy(zero_copy_only=False))

    def outputs(self):
        """Outputs decoded with the run's dtype: an (n, *shape) array, or a list if they vary."""
        spec = self.metadata.get("output") or {}
        raw = self["output"]
        if not spec.get("dtype"):
            return list(raw)
        dtype = np.dtype(spec["dtype"])
        shape = spec.get("shape")
        decoded = [np.frombuffer(b, dtype=dtype) for b in raw]
        if shape is not None and all(d.size == int(np.prod(shape)) for d in decoded):
            return np.stack(decoded).reshape((len(decoded),) + tuple(shape)) if decoded \
                else np.zeros((0,) + tuple(shape), dtype)
        return decoded

    def performance_mask(self):
        """Rows issued by a performance phase (PerformanceOnly, or SubmissionRun's second part)."""
        mask = np.zeros(len(self), dtype=bool)
        passes, seq = self["pass"], self["sample_seq"]
        for test in self.metadata.get("tests", []):
            sel = passes == test["pass"]
            if test.get("mode") == "PerformanceOnly":
                mask |= sel
            elif test.get("mode") == "SubmissionRun":
                mask |= sel & (seq >= test.get("accuracy_phase_samples", 0))
        return _readonly(mask)

    def query_latencies(self, mask=None):
        """Per query (pass, query_seq): LoadGen's query latency = the max over its samples."""
        p, q, lat = self["pass"], self["query_seq"], self["latency_ns"]
        if mask is not None:
            p, q, lat = p[mask], q[mask], lat[mask]
        keys = p.astype(np.int64) * (int(q.max(initial=0)) + 1) + q
        uniq, inv = np.unique(keys, return_inverse=True)
        out = np.full(uniq.size, np.iinfo(np.int64).min)
        np.maximum.at(out, inv, lat)
        return out

    def to_arrow(self):
        return self._table

    def to_pandas(self):
        try:
            import pandas  # noqa: F401  (optional dependency)
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        return self._table.to_pandas()


def _readonly(arr):
    arr = np.asarray(arr)
    if arr.flags.writeable and arr.base is None:
        arr.setflags(write=False)
    elif arr.flags.writeable:
        arr = arr.copy()
        arr.setflags(write=False)
    return arr


def load_run(path):
    """Read a run directory written by ``tailq run`` (or ``tailq import``)."""
    meta = read_metadata(path)
    rec_dir = os.path.join(path, RECORDS)
    finals, partials = {}, {}
    for entry in sorted(os.listdir(rec_dir)) if os.path.isdir(rec_dir) else []:
        m = _PASS_FILE.fullmatch(entry)
        if m:
            finals[int(m.group(1))] = os.path.join(rec_dir, entry)
            continue
        m = _PASS_PARTIAL.fullmatch(entry)
        if m:
            partials[int(m.group(1))] = os.path.join(rec_dir, entry)
    tables, partial_passes = [], []
    for index in sorted(set(finals) | set(partials)):
        if index in finals:  # a final file wins over segments left by a crash during cleanup
            tables.append(_read_parquet(finals[index]))
            continue
        segs = segment_files(partials[index])
        if segs:
            partial_passes.append(index)
            tables.extend(_read_parquet(s) for s in segs)
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    samples_path = os.path.join(path, SAMPLES)
    samples = _read_parquet(samples_path, SAMPLES_SCHEMA) if os.path.exists(samples_path) \
        else SAMPLES_SCHEMA.empty_table()
    return Run(path, meta, table, samples, partial_passes)


def _read_parquet(path, schema=SCHEMA):
    try:
        return pq.read_table(path, schema=schema)
    except (OSError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UserError(f"{path}: unreadable record file ({exc}); the run directory is damaged") from None
