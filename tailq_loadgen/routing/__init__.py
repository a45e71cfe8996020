"""Routing among model variants under a quality target: LP bound, policies, simulator.

Pure: NumPy and SciPy (SimPy optionally, as a second simulator engine). No files, no LoadGen,
no CLI. A policy decides from a :class:`PoolState` and its own state only, so the object that
drives :func:`simulate` drives a real pool's dispatcher too. See docs/routing.md.
"""

from ._errors import LoadNotCarried, RoutingError, TargetUnreachable, UnknownPolicy
from ._lp import (LPBound, lp_bound, lp_bound_by_vertices, max_feasible_load,
                  max_feasible_load_arrays, solve_lp_arrays)
from ._model import (Deterministic, Empirical, Exponential, Lognormal, Pool, Target, Variant,
                     parse_tq_target)
from ._orders import breakpoints, lp_by_order_sweep, order_position, priority_orders, waterfill
from ._policies import (DEFAULT_ETA, DEFAULT_HEADROOM, HOLD, JSQ, POLICIES, POP, RJIQ,
                        CentralQueue, FixedPriority, Policy, RandomLP, Single, make_policy)
from ._split import Split
from ._simulate import SimSummary, Simulation, simulate, summarise
from ._state import PoolState
from ._stats import QualityCheck, batch_means, erlang_c_wait, quality_check

__all__ = [
    "CentralQueue", "DEFAULT_ETA", "DEFAULT_HEADROOM", "Deterministic", "Empirical", "Exponential",
    "FixedPriority", "HOLD", "JSQ", "LPBound", "LoadNotCarried", "Lognormal", "POLICIES", "POP",
    "Policy", "Pool", "PoolState", "QualityCheck", "RJIQ", "RandomLP", "RoutingError",
    "SimSummary", "Simulation", "Single", "Split", "Target", "TargetUnreachable", "UnknownPolicy",
    "Variant", "batch_means", "breakpoints", "erlang_c_wait", "lp_bound", "lp_bound_by_vertices",
    "lp_by_order_sweep", "make_policy", "max_feasible_load", "max_feasible_load_arrays",
    "order_position", "parse_tq_target", "priority_orders", "quality_check", "simulate",
    "solve_lp_arrays", "summarise", "waterfill",
]
