"""Small atomic-file helpers shared by the writers: a reader never sees a half-written file."""

import json
import os

import pyarrow.parquet as pq


def _fsync_and_replace(tmp, path):
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_parquet_atomic(table, path):
    tmp = f"{path}.tmp"
    pq.write_table(table, tmp)
    _fsync_and_replace(tmp, path)


def write_json_atomic(obj, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
        f.write("\n")
    _fsync_and_replace(tmp, path)


def _json_default(o):
    # NumPy scalars reach metadata through settings and counts.
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
