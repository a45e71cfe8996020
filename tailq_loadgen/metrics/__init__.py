"""Task metrics with the tail-quality failure rule: pure functions of outputs, truth, validity."""

from ._metrics import F1, METRICS, Accuracy, RecallAtK, TopKAccuracy
from ._stored import KINDS, Scores, metric_from_state, metric_state, subset_state

__all__ = ["Accuracy", "F1", "KINDS", "METRICS", "RecallAtK", "Scores", "TopKAccuracy",
           "metric_from_state", "metric_state", "subset_state"]
