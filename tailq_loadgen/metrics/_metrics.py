"""Task metrics under the tail-quality failure rule, vectorised over many validity masks.

Every metric is built once from per-sample predictions and ground truth and then answers
``evaluate(valid)`` for a boolean ``valid`` of shape (samples, columns) — one column per pass,
real or synthetic — returning one quality value per column. A sample that is not valid
(late, or failed) counts as failed, and the denominator never shrinks (spec §2):

* accuracy / top-k accuracy: a late sample is wrong;
* F1 (macro, weighted): a late sample gets a label that matches no class (a false negative
  for its true class, a false positive for none);
* retrieval recall@k: a late query contributes zero.

Predictions are one per sample (shape (N,) or (N, k)); when a run's outputs differ between
passes, build one metric per pass (see ``per_pass``).
"""

import numpy as np


def _as_valid(valid, n):
    valid = np.asarray(valid, dtype=bool)
    if valid.ndim == 1:
        valid = valid[:, None]
    if valid.shape[0] != n:
        raise ValueError(f"valid has {valid.shape[0]} rows for {n} samples")
    return valid


class _SumMetric:
    """Quality = mean over samples of a per-sample score in [0, 1] (zero when not valid)."""

    name = "score"

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float64)
        self._scores32 = self.scores.astype(np.float32)
        self.n = self.scores.shape[0]

    def evaluate(self, valid):
        valid = _as_valid(valid, self.n)
        if self.n == 0:
            return np.zeros(valid.shape[1])
        # float64 accumulation keeps results exact to the sample count for 0/1 scores
        return (self.scores @ valid) / self.n

    def no_limit(self):
        return float(self.scores.mean()) if self.n else 0.0

    def all_failed(self):
        return 0.0


class Accuracy(_SumMetric):
    name = "accuracy"

    def __init__(self, predictions, labels):
        predictions = np.asarray(predictions)
        labels = np.asarray(labels)
        if predictions.shape[0] != labels.shape[0]:
            raise ValueError("predictions and labels differ in length")
        super().__init__((predictions.reshape(labels.shape[0], -1)[:, 0] == labels).astype(np.float64))


class TopKAccuracy(_SumMetric):
    def __init__(self, scores, labels, k=5):
        scores = np.asarray(scores)
        labels = np.asarray(labels)
        topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        super().__init__((topk == labels[:, None]).any(axis=1).astype(np.float64))
        self.name = f"top{k}_accuracy"


class RecallAtK(_SumMetric):
    """Retrieval: a query scores 1 when a relevant item is among its first k results."""

    def __init__(self, ranked, relevant, k=10):
        ranked = np.asarray(ranked)[:, :k]
        relevant = np.asarray(relevant)
        if relevant.ndim == 1:
            hit = (ranked == relevant[:, None]).any(axis=1)
        else:  # (N, R) relevant ids padded with -1
            hit = (ranked[:, :, None] == relevant[:, None, :]).any(axis=(1, 2))
        super().__init__(hit.astype(np.float64))
        self.name = f"recall@{k}"


class F1(object):
    """Macro or weighted F1 over classes, computed for many masks with two matrix products."""

    def __init__(self, predictions, labels, average="macro", n_classes=None):
        if average not in ("macro", "weighted"):
            raise ValueError("average must be 'macro' or 'weighted'")
        pred = np.asarray(predictions).reshape(-1)
        labels = np.asarray(labels).reshape(-1)
        k = int(n_classes or max(pred.max(initial=0), labels.max(initial=0)) + 1)
        # kept as given, so the metric can be stored and rebuilt (tailq_loadgen.metrics.metric_state)
        self.predictions, self.labels, self.n_classes = pred, labels, k
        self.n = labels.shape[0]
        self.average = average
        self.name = f"f1_{average}"
        self._true = np.zeros((k, self.n))
        self._true[labels, np.arange(self.n)] = 1.0
        self._pred = np.zeros((k, self.n))
        in_range = (pred >= 0) & (pred < k)
        self._pred[pred[in_range], np.arange(self.n)[in_range]] = 1.0
        self._support = self._true.sum(axis=1)
        self._classes = self._support > 0

    def evaluate(self, valid):
        valid = _as_valid(valid, self.n).astype(np.float64)
        tp = (self._true * self._pred) @ valid
        predicted = self._pred @ valid         # late samples predict no class
        fp = predicted - tp
        fn = self._support[:, None] - tp       # late samples are misses of their true class
        denom = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        if self.average == "macro":
            return f1[self._classes].mean(axis=0)
        w = self._support / self._support.sum()
        return w @ f1

    def no_limit(self):
        return float(self.evaluate(np.ones((self.n, 1), dtype=bool))[0])

    def all_failed(self):
        return 0.0


METRICS = {"accuracy": Accuracy, "top5_accuracy": TopKAccuracy, "f1_macro": F1,
           "f1_weighted": F1, "recall@10": RecallAtK}
