"""The per-sample record format: one schema, versioned.

Format history (``schema_version`` in ``metadata.json``):

* 1 — first version (tailq 0.1.0). Columns as in ``COLUMNS`` below; outputs are the raw bytes
  handed to LoadGen (``metadata["output"]["dtype"]`` gives their NumPy dtype). The wrapper's
  columns are null in runs imported from another harness's LoadGen logs.

A reader refuses a directory whose schema version is newer than ``SCHEMA_VERSION`` and
migrates older ones step by step (there are none yet). ``docs/record-format.md`` documents
every column for readers that do not use tailq.
"""

import pyarrow as pa

SCHEMA_VERSION = 1
FORMAT_NAME = "tailq-run"

# (name, arrow type, nullable, meaning) — the one place the columns are declared.
COLUMNS = (
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
    # Added with remote (V2 protocol) backends; null for in-process backends and in files
    # written before (readers fill them with nulls). Schema v2 reserves the same two names.
    ("server_queue_ns", pa.int64(), True,
     "queueing the server reported for the request holding the sample (remote backends)"),
    ("server_compute_ns", pa.int64(), True,
     "compute the server reported for the request holding the sample (remote backends)"),
)

SCHEMA = pa.schema([pa.field(n, t, nullable=nl) for n, t, nl, _ in COLUMNS])
COLUMN_NAMES = tuple(c[0] for c in COLUMNS)
STATUSES = ("ok", "error", "timeout", "cancelled")

SAMPLES_SCHEMA = pa.schema([
    pa.field("sample_index", pa.int64(), nullable=False),
    pa.field("size", pa.float64(), nullable=False),
])
