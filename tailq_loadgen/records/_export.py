"""``tailq export``: the per-sample table as CSV or JSON lines, one row per sample, streamed.

Records are read in batches of ``batch_rows`` rows, one file at a time, and written at once:
memory follows the batch, not the run. CSV goes through ``pyarrow.csv`` (quoting only where
needed, an empty field for null); JSON lines are written batch by batch.
"""

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .._errors import UserError
from ._reader import check_values, read_parquet_file
from ._schema import COLUMN_NAMES, SCHEMA

_CHECKED = ("pass", "sample_index", "status", "latency_ns")

FORMATS = ("csv", "jsonl")
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)


def hex_column(col):
    """A binary array as upper-case hex strings (as in LoadGen's accuracy log), vectorised."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(col)
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset:col.offset + n + 1]
    data = col.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] if data is not None and n \
        else np.zeros(0, dtype=np.uint8)
    chars = _HEX_PAIRS[raw].reshape(-1)
    new_offsets = ((offsets - offsets[0]) * 2).astype(np.int32) if n else np.zeros(1, np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(new_offsets),
                                                  pa.py_buffer(chars.tobytes())])


def _binary_sink(stream):
    """A binary stream to write to: ``stream`` itself, its ``.buffer``, or a bridge."""
    if isinstance(stream, io.TextIOBase):
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            stream.flush()
            return buf, False
        return _TextBridge(stream), False
    return stream, False


class _TextBridge(io.RawIOBase):
    def __init__(self, text):
        self.text = text

    def writable(self):
        return True

    def write(self, b):
        self.text.write(bytes(b).decode("utf-8"))
        return len(b)


def iter_batches(run, batch_rows=65536):
    """Record batches of every pass in order (all columns, output as hex)."""
    for index, files in run._files.items():
        for path in files:
            read_parquet_file(path, SCHEMA, [])  # a regular Parquet file of this schema
            pf = pq.ParquetFile(path)
            present = [c for c in COLUMN_NAMES if c in pf.schema_arrow.names]
            for field in pf.schema_arrow:
                if field.name in SCHEMA.names and field.type != SCHEMA.field(field.name).type:
                    raise UserError(f"{path}: column {field.name} is {field.type}, expected "
                                    f"{SCHEMA.field(field.name).type}; the run directory is damaged")
            missing = [c for c in COLUMN_NAMES if c not in present and not SCHEMA.field(c).nullable]
            if missing:
                raise UserError(f"{path}: column {missing[0]} is missing; the run directory is damaged")
            for batch in pf.iter_batches(batch_size=batch_rows, columns=present):
                check_values(path, index, int(run.metadata["sample_count"]),
                             {c: batch.column(present.index(c)) for c in _CHECKED if c in present})
                cols = []
                for name in COLUMN_NAMES:
                    field = SCHEMA.field(name)
                    if name in present:
                        col = batch.column(present.index(name))
                        cols.append(hex_column(col) if name == "output" else col)
                    else:
                        cols.append(pa.nulls(batch.num_rows, field.type))
                yield pa.RecordBatch.from_arrays(cols, names=list(COLUMN_NAMES))


def export_run(run, fmt, stream, batch_rows=65536):
    """Write every record of ``run`` to ``stream`` (text or binary); outputs as hex.

    A null latency (a pass cut off before LoadGen's trace was joined) is written empty in CSV
    and ``null`` in JSON lines. Returns the number of rows.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    sink, _ = _binary_sink(stream)
    rows = 0
    if fmt == "csv":
        schema = pa.schema([pa.field(n, pa.string() if n == "output" else SCHEMA.field(n).type)
                            for n in COLUMN_NAMES])
        # the header as the csv module writes it (pyarrow would quote every name)
        sink.write((",".join(COLUMN_NAMES) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with pacsv.CSVWriter(sink, schema, write_options=options) as writer:
            for batch in iter_batches(run, batch_rows):
                writer.write_batch(batch)
                rows += batch.num_rows
    else:  # one Python dict per row: smaller batches keep that bounded too
        for batch in iter_batches(run, min(batch_rows, 8192)):
            lines = [json.dumps(row) for row in batch.to_pylist()]
            if lines:
                sink.write(("\n".join(lines) + "\n").encode("utf-8"))
            rows += batch.num_rows
    sink.flush()
    return rows
