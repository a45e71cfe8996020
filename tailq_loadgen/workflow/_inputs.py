"""From a run directory to the arrays the statistics need: (samples × passes) matrices.

Passes are read one at a time and only three columns of each (sample index, status,
latency), so memory is the matrices themselves (9 bytes per sample per pass) plus one
pass's columns; outputs are never decoded here — the metric's per-sample state is stored
in the run directory (``quality/``).
"""

import dataclasses

import numpy as np
import pyarrow.compute as pc

from .._errors import UserError


@dataclasses.dataclass(frozen=True)
class PassMatrix:
    """Latency and status of every sample in every complete pass, indexed [sample, pass]."""

    latency: np.ndarray      # float64 ns, NaN where the sample did not complete ok
    ok: np.ndarray           # bool
    passes: tuple            # the run's pass numbers, one per column
    sizes: np.ndarray        # per sample, NaN when the harness reports none
    skipped: tuple           # (pass, reason) of passes left out

    @property
    def n_samples(self):
        return self.latency.shape[0]

    @property
    def n_passes(self):
        return self.latency.shape[1]


def usable_passes(run):
    """(passes that are complete AccuracyOnly passes, [(pass, reason)] of the others)."""
    tests = {t["pass"]: t for t in run.metadata["tests"]}
    used, skipped = [], []
    for p in run.passes:
        test = tests.get(p, {})
        if test.get("mode") != "AccuracyOnly":
            skipped.append((p, f"mode {test.get('mode')}: not a pass over every sample"))
        elif p in run.partial_passes or not test.get("complete", False):
            skipped.append((p, "incomplete pass"))
        else:
            used.append(p)
    return used, skipped


def pass_columns(run, p, n):
    """(latency float64 with NaN, ok bool) of pass ``p`` in sample order; None when the pass
    does not hold every sample; UserError when it holds one twice."""
    table = run.read_pass(p, ["sample_index", "status", "latency_ns"])
    idx = table.column("sample_index").to_numpy()
    if np.unique(idx).size != idx.size:
        raise UserError(f"{run.path}: pass {p} holds a sample more than once; the records "
                        "do not join to the dataset")
    if idx.size != n:
        return None
    lat_col = table.column("latency_ns")
    good = (pc.equal(table.column("status"), "ok").to_numpy(zero_copy_only=False)
            & lat_col.is_valid().to_numpy(zero_copy_only=False))
    lat_raw = lat_col.fill_null(0).to_numpy()
    lat = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    lat[idx[good]] = lat_raw[good]
    ok[idx[good]] = True
    if np.any(lat[ok] <= 0):
        raise UserError(f"{run.path}: pass {p} has zero latencies; the records are damaged")
    return lat, ok


def pass_matrix(run):
    """Build the matrices from the AccuracyOnly passes of ``run``; errors name the problem."""
    n = int(run.metadata["sample_count"])
    passes, skipped = usable_passes(run)
    cols_lat, cols_ok, used = [], [], []
    for p in passes:
        got = pass_columns(run, p, n)
        if got is None:
            skipped.append((p, "samples missing"))
            continue
        cols_lat.append(got[0])
        cols_ok.append(got[1])
        used.append(p)
    sizes = np.asarray(run.samples.get("size", np.full(n, np.nan)), dtype=np.float64)
    if sizes.shape[0] != n:
        sizes = np.full(n, np.nan)
    latency = np.column_stack(cols_lat) if cols_lat else np.zeros((n, 0))
    ok = np.column_stack(cols_ok) if cols_ok else np.zeros((n, 0), dtype=bool)
    skipped.sort()
    return PassMatrix(latency, ok, tuple(used), sizes, tuple(skipped))
