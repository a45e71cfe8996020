"""Routing among model variants under a quality target: LP bound, policies, simulator.

Pure: NumPy and SciPy. No files, no LoadGen, no CLI. See docs/routing.md.
"""

from ._errors import LoadNotCarried, RoutingError, TargetUnreachable, UnknownPolicy
from ._lp import (LPBound, lp_bound, lp_bound_by_vertices, max_feasible_load,
                  max_feasible_load_arrays, solve_lp_arrays)
from ._model import (Deterministic, Empirical, Exponential, Lognormal, Pool, Target, Variant,
                     parse_tq_target)
from ._orders import breakpoints, lp_by_order_sweep, order_position, priority_orders, waterfill
