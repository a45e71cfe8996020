"""What a harness is, in MLPerf reference-harness vocabulary.

A harness bundles:

* a **backend** — ``name()``, ``version()``, ``load()``, ``predict(batch)``: ``predict`` takes
  what the dataset's ``get_samples`` returned and gives one output per sample (an array whose
  first axis is the batch, or a list of per-sample arrays);
* a **dataset** (LoadGen's QSL side) — ``get_item_count()``, ``load_query_samples(indices)``,
  ``unload_query_samples(indices)``, ``get_samples(indices)``, ``get_sizes()`` (a size per
  sample: pixels, tokens, bytes) and ``ground_truth()``;
* a **post-processor** — turns raw outputs (decoded from the record) into what the metric
  needs, and the **metric** name.

Harnesses know their framework and their data; they never import LoadGen or statistics.
"""

import dataclasses


class InMemoryQSL:
    """LoadGen's QSL side for a dataset held wholly in memory: loading a sample only marks it
    as loaded (``loaded``); ``get_item_count`` is the dataset's ``len``."""

    def get_item_count(self):
        return len(self)

    @property
    def loaded(self):
        # created on first use, so subclasses need not call a base __init__
        if "_loaded" not in self.__dict__:
            self._loaded = set()
        return self._loaded

    def load_query_samples(self, indices):
        self.loaded.update(indices)

    def unload_query_samples(self, indices):
        self.loaded.difference_update(indices)


@dataclasses.dataclass
class Harness:
    name: str
    task: str
    runtime: str
    backend: object
    dataset: object
    metric: str = None
    postprocess: object = None
    metric_factory: object = None  # (outputs of one pass, ordered by sample index) -> metric
    model: str = None
    seed: int = None
    threads: dict = None
    params: dict = dataclasses.field(default_factory=dict)
    source: dict = None  # set by get_harness: the name and arguments it was built from
    output_dtype: str = None   # NumPy dtype of one sample's output (for importing raw logs)
    output_shape: tuple = None

    def __post_init__(self):
        if self.model is None:
            self.model = self.name

    def make_metric(self, outputs):
        """The task metric for one pass's outputs (rows in sample-index order)."""
        if self.metric_factory is None:
            return None
        return self.metric_factory(outputs)

    def describe(self):
        return {"name": self.name, "task": self.task, "runtime": self.runtime,
                "model": self.model, "metric": self.metric, "seed": self.seed,
                "threads": self.threads, "params": dict(self.params), "source": self.source,
                "output": {"dtype": self.output_dtype,
                           "shape": None if self.output_shape is None else list(self.output_shape)},
                "dataset": type(self.dataset).__name__,
                "dataset_size": int(self.dataset.get_item_count())}
