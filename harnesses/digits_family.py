"""The digits family: models of one task that trade accuracy for speed.

Every variant classifies the same held-out split of scikit-learn's digits (``DigitsDataset``
of ``harnesses/digits.py``, 719 images) and is trained with the same deterministic recipe
as the CNN of ``digits-torch`` (``digits.TRAIN``: seed 0, Adam, 40 epochs, batches of 32,
one thread, deterministic algorithms), then cached in ``~/.cache/tailq_loadgen`` under a key
of its architecture, the recipe and the PyTorch version:

* ``digits-linear``   — softmax regression on the 64 pixels (a single linear layer);
* ``digits-mlp``      — one hidden layer of 128 ReLU units;
* ``digits-torch``    — the existing CNN (``harnesses/digits.py``), unchanged: the family
  lists it as it is, with its own cached weights;
* ``digits-cnn-wide`` — three convolutions (32, 64, 128 channels), two poolings, a hidden
  layer of 128.

All are served by PyTorch (``TorchBackend``: explicit intra/inter-op threads, inference
mode), so speed differences come from the models, not the runtimes. Accuracies and service
times are measured, never typed in: ``tailq profile --family digits`` and
``benchmarks/variants.py``; ``docs/variants.md`` reports them.
"""

import hashlib
import json
import os

import numpy as np

from ._base import Harness
from ._cache import cache_dir, cached_arrays
from .digits import TRAIN, DigitsDataset, accuracy_metric, train_net

# The model name LoadGen matches user.conf keys on, where it is not the variant's name
# (kept within the harness listing's column).
MODEL_NAMES = {"digits-cnn-wide": "digits-wide"}
# Architecture per variant; "version" changes the cache key when a definition changes.
ARCHITECTURES = {
    "digits-linear": {"kind": "linear", "version": 1},
    "digits-mlp": {"kind": "mlp", "hidden": 128, "version": 1},
    "digits-cnn-wide": {"kind": "cnn-wide", "channels": [32, 64, 128], "hidden": 128, "version": 1},
}


def build_net(arch):
    """The PyTorch module of an architecture spec (untrained)."""
    import torch.nn as nn

    kind = arch["kind"]
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    if kind == "mlp":
        h = arch["hidden"]
        return nn.Sequential(nn.Flatten(), nn.Linear(64, h), nn.ReLU(), nn.Linear(h, 10))
    if kind == "cnn-wide":
        c1, c2, c3 = arch["channels"]
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 8×8 → 4×4
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),                     # 4×4 → 2×2
            nn.Linear(c3 * 2 * 2, arch["hidden"]), nn.ReLU(),
            nn.Linear(arch["hidden"], 10))
    raise ValueError(f"architecture kind {kind!r}: unknown")


def train(make_net, recipe=TRAIN):
    """Train ``make_net()`` on the digits split with ``recipe``; (weights, test accuracy) —
    ``digits.train_net``, the steps the CNN is trained by (a test checks that it reproduces the
    CNN's cached weights bit for bit)."""
    return train_net(make_net, recipe)


def _cache_key(arch):
    import torch

    blob = json.dumps({"train": TRAIN, "arch": arch, "torch": torch.__version__.split("+")[0]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def trained_weights(variant, cache=None, log=print):
    """A variant's weights (NumPy arrays by PyTorch name), trained on first use and cached."""
    arch = ARCHITECTURES[variant]
    path = os.path.join(cache_dir(cache), f"{variant}-{_cache_key(arch)}.npz")
    return cached_arrays(path, variant, lambda: train(lambda: build_net(arch)), log)


def _module(arch, weights):
    import torch

    def make():
        net = build_net(arch)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        return net

    return make


def make_variant(variant, intra_threads=1, inter_threads=1, device="cpu", cache_dir=None):
    from .backends import TorchBackend

    arch = ARCHITECTURES[variant]
    backend = TorchBackend(_module(arch, trained_weights(variant, cache_dir)), intra_threads,
                           inter_threads, device)
    dataset = DigitsDataset()
    return Harness(name=variant, task="image classification (8×8 digits)", runtime="torch",
                   backend=backend, dataset=dataset, metric="accuracy",
                   model=MODEL_NAMES.get(variant, variant),
                   postprocess=lambda outputs: np.asarray(outputs).argmax(-1),
                   metric_factory=accuracy_metric(dataset), seed=TRAIN["seed"],
                   threads=backend.threads(), params={"train": TRAIN, "arch": arch},
                   output_dtype="<f4", output_shape=(10,))


def make_linear(intra_threads=1, inter_threads=1, device="cpu", cache_dir=None):
    return make_variant("digits-linear", intra_threads, inter_threads, device, cache_dir)


def make_mlp(intra_threads=1, inter_threads=1, device="cpu", cache_dir=None):
    return make_variant("digits-mlp", intra_threads, inter_threads, device, cache_dir)


def make_cnn_wide(intra_threads=1, inter_threads=1, device="cpu", cache_dir=None):
    return make_variant("digits-cnn-wide", intra_threads, inter_threads, device, cache_dir)
