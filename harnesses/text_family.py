"""The text family: the MiniLM docstring-retrieval task (``docstrings.py``) at lower cost.

Every variant serves the same ``DocstringDataset`` (bodies of standard-library docstrings,
tokenised to at most 256 tokens) and is scored by recall@5 against an index of the summary
lines embedded by *the same variant*. Two honest ways to spend less per query, both on the
shipped ``all-MiniLM-L6-v2`` weights (nothing trained, nothing downloaded):

* **fewer transformer layers** — the encoder cut after its first ``layers`` of 6 blocks
  (``docstrings-l1``). Fast, but measured recall@5 collapses below 6 layers (0.07–0.13 for
  1–5 layers against 0.68 for 6 on Python 3.11's corpus): this sentence-embedding model
  learnt its similarity at its last layer. ``docs/variants.md`` has the figures;
* **fewer input tokens** — the model reads only the first ``max_tokens`` tokens of each text
  (the [CLS] … [SEP] framing kept: a cut sequence ends in [SEP] as the tokenizer's own
  truncation would): ``docstrings-t16``, ``-t32``, ``-t64``. Cost grows with the tokens read,
  recall@5 falls gently as the tail of long bodies is dropped.

The full model is the existing ``docstrings-torch`` harness, unchanged; the family lists it.
"""

import numpy as np

from . import docstrings
from .backends import TorchBackend

# The registered variants: (layers kept, tokens read).
VARIANTS = {
    "docstrings-l1": (1, docstrings.MAX_TOKENS),
    "docstrings-t16": (6, 16),
    "docstrings-t32": (6, 32),
    "docstrings-t64": (6, 64),
}


def _truncated_model(layers):
    def make():
        model = docstrings._automodel().eval()
        if layers < model.config.num_hidden_layers:
            model.encoder.layer = model.encoder.layer[:layers]
            model.config.num_hidden_layers = layers
        return model

    return make


def truncate_tokens(batch, max_tokens, sep_id):
    """The batch as a model reading at most ``max_tokens`` tokens sees it: longer rows are cut
    and end in [SEP], like the tokenizer's own truncation; shorter rows are untouched."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if ids.shape[1] <= max_tokens:
        return batch
    lengths = mask.sum(axis=1)
    ids = ids[:, :max_tokens].copy()
    mask = np.ascontiguousarray(mask[:, :max_tokens])
    ids[lengths > max_tokens, max_tokens - 1] = sep_id
    return {"input_ids": ids, "attention_mask": mask}


class TruncatedMiniLMBackend(docstrings.MiniLMTorchBackend):
    """MiniLM with ``layers`` of its 6 blocks, reading at most ``max_tokens`` tokens."""

    def __init__(self, layers=6, max_tokens=docstrings.MAX_TOKENS, intra_threads=1,
                 inter_threads=1):
        if not 1 <= layers <= 6:
            raise ValueError(f"layers {layers!r}: MiniLM-L6 has 1 to 6 blocks")
        if not 2 <= max_tokens <= docstrings.MAX_TOKENS:
            raise ValueError(f"max_tokens {max_tokens!r}: must lie in 2..{docstrings.MAX_TOKENS}")
        TorchBackend.__init__(self, _truncated_model(layers), intra_threads, inter_threads)
        self.layers, self.max_tokens = layers, max_tokens
        self.sep_id = docstrings._tokenizer().sep_token_id

    def predict(self, batch):
        return super().predict(truncate_tokens(batch, self.max_tokens, self.sep_id))


def make_truncated(layers=6, max_tokens=docstrings.MAX_TOKENS, samples=None, intra_threads=1,
                   inter_threads=1, name=None):
    """MiniLM cut to ``layers`` blocks and ``max_tokens`` tokens; the registered variants fix
    these two."""
    from tailq_loadgen._errors import UserError

    try:
        backend = TruncatedMiniLMBackend(layers, max_tokens, intra_threads, inter_threads)
    except ValueError as exc:
        raise UserError(f"--harness-arg: {exc}") from None
    name = name or f"docstrings-l{layers}-t{max_tokens}"
    if max_tokens == docstrings.MAX_TOKENS:
        model = "minilm-l6-v2" if layers == 6 else f"minilm-l{layers}"
    else:
        model = f"minilm-t{max_tokens}" if layers == 6 else f"minilm-l{layers}-t{max_tokens}"
    return docstrings._harness("torch", backend, samples, name=name, model=model,
                               params={"layers": layers, "tokens_read": max_tokens})


def _variant(name, samples, intra_threads, inter_threads):
    layers, tokens = VARIANTS[name]
    return make_truncated(layers, tokens, samples, intra_threads, inter_threads, name=name)


def make_l1(samples=None, intra_threads=1, inter_threads=1):
    return _variant("docstrings-l1", samples, intra_threads, inter_threads)


def make_t16(samples=None, intra_threads=1, inter_threads=1):
    return _variant("docstrings-t16", samples, intra_threads, inter_threads)


def make_t32(samples=None, intra_threads=1, inter_threads=1):
    return _variant("docstrings-t32", samples, intra_threads, inter_threads)


def make_t64(samples=None, intra_threads=1, inter_threads=1):
    return _variant("docstrings-t64", samples, intra_threads, inter_threads)
