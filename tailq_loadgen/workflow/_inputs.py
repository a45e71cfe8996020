"""From a run directory to the arrays the statistics need: (samples × passes) matrices."""

import dataclasses

import numpy as np

from .._errors import UserError


@dataclasses.dataclass(frozen=True)
class PassMatrix:
    """Latency and status of every sample in every complete pass, indexed [sample, pass]."""

    latency: np.ndarray      # float64 ns, NaN where the sample did not complete ok
    ok: np.ndarray           # bool
    passes: tuple            # the run's pass numbers, one per column
    outputs: tuple           # per pass: (N, *shape) array in sample order (zeros where not ok)
    sizes: np.ndarray        # per sample, NaN when the harness reports none
    skipped: tuple           # (pass, reason) of passes left out

    @property
    def n_samples(self):
        return self.latency.shape[0]

    @property
    def n_passes(self):
        return self.latency.shape[1]


def pass_matrix(run):
    """Build the matrices from the AccuracyOnly passes of ``run``; errors name the problem."""
    meta = run.metadata
    n = int(meta.get("sample_count") or 0)
    if n <= 0:
        raise UserError(f"{run.path}: the run records no sample count; it is damaged")
    tests = {t["pass"]: t for t in meta.get("tests", [])}
    pass_col, idx_col = run["pass"], run["sample_index"]
    if len(run) and (idx_col.min() < 0 or idx_col.max() >= n):
        bad = int(np.sum((idx_col < 0) | (idx_col >= n)))
        raise UserError(f"{run.path}: {bad} records have a sample index outside the dataset "
                        f"(0..{n - 1}); the records do not join to the dataset")
    lat_col, status = run["latency_ns"], run["status"]
    spec = meta.get("output") or {}
    dtype = np.dtype(spec["dtype"]) if spec.get("dtype") else None
    shape = tuple(spec["shape"]) if spec.get("shape") is not None else None
    raw = run["output"]
    cols_lat, cols_ok, used, outputs, skipped = [], [], [], [], []
    for p in sorted(set(pass_col.tolist())):
        test = tests.get(p, {})
        if test.get("mode") != "AccuracyOnly":
            skipped.append((p, f"mode {test.get('mode')}: not a pass over every sample"))
            continue
        if p in run.partial_passes or not test.get("complete", False) and test.get("mode"):
            skipped.append((p, "incomplete pass"))
            continue
        sel = np.flatnonzero(pass_col == p)
        idx = idx_col[sel]
        if np.unique(idx).size != idx.size:
            raise UserError(f"{run.path}: pass {p} holds a sample more than once; the records "
                            "do not join to the dataset")
        if idx.size != n:
            skipped.append((p, f"{n - idx.size} samples missing"))
            continue
        lat = np.full(n, np.nan)
        ok = np.zeros(n, dtype=bool)
        good = (status[sel] == "ok") & (lat_col[sel] >= 0)
        lat[idx[good]] = lat_col[sel][good]
        ok[idx[good]] = True
        if np.any(ok & ~np.isfinite(lat)):
            raise UserError(f"{run.path}: pass {p} has non-finite latencies")
        if np.any(lat[ok] <= 0):
            raise UserError(f"{run.path}: pass {p} has zero or negative latencies; "
                            "the records are damaged")
        out = None
        if dtype is not None and shape is not None:
            out = np.zeros((n,) + shape, dtype=dtype)
            for row, i in zip(sel[good], idx[good]):
                out[i] = np.frombuffer(raw[row], dtype=dtype).reshape(shape)
        cols_lat.append(lat)
        cols_ok.append(ok)
        used.append(p)
        outputs.append(out)
    sizes = np.asarray(run.samples.get("size", np.full(n, np.nan)), dtype=np.float64)
    if sizes.shape[0] != n:
        sizes = np.full(n, np.nan)
    latency = np.column_stack(cols_lat) if cols_lat else np.zeros((n, 0))
    ok = np.column_stack(cols_ok) if cols_ok else np.zeros((n, 0), dtype=bool)
    return PassMatrix(latency, ok, tuple(used), tuple(outputs), sizes, tuple(skipped))
