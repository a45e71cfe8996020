"""``tailq import``: another harness's LoadGen directories → a tailq run that analyze accepts."""

import csv
import math

import numpy as np

from .. import records
from .._errors import UserError
from .._version import __version__


def read_correctness(path, total):
    """Per-sample scores from a CSV with a header: ``sample_index`` and ``correct`` (0/1) or
    ``score`` (in [0, 1]). One row per sample of the dataset, each exactly once.

    A regular UTF-8 file (a byte-order mark is fine; UTF-16 is named in the error), at most
    ~256 bytes per sample; every problem is one line naming the file and line."""
    with records.TextLines(path, "--correctness", max_bytes=4096 + 256 * total) as lines:
        reader = csv.DictReader(lines)
        try:
            fields = reader.fieldnames or []
        except csv.Error as exc:
            raise UserError(f"--correctness {path}: not a CSV file ({exc})") from None
        fields = [f.strip() for f in fields]
        reader.fieldnames = fields
        value_col = [c for c in ("correct", "score") if c in fields]
        if "sample_index" not in fields or len(value_col) != 1:
            raise UserError(f"--correctness {path}: the header must name sample_index and one of "
                            "correct or score")
        col = value_col[0]
        scores = np.full(total, np.nan)
        lineno = 1
        try:
            for row in reader:
                lineno = lines.lineno
                try:
                    i, v = int(row["sample_index"]), float(row[col])
                except (TypeError, ValueError):
                    raise UserError(f"--correctness {path}:{lineno}: not a number") from None
                if not 0 <= i < total:
                    raise UserError(f"--correctness {path}:{lineno}: sample_index {i} is outside "
                                    f"the dataset (0..{total - 1})")
                if not math.isfinite(v) or not 0 <= v <= 1 or (col == "correct" and v not in (0, 1)):
                    raise UserError(f"--correctness {path}:{lineno}: {col} must be "
                                    f"{'0 or 1' if col == 'correct' else 'in [0, 1]'}, got {row[col]!r}")
                if not np.isnan(scores[i]):
                    raise UserError(f"--correctness {path}:{lineno}: sample_index {i} appears twice")
                scores[i] = v
        except csv.Error as exc:
            raise UserError(f"--correctness {path}:{lineno}: not CSV ({exc})") from None
    missing = int(np.isnan(scores).sum())
    if missing:
        raise UserError(f"--correctness {path}: {missing} of {total} samples have no row; give "
                        "one row per sample")
    return scores, ("accuracy" if col == "correct" else "score")


def import_run(dirs, out, *, harness=None, correctness=None, overwrite=False, log=print,
               progress=None):
    """Import LoadGen ``dirs`` (one pass each), scored by ``harness`` (a Harness, given on the
    command line) or by a ``correctness`` CSV. Either way the scores are stored in the run
    directory, so nothing that reads it later needs the harness. ``progress(done, total)``
    after each pass. Returns the metadata."""
    if (harness is None) == (correctness is None):
        raise UserError("give exactly one of --harness or --correctness")
    if not dirs:
        raise UserError("give at least one LoadGen output directory")
    _, total = records.read_first_detail(dirs)
    kw = {}
    if correctness is not None:
        kw["scores"] = read_correctness(correctness, total)
        describe = {"name": "imported", "metric": kw["scores"][1], "source": None}
        output = sizes = None
    else:
        n = int(harness.dataset.get_item_count())
        if n != total:
            raise UserError(f"--harness {harness.name}: its dataset has {n} samples but the LoadGen "
                            f"runs had {total}; they do not join")
        describe = dict(harness.describe())
        describe["args"] = records.source_args(describe.get("source"))
        describe["source"] = records.source_text(describe.get("source"))
        output = describe.get("output")
        get_sizes = getattr(harness.dataset, "get_sizes", None)
        sizes = get_sizes() if get_sizes else None
        kw.update(make_metric=getattr(harness, "make_metric", None), dataset_size=n)
    return records.import_loadgen_dirs(dirs, out, harness=describe, output=output, sizes=sizes,
                                       overwrite=overwrite, tailq_version=__version__,
                                       inputs=[correctness] if correctness else [], log=log,
                                       progress=progress, **kw)
