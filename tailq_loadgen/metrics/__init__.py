"""Task metrics with the tail-quality failure rule: pure functions of outputs, truth, validity."""

from ._metrics import F1, METRICS, Accuracy, RecallAtK, TopKAccuracy

__all__ = ["Accuracy", "F1", "METRICS", "RecallAtK", "TopKAccuracy"]
