"""``quality/``: what the task metric needs, per pass, so that no reader needs the harness.

At capture (and import) the harness's metric is built on the pass's outputs, then stored as
its per-sample state (``tailq_loadgen.metrics.metric_state``): one row per sample in sample
order. Readers rebuild the metric from the fixed table in ``tailq_loadgen.metrics`` — a
lookup by kind, never code named in a file. ``metadata["quality"]`` says which metric, its
parameters, where the scores came from and which passes have a file; a file
``quality/every-pass.parquet`` serves every pass (per-sample scores from a correctness CSV).
"""

import os

import numpy as np
import pyarrow as pa

from .. import metrics
from .._errors import UserError
from ._io import write_parquet_atomic
from ._migrate import LEGACY_CORRECTNESS
from ._rundir import quality_path
from ._schema import QUALITY_SCHEMA, build_table

_LEGACY_SCHEMA = pa.schema([pa.field("sample_index", pa.int64()), pa.field("score", pa.float64())])


def write_quality(rundir, index, metric, source, count=None):
    """Store ``metric``'s state for pass ``index`` (None: every pass) in ``rundir``.

    ``count``: keep only the first ``count`` samples (the metric was built on the whole
    dataset, the run used a subset). Raises TypeError for a metric the table cannot hold.
    """
    kind, params, columns = metrics.metric_state(metric)
    n = int(rundir.meta["sample_count"])
    if count is not None:
        columns = metrics.subset_state(columns, count)
    for name, col in columns.items():
        if len(col) != n:
            raise ValueError(f"the metric holds {len(col)} samples, the run {n}")
    table = build_table(QUALITY_SCHEMA, sample_index=np.arange(n, dtype=np.int64), **columns)
    write_parquet_atomic(table, quality_path(rundir.path, index))
    entry = {"metric": params["name"], "kind": kind,
             "params": {k: v for k, v in params.items() if k != "name"}, "source": source}
    old = rundir.meta.get("quality")
    passes = list(old["passes"]) if old else []
    if old and {k: old[k] for k in entry} != entry:
        raise ValueError(f"pass {index}: metric {entry} differs from the run's {old}")
    if index is not None and index not in passes:
        passes.append(int(index))
    rundir.update(quality=dict(entry, passes=sorted(passes),
                               every_pass=bool(old and old["every_pass"]) or index is None),
                  quality_note=None)


class StoredQuality:
    """The run's stored metric per pass, rebuilt on demand from ``quality/``."""

    def __init__(self, run_dir, meta):
        self.run_dir = run_dir
        self.info = meta.get("quality")
        self.note = meta.get("quality_note")
        self.n = int(meta["sample_count"])
        self._cache = {}

    def __bool__(self):
        return self.info is not None

    def has(self, p):
        return bool(self.info) and (p in self.info["passes"] or self.info["every_pass"])

    def metric(self, p):
        """The metric of pass ``p``; UserError when the run stores none for it."""
        if not self.info:
            raise UserError(f"{self.run_dir}: the run stores no scores "
                            f"({self.note or 'its harness has no metric'})")
        if p in self.info["passes"]:
            path = quality_path(self.run_dir, p)
        elif self.info["every_pass"]:
            path = quality_path(self.run_dir, None)
            if not os.path.lexists(path) and os.path.lexists(os.path.join(self.run_dir, LEGACY_CORRECTNESS)):
                path = os.path.join(self.run_dir, LEGACY_CORRECTNESS)
        else:
            raise UserError(f"{self.run_dir}: pass {p} has no stored scores")
        if path not in self._cache:
            self._cache[path] = self._load(path)
        return self._cache[path]

    def _load(self, path):
        from ._reader import read_parquet_file

        legacy = os.path.basename(path) == LEGACY_CORRECTNESS
        table = read_parquet_file(path, _LEGACY_SCHEMA if legacy else QUALITY_SCHEMA)
        idx = table.column("sample_index").to_numpy()
        n = self.n
        if idx.size != n or (idx.size and (idx.min() < 0 or idx.max() >= n)) \
                or np.unique(idx).size != idx.size:
            raise UserError(f"{path}: needs one row per sample 0..{n - 1}; the run directory is damaged")
        order = np.argsort(idx)
        info = self.info
        columns = {}
        need = ("score",) if info["kind"] == "scores" else ("prediction", "label")
        for name in need:
            col = table.column(name)
            if col.null_count:
                raise UserError(f"{path}: column {name} has nulls; the run directory is damaged")
            columns[name] = col.to_numpy()[order]
        try:
            return metrics.metric_from_state(info["kind"], dict(info["params"], name=info["metric"]),
                                             columns)
        except (ValueError, KeyError) as exc:
            raise UserError(f"{path}: {exc}; the run directory is damaged") from None

