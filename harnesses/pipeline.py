"""A real two-stage pipeline on the digits data: an encoder variant, then a classifier variant.

Stage ``encoder`` turns an 8×8 image into a feature vector; stage ``classifier`` turns the
features into 10 logits. Each stage is a family of real variants that trade accuracy for speed:

* encoders — the trunks of the digits family's trained networks, their weights reused from
  the cache as they are (``digits-mlp``, ``digits-torch``, ``digits-cnn-wide``), each cut
  before its last linear layer:

  - ``enc-mlp``  — the MLP's hidden layer (128 features), the fastest;
  - ``enc-cnn``  — the CNN's two convolutions and hidden layer (64 features);
  - ``enc-wide`` — the wide CNN's three convolutions and hidden layer (128 features), the slowest;

* classifiers — trained per encoder on its frozen features with the digits recipe
  (``digits.train_net``: seed 0, Adam, 40 epochs, batches of 32, one thread, deterministic)
  and cached in ``~/.cache/tailq_loadgen`` under a key of the encoder, the head, the recipe and
  the PyTorch version; nothing is downloaded:

  - ``clf-linear`` — one linear layer;
  - ``clf-mlp``    — a hidden layer of 256 ReLU units.

A classifier's weights depend on the encoder before it, so the pipeline's accuracy is measured
per (encoder, classifier) combination (:func:`combination_accuracy`), never taken as a product.

For ``tailq profile`` every stage variant is also a harness (``pipe-enc-*``, ``pipe-clf-*``,
registered in ``_registry.py``) whose ``params["pipeline_stage"]`` names its stage, so its
profile records the stage. An encoder's own metric is the pipeline's accuracy with the
reference classifier (``clf-mlp`` trained on it); a classifier's harness serves the reference
encoder's (``enc-wide``) features of the test images, and its metric is plain accuracy.
"""

import hashlib
import json
import os

import numpy as np

from tailq_loadgen.metrics import Accuracy

from ._base import Harness
from ._cache import cache_dir, cached_arrays
from .digits import TRAIN, DigitsDataset, load_split, train_net

STAGES = ("encoder", "classifier")
# encoder → (the digits network it is cut from, layers kept, features out)
ENCODERS = {"enc-mlp": ("digits-mlp", 3, 128), "enc-cnn": ("digits-torch", 8, 64),
            "enc-wide": ("digits-cnn-wide", 11, 128)}
CLASSIFIERS = {"clf-linear": {"kind": "linear", "version": 1},
               "clf-mlp": {"kind": "mlp", "hidden": 256, "version": 1}}
REFERENCE = {"encoder": "enc-wide", "classifier": "clf-mlp"}  # what a lone stage is scored with


def _network_weights(network, cache):
    from . import digits, digits_family

    if network == "digits-torch":
        return digits.trained_weights(cache)
    return digits_family.trained_weights(network, cache)


def _full_network(network):
    from . import digits, digits_family

    if network == "digits-torch":
        return digits._torch_net()
    return digits_family.build_net(digits_family.ARCHITECTURES[network])


def encoder_module(encoder, cache=None):
    """A function that builds the encoder's PyTorch module (trained weights, eval mode)."""
    import torch

    network, keep, _ = ENCODERS[encoder]
    weights = _network_weights(network, cache)

    def make():
        net = _full_network(network)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        trunk = net[:keep]
        for p in trunk.parameters():
            p.requires_grad_(False)
        return trunk.eval()

    return make


def _head(classifier, features):
    import torch.nn as nn

    arch = CLASSIFIERS[classifier]
    if arch["kind"] == "linear":
        return nn.Sequential(nn.Linear(features, 10))
    return nn.Sequential(nn.Linear(features, arch["hidden"]), nn.ReLU(), nn.Linear(arch["hidden"], 10))


def _head_key(encoder, classifier):
    import torch

    blob = json.dumps({"train": TRAIN, "encoder": ENCODERS[encoder], "head": CLASSIFIERS[classifier],
                       "torch": torch.__version__.split("+")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def head_weights(encoder, classifier, cache=None, log=print):
    """The classifier's weights trained on ``encoder``'s frozen features (cached)."""
    path = os.path.join(cache_dir(cache), f"pipe-{encoder}-{classifier}-{_head_key(encoder, classifier)}.npz")

    def train_head():
        import torch.nn as nn

        make_trunk = encoder_module(encoder, cache)
        features = ENCODERS[encoder][2]
        # the trunk is frozen (no gradients: Adam skips it), so only the head learns; the
        # recipe, seeds and batch order are the digits networks' own
        weights, acc = train_net(lambda: nn.Sequential(make_trunk(), _head(classifier, features)))
        return {k[2:]: v for k, v in weights.items() if k.startswith("1.")}, acc

    return cached_arrays(path, f"{classifier} on {encoder} features", train_head, log,
                         accuracy_label="pipeline test accuracy")


def classifier_module(encoder, classifier, cache=None):
    import torch

    weights = head_weights(encoder, classifier, cache)

    def make():
        net = _head(classifier, ENCODERS[encoder][2])
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        return net.eval()

    return make


def stage_backend(stage, variant, *, encoder=None, intra_threads=1, inter_threads=1, cache_dir=None):
    """The TorchBackend of one stage variant; a classifier needs the ``encoder`` before it."""
    from .backends import TorchBackend

    if stage == "encoder":
        return TorchBackend(encoder_module(variant, cache_dir), intra_threads, inter_threads)
    if stage == "classifier":
        if encoder not in ENCODERS:
            raise ValueError(f"classifier {variant}: name the encoder before it")
        return TorchBackend(classifier_module(encoder, variant, cache_dir), intra_threads,
                            inter_threads)
    raise ValueError(f"stage {stage!r}: unknown; the pipeline has {', '.join(STAGES)}")


def _run(make_module, x):
    import torch

    with torch.inference_mode():
        return make_module()(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def combination_accuracy(cache=None):
    """{(encoder, classifier): end-to-end accuracy on the 719 test images}, measured."""
    _, _, x, y = load_split()
    out = {}
    for e in ENCODERS:
        feats = _run(encoder_module(e, cache), x)
        for c in CLASSIFIERS:
            logits = _run(classifier_module(e, c, cache), feats)
            out[(e, c)] = float((logits.argmax(1) == y).mean())
    return out


def _accuracy(dataset, head=None):
    def metric(outputs):
        out = np.asarray(outputs, dtype=np.float32).reshape(len(dataset.labels), -1)
        logits = out if head is None else _run(head, out)
        return Accuracy(logits.argmax(1), dataset.labels)
    return metric


class FeatureDataset(DigitsDataset):
    """The test images as the reference encoder sees them: its features (a classifier's input)."""

    def __init__(self, cache=None):
        super().__init__()
        self.images = _run(encoder_module(REFERENCE["encoder"], cache), self.images)

    def get_sizes(self):
        return np.full(len(self.labels), float(self.images.shape[1]))  # features


def pipeline_harness(encoder, classifier, cache_dir=None):
    """The pipeline's data side: the digits test images, scored on the classifier's logits.

    Its backend is left None: the pipeline SUT (``capture/_pipeline.py``) runs the stages'
    backends (:func:`stage_backend`) in series."""
    dataset = DigitsDataset()
    return Harness(name=f"digits-pipe:{encoder}/{classifier}", task="image classification, "
                   "encoder → classifier", runtime="torch", backend=None, dataset=dataset,
                   metric="accuracy", model="digits-pipe",
                   postprocess=lambda outputs: np.asarray(outputs).argmax(-1),
                   metric_factory=_accuracy(dataset), seed=TRAIN["seed"],
                   params={"train": TRAIN, "pipeline": "digits-pipe", "encoder": ENCODERS[encoder],
                           "classifier": CLASSIFIERS[classifier]}, output_dtype="<f4",
                   output_shape=(10,))


def make_stage(variant, intra_threads=1, inter_threads=1, cache_dir=None):
    """One stage variant as a harness of its own (for ``tailq profile``)."""
    if variant in ENCODERS:
        stage, dataset = "encoder", DigitsDataset()
        backend = stage_backend(stage, variant, intra_threads=intra_threads,
                                inter_threads=inter_threads, cache_dir=cache_dir)
        metric = _accuracy(dataset, classifier_module(variant, REFERENCE["classifier"], cache_dir))
        shape = (ENCODERS[variant][2],)
    elif variant in CLASSIFIERS:
        stage, dataset = "classifier", FeatureDataset(cache_dir)
        backend = stage_backend(stage, variant, encoder=REFERENCE["encoder"],
                                intra_threads=intra_threads, inter_threads=inter_threads,
                                cache_dir=cache_dir)
        metric, shape = _accuracy(dataset), (10,)
    else:
        raise ValueError(f"pipeline variant {variant!r}: unknown")
    return Harness(name=f"pipe-{variant}", task=f"digits pipeline, {stage} stage", runtime="torch",
                   backend=backend, dataset=dataset, metric="accuracy", model=f"pipe-{variant}",
                   metric_factory=metric, seed=TRAIN["seed"], threads=backend.threads(),
                   params={"train": TRAIN, "pipeline_stage": stage, "pipeline": "digits-pipe",
                           "variant": variant},
                   output_dtype="<f4", output_shape=shape)


def _maker(variant):
    def make(intra_threads=1, inter_threads=1, cache_dir=None):
        return make_stage(variant, intra_threads, inter_threads, cache_dir)
    make.__name__ = f"make_{variant.replace('-', '_')}"
    return make


make_enc_mlp, make_enc_cnn, make_enc_wide = (_maker(v) for v in ENCODERS)
make_clf_linear, make_clf_mlp = (_maker(v) for v in CLASSIFIERS)


def build_stages(choices, cache_dir=None):
    """``[(stage, variant, threads), …]`` in pipeline order → ``(harness, [(stage, variant,
    backend), …])``: what the pipeline SUT deploys."""
    by_stage = {s: (v, t) for s, v, t in choices}
    if set(by_stage) != set(STAGES) or len(choices) != len(STAGES):
        raise ValueError(f"the digits pipeline has stages {', '.join(STAGES)}, one variant each")
    (enc, t_e), (clf, t_c) = by_stage["encoder"], by_stage["classifier"]
    if enc not in ENCODERS or clf not in CLASSIFIERS:
        raise ValueError(f"variants {enc!r}, {clf!r}: choose encoders {', '.join(ENCODERS)} and "
                         f"classifiers {', '.join(CLASSIFIERS)}")
    stages = [("encoder", enc, stage_backend("encoder", enc, intra_threads=t_e, cache_dir=cache_dir)),
              ("classifier", clf, stage_backend("classifier", clf, encoder=enc, intra_threads=t_c,
                                                cache_dir=cache_dir))]
    return pipeline_harness(enc, clf, cache_dir), stages
