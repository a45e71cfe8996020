"""The task metric of a run, from what the run directory stores (``quality/``).

The capture (or import) built the harness's metric on each pass's outputs and stored its
per-sample state; here it is rebuilt from the fixed table in ``tailq_loadgen.metrics``. No
harness is built, no framework imported, no model trained, and nothing named in a file is
ever imported or called.
"""

import numpy as np

from .._errors import UserError


def _same_state(a, b):
    if type(a) is not type(b):
        return False
    if hasattr(a, "scores"):
        return np.array_equal(a.scores, b.scores)
    return np.array_equal(a.predictions, b.predictions) and np.array_equal(a.labels, b.labels)


def metrics_for_run(run, matrix, harness=None):
    """(metric for the observed passes, metric for synthetic passes, notes).

    One metric when every pass scores alike, else a list with one metric per pass of
    ``matrix`` (synthetic passes then use the first pass's). ``harness`` is accepted for
    callers written before schema 2 and not used: the scores come from the directory.
    """
    quality = run.quality
    if not quality:
        raise UserError(f"{run.path}: the run stores no scores, so tail quality cannot be "
                        f"computed ({quality.note or 'its harness has no metric'})")
    per_pass = [quality.metric(p) for p in matrix.passes]
    if not per_pass:
        raise UserError(f"{run.path}: no complete pass to score")
    if all(_same_state(per_pass[0], m) for m in per_pass[1:]):
        return per_pass[0], per_pass[0], []
    differing = _differing_samples(per_pass)
    return per_pass, per_pass[0], [
        f"outputs differ between passes for {differing} samples: observed passes are scored "
        "each with its own outputs, synthetic passes with the first pass's"]


def _differing_samples(per_pass):
    first = per_pass[0]
    key = (lambda m: m.scores) if hasattr(first, "scores") else (lambda m: m.predictions)
    stack = np.stack([key(m) for m in per_pass])
    return int(np.sum(np.any(stack != stack[:1], axis=0)))


def run_quality(run):
    """Quality with no time limit over the run's complete passes (failed samples count as
    wrong), as ``{"metric", "value", "per_pass"}``; None when the run has no scorable pass.
    Streams: one pass of three columns at a time."""
    from ._inputs import pass_columns, usable_passes  # local: keeps this module's face small

    quality = run.quality
    if not quality:
        return None
    n = int(run.metadata["sample_count"])
    values, name = [], None
    try:
        for p in usable_passes(run)[0]:
            if not quality.has(p):
                continue
            got = pass_columns(run, p, n)
            if got is None:
                continue
            metric = quality.metric(p)
            name = getattr(metric, "name", "quality")
            values.append(float(metric.evaluate(got[1][:, None])[0]))
    except UserError:
        return None
    if not values:
        return None
    return {"metric": name, "value": float(np.mean(values)), "per_pass": values}


def summarize(run_dir):
    """``tailq show``'s summary of a run directory, with its quality when it can be scored."""
    from .. import records, report

    run = records.load_run(run_dir)
    return report.summarize_run(run, quality=run_quality(run))
