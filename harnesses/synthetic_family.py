"""Synthetic variants: a known service-time law and Bernoulli correctness, for exact tests.

Each variant answers a simulated classification task (like ``harnesses/sleep.py``), but its
two properties are *declared* so that the routing simulator can be held against a real pool:

* **service time** — every sample in a ``predict`` call draws one value from the variant's
  law (``exponential``, ``lognormal`` or ``deterministic``, given by its mean in milliseconds)
  and the call sleeps the sum (so a batch of b costs b draws: no batching gain). Draws come
  from a seeded ``numpy.random.Generator`` created at ``load()``.
* **correctness** — the dataset has ``samples`` items, of which exactly
  ``round(accuracy · samples)`` (a seeded choice) are answered correctly. LoadGen draws
  samples uniformly, so each query is correct with probability ``accuracy`` exactly.

``time.sleep`` overshoots what it is asked for: by the kernel's timer slack (50 µs by
default on Linux) plus scheduling delay, which grows with the machine's load. The backend
sets its thread's timer slack to 1 ns (``prctl(PR_SET_TIMERSLACK)``, Linux only; the harness
records whether it could), which leaves scheduling delay only. What was *slept* is therefore
the declared law plus a small positive shift; the profile of a captured run measures the real
law, and ``docs/variants.md`` reports both.
"""

import ctypes
import dataclasses
import math
import threading
import time

import numpy as np

from tailq_loadgen._errors import UserError
from tailq_loadgen.metrics import Accuracy

from ._base import Harness, InMemoryQSL

LAWS = ("exponential", "lognormal", "deterministic")
_PR_SET_TIMERSLACK = 29


@dataclasses.dataclass(frozen=True)
class ServiceLaw:
    """A service-time law per sample: ``kind``, ``mean_ms`` and (lognormal) ``sigma`` of log."""

    kind: str
    mean_ms: float
    sigma: float = 0.0

    def __post_init__(self):
        if self.kind not in LAWS:
            raise ValueError(f"law {self.kind!r}: choose one of {', '.join(LAWS)}")
        if not (math.isfinite(self.mean_ms) and self.mean_ms > 0):
            raise ValueError(f"mean_ms {self.mean_ms!r}: must be a positive number of milliseconds")
        if self.kind == "lognormal" and not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma {self.sigma!r}: a lognormal law needs sigma > 0")

    @property
    def median_ms(self):
        if self.kind == "exponential":
            return self.mean_ms * math.log(2)
        if self.kind == "lognormal":
            return self.mean_ms * math.exp(-self.sigma ** 2 / 2)
        return self.mean_ms

    def draw_ms(self, rng, n):
        """``n`` independent draws in milliseconds."""
        if self.kind == "exponential":
            return rng.exponential(self.mean_ms, n)
        if self.kind == "lognormal":
            mu = math.log(self.mean_ms) - self.sigma ** 2 / 2  # so that the mean is mean_ms
            return rng.lognormal(mu, self.sigma, n)
        return np.full(n, float(self.mean_ms))

    def cdf(self, t_ms):
        """P(service ≤ t) for one sample, ``t`` in milliseconds (NumPy only: no SciPy here)."""
        t = np.asarray(t_ms, dtype=np.float64)
        if self.kind == "exponential":
            return np.where(t > 0, -np.expm1(-np.maximum(t, 0) / self.mean_ms), 0.0)
        if self.kind == "lognormal":
            mu = math.log(self.mean_ms) - self.sigma ** 2 / 2
            z = (np.log(np.maximum(t, 1e-300)) - mu) / (self.sigma * math.sqrt(2))
            erf = np.vectorize(math.erf, otypes=[np.float64])
            return np.where(t > 0, 0.5 * (1 + erf(z)), 0.0)
        return (t >= self.mean_ms).astype(np.float64)

    def as_dict(self):
        out = {"kind": self.kind, "mean_ms": self.mean_ms, "median_ms": self.median_ms}
        if self.kind == "lognormal":
            out["sigma"] = self.sigma
        return out


class SyntheticDataset(InMemoryQSL):
    """``samples`` items; exactly ``round(accuracy · samples)`` of them answered correctly."""

    def __init__(self, samples=1000, accuracy=0.8, seed=0):
        if not 0 <= accuracy <= 1:
            raise ValueError(f"accuracy {accuracy!r}: must lie in [0, 1]")
        rng = np.random.default_rng([seed, 0])
        self.labels = np.arange(samples, dtype=np.int64) % 10
        correct = np.zeros(samples, dtype=bool)
        correct[rng.permutation(samples)[:int(round(accuracy * samples))]] = True
        self.correct = correct
        self.answers = np.where(correct, self.labels, (self.labels + 1) % 10)

    def __len__(self):
        return len(self.labels)

    def get_samples(self, indices):
        return np.asarray(indices, dtype=np.int64)

    def get_sizes(self):
        return np.ones(len(self.labels))  # every sample costs one draw of the law

    def ground_truth(self):
        return self.labels


def _set_timer_slack_1ns():
    """Ask Linux for a 1 ns timer slack on the calling thread; False where not possible."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class SyntheticBackend:
    """Sleeps one draw of ``law`` per sample; answers from the dataset's fixed answers."""

    def __init__(self, dataset, law, seed=0):
        self.dataset, self.law, self.seed = dataset, law, seed
        self.rng = None
        self._lock = threading.Lock()  # one Generator, possibly shared by pool servers
        self._slack = threading.local()
        self.timer_slack_set = None

    def name(self):
        return "synthetic"

    def version(self):
        return "1"

    def threads(self):
        return {"python_threads": 1, "timer_slack_ns": 1 if self.timer_slack_set else None}

    def load(self):
        self.rng = np.random.default_rng([self.seed, 1])
        self.timer_slack_set = _set_timer_slack_1ns()
        return self

    def predict(self, indices):
        if not getattr(self._slack, "set", False):  # timer slack is per thread
            self._slack.set = _set_timer_slack_1ns()
        with self._lock:
            total_ms = float(self.law.draw_ms(self.rng, len(indices)).sum())
        time.sleep(total_ms / 1e3)
        return self.dataset.answers[np.asarray(indices)]


def make_harness(law="exponential", mean_ms=4.0, sigma=0.5, accuracy=0.8, samples=1000,
                 seed=0, name="synthetic", model=None):
    """A synthetic variant with any law; the registered variants fix these arguments."""
    try:
        law = ServiceLaw(law, float(mean_ms), float(sigma) if law == "lognormal" else 0.0)
        if not 0 <= float(accuracy) <= 1:
            raise ValueError(f"accuracy {accuracy!r}: must lie in [0, 1]")
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples {samples!r}: must be a whole number ≥ 1")
    except (TypeError, ValueError) as exc:
        raise UserError(f"--harness-arg for {name!r}: {exc}") from None
    dataset = SyntheticDataset(samples, accuracy, seed)
    backend = SyntheticBackend(dataset, law, seed)
    params = {"law": law.as_dict(), "accuracy": accuracy, "samples": samples,
              "exact_accuracy": float(dataset.correct.mean())}
    return Harness(name=name, task="simulated classification (known service law)",
                   runtime="python", backend=backend, dataset=dataset, metric="accuracy",
                   model=model or name, postprocess=lambda outputs: np.asarray(outputs).reshape(-1),
                   metric_factory=lambda outputs: Accuracy(np.asarray(outputs).reshape(-1),
                                                           dataset.labels),
                   seed=seed, threads=backend.threads(), params=params, output_dtype="<i8",
                   output_shape=())


# The registered variants (docs/variants.md): means in milliseconds, so that sleep's
# overshoot stays small against them. The exponential three are variants.md §A's instance,
# μ = (2, 1, 0.5) per 4 ms and a = (0.70, 0.80, 0.90).
VARIANTS = {
    "synth-exp-2ms": dict(law="exponential", mean_ms=2.0, accuracy=0.70, seed=11),
    "synth-exp-4ms": dict(law="exponential", mean_ms=4.0, accuracy=0.80, seed=12),
    "synth-exp-8ms": dict(law="exponential", mean_ms=8.0, accuracy=0.90, seed=13),
    "synth-det-2ms": dict(law="deterministic", mean_ms=2.0, accuracy=0.70, seed=14),
    "synth-logn-4ms": dict(law="lognormal", mean_ms=4.0, sigma=0.5, accuracy=0.80, seed=15,
                           model="synth-ln-4ms"),
}


def make_variant(variant, samples=1000, seed=None):
    spec = dict(VARIANTS[variant])
    if seed is not None:
        spec["seed"] = seed
    return make_harness(samples=samples, name=variant, **spec)


def make_exp_2ms(samples=1000, seed=None):
    return make_variant("synth-exp-2ms", samples, seed)


def make_exp_4ms(samples=1000, seed=None):
    return make_variant("synth-exp-4ms", samples, seed)


def make_exp_8ms(samples=1000, seed=None):
    return make_variant("synth-exp-8ms", samples, seed)


def make_det_2ms(samples=1000, seed=None):
    return make_variant("synth-det-2ms", samples, seed)


def make_logn_4ms(samples=1000, seed=None):
    return make_variant("synth-logn-4ms", samples, seed)
