"""The per-sample record format: one schema, versioned, and tables built by column name.

Format history (``schema_version`` in ``metadata.json``; ``docs/record-format.md`` has the
prose and every column for readers that do not use tailq):

* 1 — first version (tailq 0.1.0): the thirteen columns of ``COLUMNS_V1``. Metadata was a
  loose dict; ``harness.source`` named a factory; scores of imported runs lived in
  ``correctness.parquet``; captured runs stored no ground truth.
* 2 — one owner (``RunDirectory``) for every writer: typed, validated metadata
  (``_metadata.py``), a status taken from what happened (``complete``, ``aborted``,
  ``interrupted``, ``failed``) with ``status_reason``, per-pass scoring state in
  ``quality/`` (so that no reader needs the harness), and six nullable columns for the
  capabilities that come next: server-reported timing of remote SUTs and the routing of
  pool SUTs. They are null unless such an SUT filled them.

A reader refuses a directory whose schema version is newer than ``SCHEMA_VERSION`` and
migrates older ones step by step (``_migrate.py``).
"""

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 2
FORMAT_NAME = "tailq-run"

# (name, arrow type, nullable, meaning) — the one place the columns are declared.
COLUMNS_V1 = (
    ("pass", pa.int32(), False, "index of the LoadGen test (pass) that issued the sample"),
    ("query_seq", pa.int64(), False, "LoadGen's query sequence number within the test"),
    ("sample_seq", pa.int64(), False, "LoadGen's sample sequence number within the test"),
    ("sample_index", pa.int64(), False, "QuerySample.index: the dataset item"),
    ("latency_ns", pa.int64(), True,
     "LoadGen's latency (trace complete_ns), or the wrapper's when the run has no trace; "
     "null while a pass was not finalised"),
    ("issue_delay_ns", pa.int64(), True, "LoadGen's scheduled-to-issued delay (trace issue_start_ns)"),
    ("wrapper_issue_ns", pa.int64(), True, "CLOCK_REALTIME when the issue callback was entered"),
    ("wrapper_complete_ns", pa.int64(), True, "CLOCK_REALTIME just before QuerySamplesComplete"),
    ("compute_ns", pa.int64(), True, "backend.predict time of the batch holding the sample"),
    ("batch_size", pa.int32(), True, "samples in that predict call"),
    ("status", pa.string(), False, "ok | error | timeout | cancelled"),
    ("error", pa.string(), True, "one-line message when status is not ok"),
    ("output", pa.binary(), False, "raw output bytes exactly as handed to LoadGen"),
)
# Schema-1 files written after the remote backends landed also carry the first two columns
# below (under these names, which schema 2 reserved); readers take columns by name.
COLUMNS = COLUMNS_V1 + (
    ("server_queue_ns", pa.int64(), True,
     "filled by remote SUTs: the queueing a V2 server reported for the request holding the "
     "sample; null for in-process backends"),
    ("server_compute_ns", pa.int64(), True,
     "filled by remote SUTs: the compute the server reported for that request; null otherwise"),
    ("variant", pa.string(), True,
     "filled by pool SUTs: the model variant that served the sample; null otherwise"),
    ("server", pa.int32(), True,
     "filled by pool SUTs: the server (within its variant) that served it; null otherwise"),
    ("wait_ns", pa.int64(), True,
     "filled by pool SUTs: time the sample waited for a server; null otherwise"),
    ("service_ns", pa.int64(), True,
     "filled by pool SUTs: its service time on that server; null otherwise"),
)


def _schema(columns):
    return pa.schema([pa.field(n, t, nullable=nl) for n, t, nl, _ in columns])


SCHEMA = _schema(COLUMNS)
SCHEMAS = {1: _schema(COLUMNS_V1), 2: SCHEMA}
COLUMN_NAMES = tuple(c[0] for c in COLUMNS)
NULLABLE = frozenset(n for n, _, nl, _ in COLUMNS if nl)
STATUSES = ("ok", "error", "timeout", "cancelled")

SAMPLES_SCHEMA = pa.schema([
    pa.field("sample_index", pa.int64(), nullable=False),
    pa.field("size", pa.float64(), nullable=False),
])

# quality/pass-NNNNN.parquet: what the metric needs for one pass, one row per sample in
# sample-index order. Which columns are filled depends on the metric's kind (see
# tailq_loadgen.metrics: "scores" fills score, "labels" fills prediction and label).
QUALITY_SCHEMA = pa.schema([
    pa.field("sample_index", pa.int64(), nullable=False),
    pa.field("score", pa.float64(), nullable=True),
    pa.field("prediction", pa.int64(), nullable=True),
    pa.field("label", pa.int64(), nullable=True),
])


def build_table(schema=SCHEMA, **columns):
    """A table of ``schema`` from columns given by name; nullable columns left out are null.

    Every writer builds its tables here, so a column can never land in another's place.
    Values are NumPy arrays, pyarrow arrays or sequences; all must have the same length.
    """
    columns = {k: v for k, v in columns.items() if v is not None}
    names = set(schema.names)
    unknown = sorted(set(columns) - names)
    if unknown:
        raise ValueError(f"unknown record columns: {', '.join(unknown)}")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"record columns differ in length: {sorted(lengths)}")
    n = lengths.pop()
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None:
            if not field.nullable:
                raise ValueError(f"record column {field.name} is required")
            arrays.append(pa.nulls(n, field.type))
        elif isinstance(value, (pa.Array, pa.ChunkedArray)):
            arrays.append(value if value.type == field.type else value.cast(field.type))
        elif isinstance(value, np.ndarray) and value.dtype != object:
            arrays.append(pa.array(value, type=field.type))
        else:
            arrays.append(pa.array(list(value) if not isinstance(value, list) else value,
                                   type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
