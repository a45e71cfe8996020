"""A metric as data: what it needs per sample, so a run directory can hold it and any reader
can rebuild it from this fixed table — never from code named in a file.

Two kinds cover the metrics in ``_metrics.py``:

* ``"scores"`` — metrics that are means of per-sample scores in [0, 1] (accuracy, top-k
  accuracy, recall@k, per-sample scores from a file): stored as one ``score`` per sample;
* ``"labels"`` — F1, which is not a sum over samples: stored as ``prediction`` and ``label``
  per sample plus ``average`` and ``n_classes``, so the failure rule (a late sample predicts
  no class) is applied again when it is rebuilt.

Rows are per sample, in sample order, so the state of a subset (``--count N``) is its first
N rows.
"""

import numpy as np

from ._metrics import F1, _SumMetric

KINDS = ("scores", "labels")
MAX_CLASSES = 100_000
MAX_CELLS = 2**28  # F1 holds two (classes × samples) matrices


class Scores(_SumMetric):
    """Per-sample scores in [0, 1] given directly (a stored state, or ``--correctness``)."""

    def __init__(self, scores, name="score"):
        super().__init__(scores)
        self.name = name


def metric_state(metric):
    """``(kind, params, columns)`` of a metric; raises TypeError for one this table cannot hold."""
    if isinstance(metric, F1):
        return "labels", {"name": metric.name, "average": metric.average,
                          "n_classes": int(metric.n_classes)}, \
            {"prediction": np.asarray(metric.predictions, dtype=np.int64),
             "label": np.asarray(metric.labels, dtype=np.int64)}
    if isinstance(metric, _SumMetric):
        return "scores", {"name": str(getattr(metric, "name", "score"))}, \
            {"score": np.asarray(metric.scores, dtype=np.float64)}
    raise TypeError(f"{type(metric).__name__} is not one of tailq_loadgen.metrics")


def metric_from_state(kind, params, columns):
    """Rebuild a metric from a stored state; ValueError names what is wrong with it."""
    name = params.get("name")
    if not isinstance(name, str) or not name or len(name) > 100:
        raise ValueError(f"metric name {name!r} is not a short string")
    if kind == "scores":
        scores = np.asarray(columns["score"], dtype=np.float64)
        if not np.all(np.isfinite(scores)) or scores.min(initial=0) < 0 or scores.max(initial=0) > 1:
            raise ValueError("scores must be finite numbers in [0, 1]")
        return Scores(scores, name)
    if kind == "labels":
        average, k = params.get("average"), params.get("n_classes")
        if average not in ("macro", "weighted"):
            raise ValueError(f"F1 average {average!r} is not macro or weighted")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_CLASSES:
            raise ValueError(f"n_classes {k!r} is not a whole number in [1, {MAX_CLASSES}]")
        pred = np.asarray(columns["prediction"], dtype=np.int64)
        labels = np.asarray(columns["label"], dtype=np.int64)
        if k * labels.size > MAX_CELLS:
            raise ValueError(f"{k} classes × {labels.size} samples is too large to score")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels must lie in [0, {k - 1}]")
        metric = F1(pred, labels, average=average, n_classes=k)
        metric.name = name
        return metric
    raise ValueError(f"metric kind {kind!r} is not one of {', '.join(KINDS)}")


def subset_state(columns, n):
    """The state of the first ``n`` samples."""
    return {k: v[:n] for k, v in columns.items()}
