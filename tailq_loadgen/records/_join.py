"""Joins a pass's wrapper records with LoadGen's trace and writes the pass's final file.

The join key is LoadGen's sample sequence number: within one ``StartTest`` the n-th sample
that ``issue_queries`` receives has ``sample_seq == n``. The sample index and query number
are checked on every row; a disagreement is an error, never a silent mis-join.
"""

import dataclasses
import glob
import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._errors import UserError
from ._io import AtomicParquetWriter
from ._schema import SCHEMA


class JoinError(UserError):
    """Records and LoadGen's trace disagree on which sample a sequence number is."""


@dataclasses.dataclass(frozen=True)
class JoinReport:
    rows: int
    joined: int
    missing_in_trace: int   # records LoadGen's trace has no event for (latency left null)
    missing_in_records: int  # trace events with no record (e.g. lost in a crash)

    def as_dict(self):
        return dataclasses.asdict(self)


def segment_files(segment_dir):
    return sorted(glob.glob(os.path.join(segment_dir, "seg-*.parquet")))


class SeqLookup:
    """Positions of sequence numbers in the trace, by binary search over the sorted numbers:
    memory follows the number of events (16 bytes each), never the largest sequence number."""

    def __init__(self, seq, what):
        self.order = np.argsort(seq, kind="stable")
        self.sorted = seq[self.order]
        if self.sorted.size > 1 and np.any(self.sorted[1:] == self.sorted[:-1]):
            raise JoinError(f"{what}: a sample sequence number appears twice (duplicated lines); "
                            "the trace is corrupted")

    def positions(self, seq):
        """Trace position of each of ``seq``, -1 where the trace has no such number."""
        seq = np.asarray(seq, dtype=np.int64)
        at = np.searchsorted(self.sorted, seq)
        at_c = np.minimum(at, max(self.sorted.size - 1, 0))
        found = (at < self.sorted.size) & (self.sorted[at_c] == seq) if self.sorted.size else \
            np.zeros(seq.size, dtype=bool)
        return np.where(found, self.order[at_c] if self.sorted.size else -1, -1)


def finalize_pass(segment_dir, final_path, trace=None):
    """Write ``final_path`` from the segments in ``segment_dir``, joined with ``trace``.

    ``trace`` is the dict of :func:`read_trace_samples`, or None for a trace-less run (the
    segments then already hold the wrapper's latency). Memory: the trace's arrays and lookup
    (about 56 bytes per sample) plus one segment at a time. The segments are removed only
    once the final file is in place, so a failure (a full disk) loses nothing.
    """
    files = segment_files(segment_dir)
    lookup = _trace_lookup(trace) if trace is not None else None
    rows = joined = 0
    seen = np.zeros(0 if lookup is None else lookup[0].sorted.size, dtype=bool)
    with AtomicParquetWriter(final_path, SCHEMA) as writer:
        for path in files:
            table = pq.read_table(path, schema=SCHEMA)
            if lookup is not None:
                table, n_joined = _join(table, lookup, seen, path)
                joined += n_joined
            rows += table.num_rows
            writer.write_table(table)
    shutil.rmtree(segment_dir, ignore_errors=True)
    if lookup is None:
        return JoinReport(rows, rows, 0, 0)
    return JoinReport(rows, joined, rows - joined, int(seen.size - seen.sum()))


def _trace_lookup(trace):
    lookup = SeqLookup(trace["sample_seq"], "LoadGen's trace")
    return (lookup, trace["sample_idx"], trace["query_seq"], trace["complete_ns"],
            trace["issue_start_ns"])


def _join(table, lookup, seen, path):
    seq_lookup, t_idx, t_query, t_latency, t_delay = lookup
    seq = table.column("sample_seq").to_numpy()
    pos = seq_lookup.positions(seq)
    found = pos >= 0
    p = pos[found]
    index = table.column("sample_index").to_numpy()[found]
    query = table.column("query_seq").to_numpy()[found]
    bad = (t_idx[p] != index) | (t_query[p] != query)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise JoinError(
            f"{path}: sample_seq {int(seq[found][i])} is sample {int(index[i])} (query "
            f"{int(query[i])}) in the records but sample {int(t_idx[p][i])} (query "
            f"{int(t_query[p][i])}) in LoadGen's trace; {int(bad.sum())} rows disagree")
    seen[p] = True
    latency = np.zeros(seq.size, dtype=np.int64)
    delay = np.zeros(seq.size, dtype=np.int64)
    latency[found] = t_latency[p]
    delay[found] = t_delay[p]
    mask = ~found
    table = table.set_column(table.schema.get_field_index("latency_ns"), "latency_ns",
                             pa.array(latency, mask=mask))
    table = table.set_column(table.schema.get_field_index("issue_delay_ns"), "issue_delay_ns",
                             pa.array(delay, mask=mask))
    return table, int(found.sum())
