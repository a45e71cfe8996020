"""A plan: an immutable record of what to deploy, what it promises, and how it was decided.

``Plan.as_dict()`` is JSON-able (the workflow writes it as ``plan.json``); its fields are
declared once in each record's dataclass. Format history (``PLAN_FORMAT``):
1 — first version.
"""

import dataclasses
import math

PLAN_FORMAT = 1


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class StageChoice:
    """Pipeline mode: one stage's variant, batch size and replicas."""

    stage: str
    variant: str
    threads: int              # cores per replica
    batch: int
    replicas: int
    cores: int                # threads × replicas
    accuracy: float           # the variant's accuracy with no time limit
    accuracy_term: float      # what the objective counts for it (rank-normalised or raw)
    p99_s: float              # profiled (or fitted) p99 of one batch's service time
    batching_wait_s: float    # IPA's (b − 1)/λ
    throughput_qps: float     # of one replica (batch / mean service)
    utilisation: float        # λ / (replicas × throughput)
    fitted: bool              # the batch size's profile was filled by the quadratic fit


@dataclasses.dataclass(frozen=True)
class VariantChoice:
    """Variant-set mode: one variant's cores and its share of the load."""

    variant: str
    cores: int
    servers: int              # cores // threads
    threads: int
    capacity_qps: float       # at the SLO, headroom applied
    share: float              # fraction of the load sent to it (weighted round-robin weight)
    qps: float
    accuracy: float
    utilisation: float        # qps × mean service / servers


@dataclasses.dataclass(frozen=True)
class Constraint:
    """One stated constraint with its value: ``value sense limit`` must hold."""

    name: str
    value: float
    sense: str                # "<=" or ">="
    limit: float

    @property
    def met(self):
        tol = 1e-9 * max(1.0, abs(self.limit))
        return self.value <= self.limit + tol if self.sense == "<=" else self.value >= self.limit - tol

    def as_dict(self):
        return {"name": self.name, "value": self.value, "sense": self.sense, "limit": self.limit,
                "met": self.met}


@dataclasses.dataclass(frozen=True)
class Plan:
    mode: str                     # "pipeline" (IPA) or "variant-set" (InfAdapter)
    qps: float                    # the load planned for
    slo_s: float
    objective: str                # e.g. "ipa-normalised", "infadapter", "tq"
    constants: tuple              # ((name, value), …) of the objective
    objective_value: float
    choices: tuple                # StageChoice … or VariantChoice …
    accuracy: float               # P(correct) of an answer with no time limit
    accuracy_term: float          # the accuracy as the objective counts it
    cores: int
    latency_bound_s: float        # pipeline: IPA's Σ p99 + (b − 1)/λ; variant set: SLO of the capacities
    predicted_tail_quality: float # P(correct ∧ latency ≤ SLO) by the predictor
    predicted_on_time: float      # P(latency ≤ SLO)
    predicted_p99_s: float        # None when unstable or beyond 64 × SLO
    predicted_mean_s: float
    predictor: str
    constraints: tuple            # Constraint …
    solver: str                   # "milp" or "enumerate"
    decision_time_s: float        # the solver's time, options built to choice made
    build_time_s: float           # profiles → options (fits, capacities) before the solver
    candidates: int               # configurations enumerated, or MILP variables
    notes: tuple = ()

    @property
    def feasible(self):
        return all(c.met for c in self.constraints)

    def as_dict(self):
        out = {"format": PLAN_FORMAT}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "constants":
                v = dict(v)
            elif f.name == "choices":
                v = [dataclasses.asdict(c) for c in v]
            elif f.name == "constraints":
                v = [c.as_dict() for c in v]
            elif f.name == "notes":
                v = list(v)
            out[f.name] = v
        out["feasible"] = self.feasible
        return _jsonable(out)
