"""``load_run``: the one reader of run directories.

It reads lazily and by column: ``load_run`` reads the metadata and lists the files; a column
is read (and checked) the first time it is asked for, and ``iter_passes`` streams one pass at
a time, so ``show``/``export`` never hold more than a pass and the few columns they use.
Every value is checked where it is read — types against the schema, the pass number, sample
indices against the dataset, statuses, non-negative latencies — and a violation is one line
naming the file. Nothing read is ever imported or called.
"""

import functools
import os
import re
import stat
import types

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._errors import UserError
from ._join import segment_files
from ._quality import StoredQuality
from ._rundir import RECORDS, SAMPLES, is_live, read_metadata
from ._schema import COLUMN_NAMES, SAMPLES_SCHEMA, SCHEMA, STATUSES

# integer columns that may be null: read back as -1 there (``has_latency`` tells for latency)
_NULLABLE_INTS = ("latency_ns", "issue_delay_ns", "wrapper_issue_ns", "wrapper_complete_ns",
                  "compute_ns", "batch_size", "server_queue_ns", "server_compute_ns", "server",
                  "wait_ns", "service_ns")
_STRINGS = ("status", "error", "variant")
_PASS_FILE = re.compile(r"pass-(\d{5,9})\.parquet$")
_PASS_PARTIAL = re.compile(r"pass-(\d{5,9})\.partial$")


def _damaged(path, why):
    return UserError(f"{path}: {why}; the run directory is damaged")


def read_parquet_file(path, schema, columns=None):
    """Columns of one Parquet file, checked against ``schema``; columns the file lacks that
    ``schema`` allows to be null (added by a later schema version) read back as nulls."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _damaged(path, f"cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _damaged(path, "not a regular file")
    want = list(columns) if columns is not None else schema.names
    try:
        pf = pq.ParquetFile(path)
        have = pf.schema_arrow
        present = [c for c in want if c in have.names]
        table = pf.read(columns=present)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _damaged(path, f"unreadable record file ({str(exc)[:200]})") from None
    arrays = []
    for name in want:
        field = schema.field(name)
        if name in present:
            col = table.column(name)
            if col.type != field.type:
                raise _damaged(path, f"column {name} is {col.type}, expected {field.type}")
            if not field.nullable and col.null_count:
                raise _damaged(path, f"column {name} has nulls")
            arrays.append(col)
        elif field.nullable:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)]))
        else:
            raise _damaged(path, f"column {name} is missing")
    return pa.Table.from_arrays(arrays, schema=pa.schema([schema.field(n) for n in want]))


@functools.lru_cache(maxsize=1)
def _status_set():
    # built on first use: pyarrow imports pandas (when installed) the first time it converts
    # Python values, and a command that never checks statuses should not pay for that
    return pa.array(STATUSES)


def parquet_rows(path):
    """Rows of a Parquet file, from its footer (a regular file, readable)."""
    read_parquet_file(path, SAMPLES_SCHEMA, [])
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise _damaged(path, f"unreadable record file ({str(exc)[:200]})") from None


def check_values(path, index, n, columns):
    """Check what a reader relies on in record columns (arrays or chunked arrays by name):
    the pass number, sample indices inside the dataset, known statuses, latencies ≥ 0."""
    for name, col in columns.items():
        if not len(col):
            continue
        if name == "pass" and (pc.min(col).as_py() != index or pc.max(col).as_py() != index):
            raise _damaged(path, f"holds rows of another pass than {index}")
        if name == "sample_index" and (pc.min(col).as_py() < 0 or pc.max(col).as_py() >= n):
            raise _damaged(path, f"sample indices outside the dataset (0..{n - 1})")
        if name == "status" and not pc.all(pc.is_in(col, value_set=_status_set())).as_py():
            raise _damaged(path, "a status that is not one of " + ", ".join(STATUSES))
        if name == "latency_ns" and col.null_count < len(col) and pc.min(col).as_py() < 0:
            raise _damaged(path, "negative latencies")


def _strings(col):
    """A string column as an object array that shares one Python string per distinct value."""
    enc = pc.dictionary_encode(col).combine_chunks()
    values = np.asarray(enc.dictionary.to_pylist() + [None], dtype=object)
    return values[enc.indices.fill_null(len(enc.dictionary)).to_numpy()]


class Run:
    """A captured run: its per-sample table as read-only NumPy arrays, and its metadata.

    ``run["latency_ns"]`` etc. give columns (see ``docs/record-format.md``);
    ``run.metadata`` the parsed, validated ``metadata.json``; ``run.complete`` whether the
    capture finished; ``run.partial_passes`` the passes whose records were cut off before
    LoadGen's trace could be joined (their ``latency_ns`` is null, i.e. -1 here with
    ``run.has_latency`` False for those rows); ``run.quality`` the stored metric per pass.
    """

    def __init__(self, path, metadata, files, partial_passes):
        self.path = path
        self.metadata = types.MappingProxyType(metadata)
        self._files = files                  # pass -> [parquet files], in pass order
        self.partial_passes = tuple(partial_passes)
        self._columns = {}
        self._samples = None
        self.quality = StoredQuality(path, metadata)
        self._n = int(metadata["sample_count"])

    @property
    def complete(self):
        return self.metadata["status"] == "complete" and not self.partial_passes

    @property
    def live(self):
        """A tailq process is writing the run now."""
        return is_live(self.path)

    @property
    def passes(self):
        return tuple(self._files)

    @property
    def num_rows(self):
        return len(self)

    @property
    def latency_source(self):
        return self.metadata.get("latency_source")

    def __len__(self):
        if "_rows" not in self._columns:
            total = 0
            for files in self._files.values():
                for path in files:
                    total += parquet_rows(path)
            self._columns["_rows"] = total
        return self._columns["_rows"]

    # -- reading, checked ------------------------------------------------------------------------
    def _read(self, index, path, columns):
        table = read_parquet_file(path, SCHEMA, columns)
        check_values(path, index, self._n, {name: table.column(name) for name in columns})
        return table

    def read_pass(self, index, columns=COLUMN_NAMES):
        """The records of one pass (the given columns), checked."""
        columns = list(columns)
        files = self._files.get(index)
        if files is None:
            return SCHEMA.empty_table().select(columns)
        tables = [self._read(index, f, columns) for f in files]
        return pa.concat_tables(tables) if len(tables) != 1 else tables[0]

    def iter_passes(self, columns=COLUMN_NAMES):
        """``(pass, table)`` for every pass in order, one pass in memory at a time."""
        for index in self._files:
            yield index, self.read_pass(index, columns)

    def column(self, name):
        """One column over all passes, as a pyarrow ChunkedArray (checked, not cached)."""
        if name not in COLUMN_NAMES:
            raise KeyError(f"no column {name!r}; columns: {', '.join(COLUMN_NAMES)}")
        chunks = [t.column(name) for _, t in self.iter_passes([name])]
        field = SCHEMA.field(name)
        return pa.chunked_array([c for ch in chunks for c in ch.chunks], type=field.type) \
            if chunks else pa.chunked_array([], type=field.type)

    def __getitem__(self, name):
        if name not in self._columns:
            col = self.column(name)
            if name in _NULLABLE_INTS:
                arr = col.fill_null(-1).to_numpy()
            elif name in _STRINGS:
                arr = _strings(col)
            elif pa.types.is_binary(col.type):
                arr = np.asarray(col.to_pylist(), dtype=object)
            else:
                arr = col.to_numpy()
            self._columns[name] = _readonly(arr)
        return self._columns[name]

    @property
    def has_latency(self):
        return _readonly(self.column("latency_ns").is_valid().to_numpy(zero_copy_only=False))

    @property
    def samples(self):
        if self._samples is None:
            path = os.path.join(self.path, SAMPLES)
            if os.path.lexists(path):
                table = read_parquet_file(path, SAMPLES_SCHEMA)
                if table.num_rows != self._n or not np.array_equal(
                        table.column("sample_index").to_numpy(), np.arange(self._n)):
                    raise _damaged(path, f"needs one row per sample 0..{self._n - 1} "
                                         "(metadata sample_count)")
            else:
                table = SAMPLES_SCHEMA.empty_table()
            self._samples = types.MappingProxyType({
                name: _readonly(table.column(name).to_numpy()) for name in table.column_names})
        return self._samples

    def outputs(self):
        """Outputs decoded with the run's dtype: an (n, *shape) array, or a list if they vary."""
        spec = self.metadata.get("output") or {}
        raw = self["output"]
        if not spec.get("dtype"):
            return list(raw)
        dtype = np.dtype(spec["dtype"])
        shape = spec.get("shape")
        decoded = [np.frombuffer(b, dtype=dtype) if len(b) % dtype.itemsize == 0 else
                   np.frombuffer(b"", dtype=dtype) for b in raw]
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
                mask |= sel & (seq >= (test.get("accuracy_phase_samples") or 0))
        return _readonly(mask)

    def query_latencies(self, mask=None):
        """Per query (pass, query_seq): LoadGen's query latency = the max over its samples."""
        p, q, lat = self["pass"], self["query_seq"], self["latency_ns"]
        if mask is not None:
            p, q, lat = p[mask], q[mask], lat[mask]
        return query_max(p, q, lat)

    def to_arrow(self):
        """Every column of every pass as one table (reads everything: prefer iter_passes)."""
        tables = [t for _, t in self.iter_passes()]
        return pa.concat_tables(tables) if tables else SCHEMA.empty_table()

    def to_pandas(self):
        try:
            import pandas  # noqa: F401  (optional dependency)
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        return self.to_arrow().to_pandas()


def query_max(p, q, lat):
    """The max of ``lat`` per (pass, query_seq) key, in key order."""
    if not lat.size:
        return np.zeros(0, dtype=np.int64)
    keys = p.astype(np.int64) * (int(q.max(initial=0)) + 1) + q
    uniq, inv = np.unique(keys, return_inverse=True)
    out = np.full(uniq.size, np.iinfo(np.int64).min)
    np.maximum.at(out, inv, lat)
    return out


def _readonly(arr):
    arr = np.asarray(arr)
    if arr.flags.writeable and arr.base is None:
        arr.setflags(write=False)
    elif arr.flags.writeable:
        arr = arr.copy()
        arr.setflags(write=False)
    return arr


def load_run(path):
    """Read a run directory written by ``tailq run`` (or ``tailq import``), of any schema
    version this tailq knows. Columns are read when first used."""
    meta = read_metadata(path)
    rec_dir = os.path.join(path, RECORDS)
    finals, partials = {}, {}
    for entry in sorted(os.listdir(rec_dir)) if os.path.isdir(rec_dir) else []:
        m = _PASS_FILE.fullmatch(entry)
        if m:
            finals[int(m.group(1))] = os.path.join(rec_dir, entry)
            continue
        m = _PASS_PARTIAL.fullmatch(entry)
        if m and os.path.isdir(os.path.join(rec_dir, entry)):
            partials[int(m.group(1))] = os.path.join(rec_dir, entry)
    files, partial_passes = {}, []
    for index in sorted(set(finals) | set(partials)):
        if index in finals:  # a final file wins over segments left by a crash during cleanup
            files[index] = [finals[index]]
            continue
        segs = segment_files(partials[index])
        if segs:
            partial_passes.append(index)
            files[index] = segs
    samples = os.path.join(path, SAMPLES)
    if os.path.lexists(samples):  # its footer only: the dataset the records join to
        rows = parquet_rows(samples)
        if rows != meta["sample_count"]:
            raise _damaged(samples, f"{rows} rows but metadata sample_count "
                                    f"{meta['sample_count']}: needs one row per sample")
    return Run(path, meta, files, partial_passes)
