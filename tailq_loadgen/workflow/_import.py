"""``tailq import``: another harness's LoadGen directories → a tailq run that analyze accepts."""

import csv
import math
import os

import numpy as np
import pyarrow as pa

from .. import records
from .._errors import UserError
from .._version import __version__
from ._metric import CORRECTNESS


def read_correctness(path, total):
    """Per-sample scores from a CSV with a header: ``sample_index`` and ``correct`` (0/1) or
    ``score`` (in [0, 1]). One row per sample of the dataset, each exactly once."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--correctness {path}: cannot read it ({exc.strerror})") from None
    with f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        value_col = [c for c in ("correct", "score") if c in fields]
        if "sample_index" not in fields or len(value_col) != 1:
            raise UserError(f"--correctness {path}: the header must name sample_index and one of "
                            "correct or score")
        col = value_col[0]
        scores = np.full(total, np.nan)
        for lineno, row in enumerate(reader, 2):
            try:
                i, v = int(row["sample_index"]), float(row[col])
            except (TypeError, ValueError):
                raise UserError(f"--correctness {path}:{lineno}: not a number") from None
            if not 0 <= i < total:
                raise UserError(f"--correctness {path}:{lineno}: sample_index {i} is outside the "
                                f"dataset (0..{total - 1})")
            if not math.isfinite(v) or not 0 <= v <= 1 or (col == "correct" and v not in (0, 1)):
                raise UserError(f"--correctness {path}:{lineno}: {col} must be "
                                f"{'0 or 1' if col == 'correct' else 'in [0, 1]'}, got {row[col]!r}")
            if not np.isnan(scores[i]):
                raise UserError(f"--correctness {path}:{lineno}: sample_index {i} appears twice")
            scores[i] = v
    missing = int(np.isnan(scores).sum())
    if missing:
        raise UserError(f"--correctness {path}: {missing} of {total} samples have no row; give "
                        "one row per sample")
    return scores, ("accuracy" if col == "correct" else "score")


def import_run(dirs, out, *, harness=None, correctness=None, overwrite=False, progress=None):
    """Import LoadGen ``dirs`` (one pass each), scored by ``harness`` (a Harness) or by a
    ``correctness`` CSV. Returns the run's metadata."""
    if (harness is None) == (correctness is None):
        raise UserError("give exactly one of --harness or --correctness")
    if not dirs:
        raise UserError("give at least one LoadGen output directory")
    _, total = records.read_first_detail(dirs)
    scores = metric_name = None
    if correctness is not None:
        scores, metric_name = read_correctness(correctness, total)
        describe, output, sizes = {"name": "imported", "metric": metric_name, "source": None}, None, None
    else:
        n = int(harness.dataset.get_item_count())
        if n != total:
            raise UserError(f"--harness {harness.name}: its dataset has {n} samples but the LoadGen "
                            f"runs had {total}; they do not join")
        describe = harness.describe()
        output = describe.get("output")
        get_sizes = getattr(harness.dataset, "get_sizes", None)
        sizes = get_sizes() if get_sizes else None
    meta = records.import_loadgen_dirs(dirs, out, harness=describe, output=output, sizes=sizes,
                                       overwrite=overwrite, tailq_version=__version__,
                                       progress=progress)
    if scores is not None:
        records.write_parquet_atomic(
            pa.table({"sample_index": np.arange(total, dtype=np.int64), "score": scores}),
            os.path.join(out, CORRECTNESS))
    return meta
