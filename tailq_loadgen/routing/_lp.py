"""The LP lower bound T_LP-LB(λ) of variants.md §A, solved with HiGHS and checked by vertices.

Variables x_k ≥ 0, the arrival rate sent to type k. Minimise (1/Λ)·Σ x_k·τ_k subject to
Σ x_k = Λ, Σ g_k·x_k ≥ g*·Λ and x_k ≤ c_k·(1 − δ), with τ_k the mean service time, g_k the
type's gain (accuracy, or q_k(τ)), c_k = n_k·μ_k its capacity and δ a headroom. A job waits
≥ 0 before its service, so no policy that meets g* on average has a lower mean latency.
"""

import dataclasses
import itertools

import numpy as np
from scipy.optimize import linprog

from ._errors import LoadNotCarried, RoutingError
from ._orders import order_position


def max_feasible_load_arrays(gain, capacity, level):
    """The largest Λ for which some split meets Σ g·x ≥ level·Λ within the capacities.

    An exact fractional knapsack: every type at or above the level fills completely; its
    surplus (g_k − level)·c_k then buys load on the below-level types, least deficit first.
    """
    gain, capacity = np.asarray(gain, float), np.asarray(capacity, float)
    above = gain >= level
    total = float(capacity[above].sum())
    surplus = float(((gain - level) * capacity)[above].sum())
    for k in np.argsort(level - gain, kind="stable"):
        if above[k] or surplus <= 0:
            continue
        take = min(capacity[k], surplus / (level - gain[k]))
        total += take
        surplus -= take * (level - gain[k])
    return float(total)


def _check_load(load):
    load = float(load)
    if not (np.isfinite(load) and load > 0):
        raise RoutingError(f"arrival rate must be a positive finite number of jobs per second, got {load!r}")
    return load


def solve_lp_arrays(load, mean_service, gain, capacity, level):
    """HiGHS's optimum ``(x, mean_latency, nu)``, or None when the LP is infeasible.

    ``nu`` ≥ 0 is the multiplier of the gain constraint (seconds per unit of gain): the
    optimum fills types in increasing order of τ_k − ν·g_k.
    """
    tau, gain, capacity = (np.asarray(a, float) for a in (mean_service, gain, capacity))
    K = tau.size
    res = linprog(tau, A_ub=-gain[None, :], b_ub=[-level * load], A_eq=np.ones((1, K)),
                  b_eq=[load], bounds=list(zip(np.zeros(K), capacity)), method="highs-ds")
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"HiGHS did not solve the routing LP: {res.message}")
    x = np.clip(res.x, 0.0, capacity)
    return x, float(tau @ x) / load, float(-res.ineqlin.marginals[0])


def lp_bound_by_vertices(load, mean_service, gain, capacity, level, tol=1e-9):
    """The same optimum by enumerating every vertex of the feasible polytope (exact, for tests).

    With two general constraints (the load and the gain), a vertex has every variable at a
    bound except at most two: one if the gain constraint is slack, two if it is tight.
    Returns ``(mean_latency, x)``, or None when no vertex is feasible.
    """
    tau, gain, capacity = (np.asarray(a, float) for a in (mean_service, gain, capacity))
    K = tau.size
    scale = max(load, 1.0)
    best = None

    def consider(x):
        nonlocal best
        if np.any(x < -tol * scale) or np.any(x > capacity + tol * scale):
            return
        if abs(x.sum() - load) > tol * scale or gain @ x < level * load - tol * scale:
            return
        value = float(tau @ x) / load
        if best is None or value < best[0]:
            best = (value, np.clip(x, 0.0, capacity))

    for free_count in (0, 1, 2):
        for free in itertools.combinations(range(K), free_count):
            fixed = [k for k in range(K) if k not in free]
            for upper in itertools.product((False, True), repeat=len(fixed)):
                x = np.zeros(K)
                for k, up in zip(fixed, upper):
                    x[k] = capacity[k] if up else 0.0
                rest = load - x.sum()
                if free_count == 1:
                    x[free[0]] = rest
                elif free_count == 2:
                    i, j = free
                    det = gain[j] - gain[i]
                    if det == 0:
                        continue
                    rest_gain = level * load - gain @ x
                    x[j] = (rest_gain - gain[i] * rest) / det
                    x[i] = rest - x[j]
                consider(x)
    return best


@dataclasses.dataclass(frozen=True)
class LPBound:
    """The LP's answer at one load: the bound, the optimal split and what it means."""

    load: float
    target: dict
    headroom: float
    names: tuple
    rates: tuple          # x_k*: jobs per second planned for each type
    mean_latency: float   # T_LP-LB(λ), seconds
    multiplier: float     # ν: the optimum fills types by increasing τ_k − ν·g_k
    order_position: float  # where the optimum sits in POP's order sweep (s* in [0, m])
    utilisation: tuple    # x_k* / c_k, against the full capacity (not the headroom's)
    max_load: float       # the largest load that is feasible under this target and headroom

    @property
    def shares(self):
        return tuple(r / self.load for r in self.rates)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["shares"] = list(self.shares)
        return d


def max_feasible_load(pool, target, headroom=0.0):
    """The largest arrival rate the pool can carry while meeting ``target`` (on average)."""
    gain = target.gain_vector(pool)
    return max_feasible_load_arrays(gain, pool.capacity * (1.0 - _check_headroom(headroom)), target.level)


def _check_headroom(headroom):
    headroom = float(headroom)
    if not (0.0 <= headroom < 1.0):
        raise RoutingError(f"capacity headroom δ must lie in [0, 1), got {headroom!r}")
    return headroom


def lp_bound(pool, load, target, headroom=0.0):
    """T_LP-LB(λ) and the optimal split; LoadNotCarried (a RoutingError) explains infeasibility."""
    load = _check_load(load)
    headroom = _check_headroom(headroom)
    gain = target.gain_vector(pool)
    capacity = pool.capacity * (1.0 - headroom)
    max_load = max_feasible_load_arrays(gain, capacity, target.level)
    if load > max_load * (1 + 1e-12):
        raise LoadNotCarried(_infeasible_message(pool, load, target, headroom, max_load), max_load)
    solved = solve_lp_arrays(min(load, max_load), pool.mean_service, gain, capacity, target.level)
    if solved is None:  # only at the boundary, within HiGHS's tolerance
        raise LoadNotCarried(_infeasible_message(pool, load, target, headroom, max_load), max_load)
    x, value, nu = solved
    return LPBound(load=load, target=target.as_dict(), headroom=headroom, names=pool.names,
                   rates=tuple(float(v) for v in x), mean_latency=value, multiplier=nu,
                   order_position=order_position(load, pool.mean_service, gain, capacity, target.level),
                   utilisation=tuple(float(v) for v in x / pool.capacity), max_load=float(max_load))


def _infeasible_message(pool, load, target, headroom, max_load):
    cap = pool.total_capacity * (1 - headroom)
    room = f" with headroom δ = {headroom:g}" if headroom else ""
    if load > cap:
        return (f"arrival rate {load:g}/s exceeds the pool's capacity {cap:g}/s{room}; "
                "lower the load or add servers")
    return (f"arrival rate {load:g}/s is more than the pool can carry at {target.describe()}{room}: "
            f"at most {max_load:g}/s ({100 * max_load / pool.total_capacity:.1f}% of capacity "
            f"{pool.total_capacity:g}/s); lower the load or the target, or add accurate servers")
