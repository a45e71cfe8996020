"""The task metric of a run: from a correctness file (imported runs) or the harness."""

import os

import numpy as np
import pyarrow.parquet as pq

from .._errors import UserError
from ..metrics._metrics import _SumMetric

CORRECTNESS = "correctness.parquet"


class ScoreMetric(_SumMetric):
    """Per-sample scores in [0, 1] given directly (``tailq import --correctness``)."""

    def __init__(self, scores, name="score"):
        super().__init__(scores)
        self.name = name


def metrics_for_run(run, matrix, harness=None):
    """(metric for the observed passes, metric for synthetic passes, notes).

    ``harness``: the harness object that captured the run, when at hand (saves building it
    again from the run's metadata)."""
    path = os.path.join(run.path, CORRECTNESS)
    if os.path.exists(path):
        table = pq.read_table(path)
        scores = np.zeros(matrix.n_samples)
        scores[table.column("sample_index").to_numpy()] = table.column("score").to_numpy()
        m = ScoreMetric(scores, run.metadata.get("harness", {}).get("metric") or "score")
        return m, m, ["per-sample scores from the imported correctness file"]
    source = (run.metadata.get("harness") or {}).get("source")
    if harness is None:
        if not source:
            raise UserError(f"{run.path}: the run names no harness to score its outputs with; "
                            "import it with --correctness FILE")
        from .. import harnesses  # builds the harness's dataset (ground truth); frameworks load lazily

        harness = harnesses.get_harness(source["harness"], **source.get("args", {}))
    if harness.metric_factory is None:
        raise UserError(f"harness {harness.name!r} has no quality metric; tail quality "
                        "needs one")
    if any(o is None for o in matrix.outputs):
        raise UserError(f"{run.path}: outputs of varying shape cannot be scored")
    per_pass = [harness.make_metric(o) for o in matrix.outputs]
    same = all(np.array_equal(matrix.outputs[0], o) for o in matrix.outputs[1:])
    if same:
        return per_pass[0], per_pass[0], []
    differing = int(np.sum(np.any(np.stack([np.any(
        (o != matrix.outputs[0]).reshape(matrix.n_samples, -1), axis=1) for o in matrix.outputs]), axis=0)))
    return per_pass, per_pass[0], [
        f"outputs differ between passes for {differing} samples: observed passes are scored "
        "each with its own outputs, synthetic passes with the first pass's"]


def run_quality(run):
    """Quality with no time limit over the run's complete passes (failed samples count as
    wrong), as ``{"metric", "value", "per_pass"}``; None when the run has no scorable pass."""
    from ._inputs import pass_matrix  # local: _inputs is light, but keeps this module's face small

    try:
        matrix = pass_matrix(run)
        if matrix.n_passes == 0:
            return None
        metric, synthetic, _ = metrics_for_run(run, matrix)
    except UserError:
        return None
    metrics = metric if isinstance(metric, list) else [metric] * matrix.n_passes
    values = [float(m.evaluate(matrix.ok[:, j:j + 1])[0]) for j, m in enumerate(metrics)]
    return {"metric": getattr(synthetic, "name", "quality"), "value": float(np.mean(values)),
            "per_pass": values}


def summarize(run_dir):
    """``tailq show``'s summary of a run directory, with its quality when it can be scored."""
    from .. import records, report

    run = records.load_run(run_dir)
    return report.summarize_run(run, quality=run_quality(run))
