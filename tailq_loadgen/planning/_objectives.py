"""The objectives a plan can maximise, each named and carrying its constants.

* ``ipa-normalised`` / ``ipa-pipeline`` — IPA (Ghafouri et al., JSys 2024; released code and
  configs): α·Acc − β·Σ cores − γ·Σ batch. ``normalised``: per stage the variants' accuracy
  ranks mapped to 0…1 and summed over stages (the "normalised accuracy" of the paper's 35%
  claim; configs with ``normalize_accuracy: true``, ``accuracy_method: sum``). ``pipeline``:
  the raw accuracies multiplied across stages (``accuracy_method: multiply``).
  Constants per task type from the released configs: video α = 2, β = 1; audio and NLP
  pipelines α = 10, β = 0.5; γ = 1e-6 everywhere (batch cap 8 for video, 1 for the others).
* ``infadapter`` — InfAdapter (Salmani et al., EuroMLSys 2023; released code): served-weighted
  accuracy − α·cores/B − β·reload cost, α = 0.05, β = 0.001 (the experiment starter's values).
* ``tq`` — ours: predicted tail quality at the SLO (the share of queries both correct and on
  time, queueing and batching wait included) − cost_weight·cores/B (B the core budget; per
  core when none is given) − reload_weight·reload cost (variant sets only).
"""

import dataclasses

# Released IPA configs (data/configs/final/*.yaml): alpha, beta, gamma and batching_cap.
IPA_TASKS = {
    "video": {"alpha": 2.0, "beta": 1.0, "gamma": 1e-6, "batch_cap": 8},
    "audio-qa": {"alpha": 10.0, "beta": 0.5, "gamma": 1e-6, "batch_cap": 1},
    "audio-sent": {"alpha": 10.0, "beta": 0.5, "gamma": 1e-6, "batch_cap": 1},
    "sum-qa": {"alpha": 10.0, "beta": 0.5, "gamma": 1e-6, "batch_cap": 1},
    "nlp": {"alpha": 10.0, "beta": 0.5, "gamma": 1e-6, "batch_cap": 1},
}
IPA_ACCURACY = ("normalised", "pipeline")


def _check_weight(obj, name):
    v = getattr(obj, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
        from ._errors import PlanningError
        raise PlanningError(f"objective {obj.name}: {name} must be a number ≥ 0, got {v!r}")
    object.__setattr__(obj, name, float(v))


@dataclasses.dataclass(frozen=True)
class IPAObjective:
    accuracy: str = "normalised"
    alpha: float = 10.0
    beta: float = 0.5
    gamma: float = 1e-6

    def __post_init__(self):
        if self.accuracy not in IPA_ACCURACY:
            from ._errors import PlanningError
            raise PlanningError(f"IPA accuracy {self.accuracy!r}: choose normalised or pipeline")
        for name in ("alpha", "beta", "gamma"):
            _check_weight(self, name)

    @classmethod
    def for_task(cls, task, accuracy="normalised"):
        if task not in IPA_TASKS:
            from ._errors import PlanningError
            raise PlanningError(f"IPA task type {task!r}: choose one of {', '.join(IPA_TASKS)}")
        c = IPA_TASKS[task]
        return cls(accuracy, c["alpha"], c["beta"], c["gamma"])

    @property
    def name(self):
        return f"ipa-{self.accuracy}"

    def constants(self):
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma, "accuracy": self.accuracy}


@dataclasses.dataclass(frozen=True)
class InfAdapterObjective:
    alpha: float = 0.05
    beta: float = 0.001
    name = "infadapter"

    def __post_init__(self):
        for name in ("alpha", "beta"):
            _check_weight(self, name)

    def constants(self):
        return {"alpha": self.alpha, "beta": self.beta}


@dataclasses.dataclass(frozen=True)
class TailQualityObjective:
    cost_weight: float = 0.05
    reload_weight: float = 0.001
    name = "tq"

    def __post_init__(self):
        for name in ("cost_weight", "reload_weight"):
            _check_weight(self, name)

    def constants(self):
        return {"cost_weight": self.cost_weight, "reload_weight": self.reload_weight}


def rank_normalised(accuracies, names):
    """IPA's normalised accuracy of each variant of a stage: its rank by accuracy (ties by
    name) divided by K − 1, so the least accurate is 0 and the most accurate 1 (1 when K = 1)."""
    k = len(accuracies)
    if k == 1:
        return [1.0]
    order = sorted(range(k), key=lambda i: (accuracies[i], names[i]))
    out = [0.0] * k
    for rank, i in enumerate(order):
        out[i] = rank / (k - 1)
    return out
