"""Load for ``tailq adapt``: predictors, the re-planning policy, and synthetic load patterns.

LoadGen issues constant-rate Poisson traffic and cannot replay a trace, so a load pattern
runs as consecutive constant-QPS segments, each its own test on the same SUT, and the plan is
revisited between segments from the loads seen so far.

* Predictors (pure functions of the history of observed loads): ``reactive`` (the last
  value), ``max`` (the largest of the last ``window``), ``ewma`` (pandas' ``ewm(span).mean()``
  with its default adjusted weights — InfAdapter's fallback), ``percentile`` (a percentile of
  the last ``window``; p90 with a 15% margin is a VPA-like recommendation). Each adds
  ``margin`` (InfAdapter: +10%).
* Re-planning policy (InfAdapter's stabilisation, from its adapter): a prediction above the
  load the current plan was made for re-plans at once; one at or below it is held until
  ``stabilisation`` (4) such decisions in a row have been held, and the next one re-plans.
  ``stabilisation=0`` re-plans at every segment (IPA).
* Patterns (the shapes IPA names: bursty, steady low, steady high, fluctuating — ours,
  synthetic, seeded) as fractions of a capacity, so they scale to the machine.
"""

import dataclasses
import math

import numpy as np

from ._errors import PlanningError

PREDICTORS = ("reactive", "max", "ewma", "percentile")
LOAD_PATTERNS = ("bursty", "steady-low", "steady-high", "fluctuating")


def _history(history):
    h = np.asarray(history, dtype=np.float64).ravel()
    if h.size == 0:
        raise PlanningError("load history is empty: a predictor needs at least one observed load")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise PlanningError("load history: every observed load must be a finite number ≥ 0 QPS")
    return h


def ewma(history, span):
    """pandas' ``Series.ewm(span=span).mean().iloc[-1]`` (adjust=True): weights (1 − a)^i on the
    i-th most recent value, a = 2 / (span + 1), normalised by their sum."""
    h = _history(history)
    a = 2.0 / (span + 1.0)
    w = (1.0 - a) ** np.arange(h.size - 1, -1, -1)
    return float(w @ h / w.sum())


@dataclasses.dataclass(frozen=True)
class LoadPredictor:
    method: str = "ewma"
    window: int = 5
    span: float = 10.0
    percentile: float = 90.0
    margin: float = 0.10

    def __post_init__(self):
        if self.method not in PREDICTORS:
            raise PlanningError(f"load predictor {self.method!r}: choose one of {', '.join(PREDICTORS)}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise PlanningError(f"load predictor window must be an integer ≥ 1, got {self.window!r}")
        if not self.span >= 1:
            raise PlanningError(f"load predictor span must be ≥ 1, got {self.span!r}")
        if not 0 < self.percentile <= 100:
            raise PlanningError(f"load predictor percentile must lie in (0, 100], got {self.percentile!r}")
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise PlanningError(f"load predictor margin must be ≥ 0, got {self.margin!r}")

    @property
    def name(self):
        return {"reactive": "reactive", "max": f"max-{self.window}", "ewma": f"ewma-{self.span:g}",
                "percentile": f"p{self.percentile:g}-{self.window}"}[self.method] + \
            (f"+{self.margin:.0%}" if self.margin else "")

    def raw(self, history):
        """The prediction before the margin."""
        h = _history(history)
        if self.method == "reactive":
            return float(h[-1])
        if self.method == "max":
            return float(h[-self.window:].max())
        if self.method == "ewma":
            return ewma(h, self.span)
        return float(np.percentile(h[-self.window:], self.percentile))

    def predict(self, history):
        return self.raw(history) * (1.0 + self.margin)

    def as_dict(self):
        return {"name": self.name, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class PolicyState:
    planned_qps: float       # the load the plan in force was made for
    held: int = 0            # lower-load decisions held in a row


@dataclasses.dataclass(frozen=True)
class Decision:
    replan: bool
    planned_qps: float       # the load to plan for (unchanged when held)
    reason: str              # "up", "down", "held"


@dataclasses.dataclass(frozen=True)
class ReplanPolicy:
    stabilisation: int = 4

    def __post_init__(self):
        if isinstance(self.stabilisation, bool) or not isinstance(self.stabilisation, int) \
                or self.stabilisation < 0:
            raise PlanningError(f"stabilisation must be an integer ≥ 0, got {self.stabilisation!r}")

    def step(self, state, predicted_qps):
        """(Decision, next state) for a new prediction, InfAdapter's rule."""
        if predicted_qps <= state.planned_qps and state.held < self.stabilisation:
            return (Decision(False, state.planned_qps, "held"),
                    PolicyState(state.planned_qps, state.held + 1))
        reason = "up" if predicted_qps > state.planned_qps else "down"
        return Decision(True, predicted_qps, reason), PolicyState(predicted_qps, 0)


@dataclasses.dataclass(frozen=True)
class AdaptStep:
    segment: int
    qps: float               # the segment's actual load
    predicted_qps: float     # from the loads of the segments before it
    planned_qps: float       # the load the plan in force was made for
    replanned: bool
    reason: str              # "initial", "up", "down", "held"
    plan: object = None      # the plan in force, when a planner was given

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["plan"] = self.plan.as_dict() if self.plan is not None else None
        return d


def adaptation_schedule(loads, predictor, policy, initial_qps=None, make_plan=None):
    """What to plan for before each segment of ``loads``. Segment 0 is planned for
    ``initial_qps`` (default: its own load, as if measured before the run); segment i > 0 for
    the predictor's forecast from loads 0…i−1, through the policy. ``make_plan(qps)`` (a pure
    planner call), when given, is called once per re-plan and its plan carried forward."""
    loads = _history(loads)
    start = float(loads[0]) if initial_qps is None else float(initial_qps)
    state = PolicyState(start)
    plan = make_plan(start) if make_plan is not None else None
    steps = [AdaptStep(0, float(loads[0]), start, start, True, "initial", plan)]
    for i in range(1, loads.size):
        predicted = predictor.predict(loads[:i])
        decision, state = policy.step(state, predicted)
        if decision.replan and make_plan is not None:
            plan = make_plan(decision.planned_qps)
        steps.append(AdaptStep(i, float(loads[i]), predicted, decision.planned_qps,
                               decision.replan, decision.reason, plan))
    return tuple(steps)


@dataclasses.dataclass(frozen=True)
class LoadPattern:
    name: str
    capacity_qps: float
    qps: tuple               # one constant load per segment
    segment_s: float
    seed: int

    def as_dict(self):
        return dataclasses.asdict(self)


def load_pattern(name, capacity_qps, segments=20, segment_s=30.0, seed=0):
    """A synthetic load pattern as constant-QPS segments, scaled to ``capacity_qps`` (the load
    the largest configuration carries at the SLO). Fractions of capacity [ours]:
    steady-low ≈ 0.30, steady-high ≈ 0.80 (±3% noise); fluctuating: a sine between 0.20 and
    0.80 with two periods over the run (±5%); bursty: 0.30 with three bursts of 1–2 segments at
    0.85–0.95. Every value is clipped to [0.05, 0.95] of capacity."""
    if name not in LOAD_PATTERNS:
        raise PlanningError(f"load pattern {name!r}: choose one of {', '.join(LOAD_PATTERNS)}")
    if not (isinstance(capacity_qps, (int, float)) and math.isfinite(capacity_qps) and capacity_qps > 0):
        raise PlanningError(f"load pattern: capacity_qps must be a positive number, got {capacity_qps!r}")
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 2:
        raise PlanningError(f"load pattern: segments must be an integer ≥ 2, got {segments!r}")
    rng = np.random.default_rng(seed)
    i = np.arange(segments)
    if name == "steady-low":
        frac = 0.30 * (1 + rng.uniform(-0.03, 0.03, segments))
    elif name == "steady-high":
        frac = 0.80 * (1 + rng.uniform(-0.03, 0.03, segments))
    elif name == "fluctuating":
        frac = (0.50 - 0.30 * np.cos(2 * np.pi * 2 * i / segments)) * (1 + rng.uniform(-0.05, 0.05, segments))
    else:
        frac = 0.30 * (1 + rng.uniform(-0.03, 0.03, segments))
        starts = rng.choice(np.arange(1, segments - 1), size=min(3, segments - 2), replace=False)
        for s in starts:
            length = int(rng.integers(1, 3))
            frac[s:s + length] = rng.uniform(0.85, 0.95, len(frac[s:s + length]))
    frac = np.clip(frac, 0.05, 0.95)
    return LoadPattern(name, float(capacity_qps), tuple(float(f * capacity_qps) for f in frac),
                       float(segment_s), int(seed))
