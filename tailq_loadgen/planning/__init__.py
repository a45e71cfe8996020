"""Planning: profiles → plans. Pure: NumPy and SciPy only; no files, no LoadGen, no CLI.

Two modes, each with the papers' objectives and a tail-quality objective, and two solvers
(``milp``: scipy's HiGHS; ``enumerate``: exact enumeration) that agree:

* :func:`plan_pipeline` — IPA mode: per pipeline stage a variant, batch size and replicas.
* :func:`plan_variant_set` — InfAdapter mode: one stage, a set of variants served at once,
  cores per variant and the load split among them.

Load predictors, the re-planning policy and synthetic load patterns for ``tailq adapt`` are in
the same room (:mod:`._load`). Times are seconds, loads queries per second.
"""

from ._errors import (CapacityError, MissingProfileError, PlanningError, ProfileError,
                      SLOInfeasibleError)
from ._load import (LOAD_PATTERNS, PREDICTORS, AdaptStep, Decision, LoadPattern, LoadPredictor,
                    PolicyState, ReplanPolicy, adaptation_schedule, ewma, load_pattern)
from ._objectives import (IPA_TASKS, InfAdapterObjective, IPAObjective, TailQualityObjective,
                          rank_normalised)
from ._pipeline import plan_pipeline
from ._variant_set import linear_capacity, plan_variant_set
from ._plan import PLAN_FORMAT, Constraint, Plan, StageChoice, VariantChoice
from ._profiles import CapacityPoint, ServiceSamples, VariantProfile
from ._queueing import (AnalyticPredictor, Prediction, StageLoad, capacity_at_slo, erlang_c)

__all__ = [
    "AdaptStep", "Decision", "LOAD_PATTERNS", "LoadPattern", "LoadPredictor", "PREDICTORS",
    "PolicyState", "ReplanPolicy", "adaptation_schedule", "ewma", "load_pattern",
    "AnalyticPredictor", "CapacityError", "CapacityPoint", "Constraint", "IPA_TASKS",
    "IPAObjective", "InfAdapterObjective", "MissingProfileError", "PLAN_FORMAT", "Plan",
    "PlanningError", "Prediction", "ProfileError", "SLOInfeasibleError", "ServiceSamples",
    "StageChoice", "StageLoad", "TailQualityObjective", "VariantChoice", "VariantProfile",
    "capacity_at_slo", "erlang_c", "linear_capacity", "plan_pipeline", "plan_variant_set",
    "rank_normalised",
]
