"""The ``sleep`` harness: a backend that sleeps a seeded, documented latency per sample.

It serves tests and overhead benchmarks, where a known latency distribution matters more
than a real model. Per sample ``i`` with size ``s_i`` (uniform integers 1..16, seeded):

    latency = (base_ms + per_unit_ms · s_i) · exp(sigma · Z),   Z ~ N(0, 1) per call

slept with ``time.sleep`` (which overshoots by the kernel's timer slack, ~50–100 µs on
Linux). Each sample has a label (``i % 10``); the "model" answers it correctly for a seeded
``accuracy`` fraction of the samples, so the quality with no time limit is known exactly.
``error_every=k`` makes every k-th sample index raise, ``hang_index=i`` makes sample ``i``
sleep ``hang_s`` seconds: both exist to test the capture's error and watchdog paths.
"""

import time

import numpy as np

from tailq_loadgen.metrics import Accuracy

from ._base import Harness, InMemoryQSL


class SleepDataset(InMemoryQSL):
    def __init__(self, samples=256, seed=0, accuracy=0.9):
        rng = np.random.default_rng(seed)
        self.sizes = rng.integers(1, 17, size=samples).astype(np.float64)
        self.labels = np.arange(samples, dtype=np.int64) % 10
        correct = rng.random(samples) < accuracy
        self.answers = np.where(correct, self.labels, (self.labels + 1) % 10)

    def __len__(self):
        return len(self.sizes)

    def get_samples(self, indices):
        return np.asarray(indices, dtype=np.int64)

    def get_sizes(self):
        return self.sizes

    def ground_truth(self):
        return self.labels


class SleepBackend:
    def __init__(self, dataset, *, base_ms=0.5, per_unit_ms=0.05, sigma=0.2, seed=0,
                 error_every=0, hang_index=-1, hang_s=3600.0):
        self.dataset = dataset
        self.base_s = base_ms / 1e3
        self.per_unit_s = per_unit_ms / 1e3
        self.sigma = sigma
        self.seed = seed
        self.error_every = error_every
        self.hang_index = hang_index
        self.hang_s = hang_s
        self.rng = None

    def name(self):
        return "sleep"

    def version(self):
        return "1"

    def load(self):
        self.rng = np.random.default_rng(self.seed + 1)
        return self

    def predict(self, indices):
        sizes = self.dataset.sizes[indices]
        delays = (self.base_s + self.per_unit_s * sizes) * np.exp(
            self.sigma * self.rng.standard_normal(len(indices)))
        for i, delay in zip(indices, delays):
            if self.error_every and i % self.error_every == 0:
                raise RuntimeError(f"simulated failure on sample {i}")
            time.sleep(self.hang_s if i == self.hang_index else delay)
        return self.dataset.answers[indices]


def make_harness(samples=256, seed=0, accuracy=0.9, base_ms=0.5, per_unit_ms=0.05, sigma=0.2,
                 error_every=0, hang_index=-1, hang_s=3600.0):
    dataset = SleepDataset(samples, seed, accuracy)
    backend = SleepBackend(dataset, base_ms=base_ms, per_unit_ms=per_unit_ms, sigma=sigma,
                           seed=seed, error_every=error_every, hang_index=hang_index,
                           hang_s=hang_s)
    params = dict(samples=samples, accuracy=accuracy, base_ms=base_ms, per_unit_ms=per_unit_ms,
                  sigma=sigma, error_every=error_every, hang_index=hang_index)
    return Harness(name="sleep", task="simulated classification", runtime="python",
                   backend=backend, dataset=dataset, metric="accuracy",
                   postprocess=lambda outputs: np.asarray(outputs).reshape(-1), seed=seed,
                   metric_factory=lambda outputs: Accuracy(np.asarray(outputs).reshape(-1),
                                                           dataset.labels),
                   threads={"python_threads": 1}, params=params, output_dtype="<i8", output_shape=(),)
