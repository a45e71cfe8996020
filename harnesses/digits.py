"""Image classification on scikit-learn's bundled handwritten digits (1,797 real 8×8 images).

One small CNN, trained deterministically in PyTorch on a fixed split at first use and cached
(see ``harnesses/_cache.py``); the other runtimes serve the *same weights*:

* ``digits-torch``  — PyTorch, eager, ``inference_mode``;
* ``digits-keras``  — TensorFlow/Keras, same architecture, weights carried over from PyTorch
  (NCHW→NHWC, kernels transposed, a Permute before Flatten keeps PyTorch's flatten order),
  served through a compiled ``tf.function`` (never ``model.predict`` per sample);
* ``digits-onnx``   — ONNX Runtime, the PyTorch model exported with ``torch.onnx.export``.

The dataset served to LoadGen is the held-out test split (719 images); quality is top-1
accuracy (and macro F1 is available). Every image has 64 pixels, so the per-sample size is
constant: this harness shows run-level and per-sample noise, not size effects.
"""

import hashlib
import json
import os

import numpy as np

from tailq_loadgen.metrics import Accuracy

from ._base import Harness, InMemoryQSL
from ._cache import atomic_write, cache_dir, cached_arrays

TRAIN = dict(seed=0, test_fraction=0.4, epochs=40, batch=32, lr=2e-3, version=1)


def load_split(test_fraction=TRAIN["test_fraction"], seed=TRAIN["seed"]):
    """(x_train, y_train, x_test, y_test): images as float32 NCHW scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


class DigitsDataset(InMemoryQSL):
    """LoadGen's QSL side: the test split, all in memory."""

    def __init__(self):
        _, _, self.images, self.labels = load_split()

    def __len__(self):
        return len(self.labels)

    def get_samples(self, indices):
        return self.images[np.asarray(indices)]

    def get_sizes(self):
        return np.full(len(self.labels), 64.0)  # pixels

    def ground_truth(self):
        return self.labels


def _torch_net():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
        nn.Linear(64, 10))


def _cache_key():
    import torch

    blob = json.dumps({**TRAIN, "torch": torch.__version__.split("+")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def train_net(make_net, recipe=TRAIN):
    """Train ``make_net()`` on the digits split with ``recipe``; (weights as NumPy arrays with
    PyTorch names, test accuracy). Every digits network (the CNN and the family's variants) is
    trained by these same steps, so a variant's weights are reproducible as the CNN's are."""
    import torch

    x_tr, y_tr, x_te, y_te = load_split()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a fixed reduction order: the same weights on every machine
    torch.manual_seed(recipe["seed"])
    try:
        torch.use_deterministic_algorithms(True)
        net = make_net()
        opt = torch.optim.Adam(net.parameters(), lr=recipe["lr"])
        xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
        gen = torch.Generator().manual_seed(recipe["seed"])
        for _ in range(recipe["epochs"]):
            perm = torch.randperm(len(yt), generator=gen)
            for s in range(0, len(yt), recipe["batch"]):
                b = perm[s:s + recipe["batch"]]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xt[b]), yt[b]).backward()
                opt.step()
        net.eval()
        with torch.inference_mode():
            acc = float((net(torch.from_numpy(x_te)).argmax(1).numpy() == y_te).mean())
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}, acc


def trained_weights(cache=None, log=print):
    """The CNN's weights as a dict of NumPy arrays (PyTorch names), training them if needed."""
    path = os.path.join(cache_dir(cache), f"digits-cnn-{_cache_key()}.npz")
    return cached_arrays(path, "the digits CNN", lambda: train_net(_torch_net), log)


def accuracy_metric(dataset):
    return lambda outputs: Accuracy(np.asarray(outputs).reshape(len(dataset.labels), -1).argmax(1),
                                    dataset.labels)


def make_harness(runtime, backend, dataset, threads):
    return Harness(name=f"digits-{runtime}", task="image classification (8×8 digits)",
                   runtime=runtime, backend=backend, dataset=dataset, metric="accuracy",
                   model="digits-cnn", postprocess=lambda outputs: np.asarray(outputs).argmax(-1),
                   metric_factory=accuracy_metric(dataset), seed=TRAIN["seed"], threads=threads,
                   params={"train": TRAIN}, output_dtype="<f4", output_shape=(10,))


def _torch_module(weights):
    import torch

    def make():
        net = _torch_net()
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        return net

    return make


def make_torch(intra_threads=1, inter_threads=1, device="cpu", cache_dir=None):
    from .backends import TorchBackend

    weights = trained_weights(cache_dir)
    backend = TorchBackend(_torch_module(weights), intra_threads, inter_threads, device)
    return make_harness("torch", backend, DigitsDataset(), backend.threads())


def _keras_model(weights):
    def make():
        import keras

        model = keras.Sequential([
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Permute((3, 1, 2)),  # (H, W, C) → (C, H, W): PyTorch's flatten order
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ])
        w = weights
        model.set_weights([
            w["0.weight"].transpose(2, 3, 1, 0), w["0.bias"],
            w["2.weight"].transpose(2, 3, 1, 0), w["2.bias"],
            w["6.weight"].T, w["6.bias"], w["8.weight"].T, w["8.bias"]])
        return model

    return make


def make_keras(intra_threads=1, inter_threads=1, cache_dir=None):
    from .backends import KerasBackend

    weights = trained_weights(cache_dir)
    backend = KerasBackend(_keras_model(weights), ((8, 8, 1), "float32"), intra_threads,
                           inter_threads, to_model_input=lambda x: np.transpose(x, (0, 2, 3, 1)))
    return make_harness("keras", backend, DigitsDataset(), backend.threads())


def onnx_model_path(cache=None):
    """Export the PyTorch model to ONNX once (cached) and return the file's path."""
    import torch

    path = os.path.join(cache_dir(cache), f"digits-cnn-{_cache_key()}.onnx")
    if not os.path.exists(path):
        net = _torch_module(trained_weights(cache))().eval()
        atomic_write(path, lambda tmp: torch.onnx.export(
            net, (torch.zeros(1, 1, 8, 8),), tmp, input_names=["image"], output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False,
            opset_version=17))
    return path


def make_onnx(intra_threads=1, inter_threads=1, cache_dir=None):
    from .backends import OnnxBackend

    path = onnx_model_path(cache_dir)
    backend = OnnxBackend(lambda: path, intra_threads, inter_threads)
    return make_harness("onnx", backend, DigitsDataset(), backend.threads())
