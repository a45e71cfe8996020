"""POP's order sweep (variants.md §A, our LP-exact reading of "ordered pairs in waterfilling").

An ordered pair (i, j) has g_i > g_j and τ_i > τ_j: i is better but slower. At
ν_ij = (τ_i − τ_j)/(g_i − g_j) type i overtakes j in the index τ − ν·g. Sorting the types by
that index for ν between consecutive breakpoints gives priority orders O_0 (fastest first) …
O_m (best first); they depend on (τ, g) only, never on the load. Waterfilling the load in O_t
is the LP's Lagrangian minimiser for ν in that interval, so sweeping t upward and mixing the
first fill that meets the target with the one before it hits the target exactly, at minimal
mean service time: the LP's optimum (checked against HiGHS in the tests).
"""

import functools

import numpy as np


def breakpoints(mean_service, gain):
    """The distinct ν_ij of all ordered pairs, increasing."""
    tau, g = np.asarray(mean_service, float), np.asarray(gain, float)
    nus = {float((tau[i] - tau[j]) / (g[i] - g[j]))
           for i in range(tau.size) for j in range(tau.size) if g[i] > g[j] and tau[i] > tau[j]}
    return tuple(sorted(nus))


def priority_orders(mean_service, gain):
    """``(orders, breakpoints)``: O_0 … O_m as tuples of type indices, highest priority first."""
    tau, g = np.asarray(mean_service, float), np.asarray(gain, float)
    nus = breakpoints(tau, g)
    orders = []
    for nu in (0.0,) + nus:
        def before(i, j, nu=nu):
            d = (tau[i] - nu * g[i]) - (tau[j] - nu * g[j])
            if abs(d) > 1e-12 * (abs(tau[i]) + abs(tau[j]) + nu * (g[i] + g[j])):
                return -1 if d < 0 else 1
            # Tied at this breakpoint: just past it the better type leads.
            if g[i] != g[j]:
                return -1 if g[i] > g[j] else 1
            return -1 if tau[i] < tau[j] else (1 if tau[i] > tau[j] else i - j)
        order = tuple(sorted(range(tau.size), key=functools.cmp_to_key(before)))
        if not orders or order != orders[-1]:
            orders.append(order)
    return tuple(orders), nus


def waterfill(order, load, capacity):
    """Fill ``load`` into the types in ``order``, each up to its capacity."""
    x = np.zeros(len(capacity))
    rest = float(load)
    for k in order:
        x[k] = min(capacity[k], rest)
        rest -= x[k]
        if rest <= 0:
            break
    return x


def _sweep(load, mean_service, gain, capacity, level):
    """``(t, theta, fills)``: the optimum is fills[t−1]·(1 − θ) + fills[t]·θ; None if infeasible."""
    g = np.asarray(gain, float)
    if load > np.sum(capacity) * (1 + 1e-12):
        return None
    orders, _ = priority_orders(mean_service, g)
    fills = [waterfill(o, load, capacity) for o in orders]
    need = level * load
    prev = None
    for t, x in enumerate(fills):
        have = float(g @ x)
        if have >= need - 1e-12 * load:
            if t == 0:
                return 0, 1.0, fills
            theta = (need - prev) / (have - prev) if have > prev else 1.0
            return t, float(min(max(theta, 0.0), 1.0)), fills
        prev = have
    return None


def lp_by_order_sweep(load, mean_service, gain, capacity, level):
    """The LP's optimal split found by the order sweep, or None when infeasible."""
    found = _sweep(load, mean_service, gain, capacity, level)
    if found is None:
        return None
    t, theta, fills = found
    return fills[0] if t == 0 else (1 - theta) * fills[t - 1] + theta * fills[t]


def order_position(load, mean_service, gain, capacity, level):
    """s* ∈ [0, m]: where the LP optimum sits in the sweep (POP's index converges near it)."""
    found = _sweep(load, mean_service, gain, capacity, level)
    if found is None:
        return float("nan")
    t, theta, _ = found
    return 0.0 if t == 0 else t - 1 + theta
