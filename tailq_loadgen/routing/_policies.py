"""Routing policies: objects with explicit state that turn the pool's state into a server.

Every policy has ``choose(state) → server`` (``HOLD`` for a job that waits in a central queue),
``snapshot()`` (its own state, plain data) and ``describe()`` (its parameters and plan). A
decision reads only the :class:`PoolState` and the policy's own fields, so the same object
drives the simulator and a real pool's dispatcher. Randomness comes from the ``rng`` given at
construction (int seed or numpy Generator), drawn in blocks so a decision costs microseconds.
"""

import bisect
import math

import numpy as np

from ._errors import RoutingError, UnknownPolicy
from ._lp import lp_bound, max_feasible_load
from ._orders import priority_orders

HOLD = -1  # choose() result: the job waits in the central queue for the next free server
POLICIES = ("rjiq", "pop", "jsq", "random-lp", "fastest-idle", "most-accurate", "central-queue",
            "single:<variant>")
DEFAULT_HEADROOM = 0.05
DEFAULT_ETA = 0.02  # the raw rule's step (accuracy units)
# POP's step rules → (η, η_start): their default step and decaying start (None: constant step).
# Chosen by simulation (benchmarks/routing.py, "POP's step rules"): scaled, 0.2 decaying to
# 0.005 — the start sets the settle time, the floor the steady-state noise in s (at n = 10 per
# type near the feasible load a floor of 0.02 cost 5% of latency, 0.005 none).
POP_STEPS = {"scaled": (0.005, 0.2), "raw": (DEFAULT_ETA, None)}
POP_DECAY = 500  # decisions: η_t = max(η, η_start·T/(T + t)) with T = POP_DECAY


class _Uniforms:
    """Uniform draws from a numpy Generator, a block at a time (a single draw costs ~0.5 µs)."""

    def __init__(self, rng, block=4096):
        self._rng = np.random.default_rng(rng)
        self._block = block
        self._buf, self._i = [], 0

    def __call__(self):
        if self._i == len(self._buf):
            self._buf, self._i = self._rng.random(self._block).tolist(), 0
        u = self._buf[self._i]
        self._i += 1
        return u


class Policy:
    """The shared interface. ``gains`` are the per-type gains the policy routes on."""

    name = "policy"
    holds = False  # True: may return HOLD, so the dispatcher needs a central queue
    meets_target = False  # True: designed to meet the target on average when the load allows

    def __init__(self, pool, target):
        self.pool, self.target = pool, target
        self.gains = target.gain_vector(pool)
        self.chosen = [0] * len(pool)  # decisions per type, for snapshots

    def choose(self, state):
        raise NotImplementedError

    def snapshot(self):
        return {"policy": self.name, "chosen_per_type": list(self.chosen)}

    def describe(self):
        return {"policy": self.name, "meets_target": self.meets_target, "holds": self.holds}


class _LPRouted(Policy):
    """Type drawn with the LP's probabilities at a known load (with capacity headroom)."""

    meets_target = True

    def __init__(self, pool, target, load, headroom, rng):
        super().__init__(pool, target)
        if load is None:
            raise RoutingError(f"policy {self.name} needs the arrival rate λ (it solves the LP at λ)")
        full = max_feasible_load(pool, target)
        lp_bound(pool, load, target)  # raises LoadNotCarried with the reason when infeasible
        # The LP often plans a type at capacity (utilisation 1, unstable queues): plan at
        # c_k·(1 − δ) instead, shrinking δ only as far as the load forces.
        self.headroom_requested = float(headroom)
        self.headroom = min(self.headroom_requested, max(0.0, 1.0 - load / full))
        self.plan = lp_bound(pool, min(load, full * (1 - self.headroom)), target, self.headroom)
        shares = np.asarray(self.plan.shares)
        self._cum = np.cumsum(shares / shares.sum()).tolist()
        self._cum[-1] = 1.0
        self._u = _Uniforms(rng)

    def _draw_type(self):
        return bisect.bisect_right(self._cum, self._u())

    def describe(self):
        return {**super().describe(), "headroom_requested": self.headroom_requested,
                "headroom_used": self.headroom, "lp_shares": list(self.plan.shares),
                "lp_mean_latency_s": self.plan.mean_latency}


class RJIQ(_LPRouted):
    """R-JIQ: type k with probability x_k*/Λ, an idle server of it, else a random (or JSQ) one."""

    name = "rjiq"

    def __init__(self, pool, target, load, headroom=DEFAULT_HEADROOM, fallback="random", rng=None):
        if fallback not in ("random", "jsq"):
            raise RoutingError(f"rjiq fallback {fallback!r}: choose random or jsq")
        self.fallback = fallback
        super().__init__(pool, target, load, headroom, rng)

    def choose(self, state):
        k = self._draw_type()
        self.chosen[k] += 1
        s = state.idle_server(k)
        if s >= 0:
            return s
        if self.fallback == "jsq":
            return state.shortest_queue(k)
        return state.random_server(k, self._u())

    def describe(self):
        return {**super().describe(), "fallback": self.fallback}


class RandomLP(_LPRouted):
    """The LP's type probabilities, then a uniformly random server of the type (no JIQ)."""

    name = "random-lp"

    def __init__(self, pool, target, load, headroom=DEFAULT_HEADROOM, rng=None):
        super().__init__(pool, target, load, headroom, rng)

    def choose(self, state):
        k = self._draw_type()
        self.chosen[k] += 1
        return state.random_server(k, self._u())


class _PriorityJIQ(Policy):
    """An idle server of the highest-priority type that has one, else the top type's shortest queue."""

    def _serve(self, state, order):
        for k in order:
            s = state.idle_server(k)
            if s >= 0:
                self.chosen[k] += 1
                return s, k
        k = order[0]
        self.chosen[k] += 1
        return state.shortest_queue(k), k


class POP(_PriorityJIQ):
    """POP, our LP-exact reading (variants.md §A): priority-JIQ along the order sweep, λ-free.

    Index s selects order O_⌊s⌋ (O_⌊s⌋+1 with probability frac(s)); after each decision s moves
    towards better orders while the chosen gain falls short of the target and back while it
    exceeds it: ``step="scaled"`` (the default, our reading) s ← clip(s + η·(g* − g_chosen)/D)
    with D = max_k |g_k − g*|, the gains' spread around the target, so a step is a share of η
    whatever the gains' units and gaps (issue 15: in accuracy units, gaps of 0.01–0.06 needed
    ~10⁴ decisions to settle), and η decays from η_start = 0.2 to its floor 0.005 over the
    first decisions (η_t = max(η, η_start·T/(T + t)), T = 500): a* within 0.005 after
    ~100–500 decisions. ``step="raw"`` is the earlier rule s ← clip(s + η·(g* − g_chosen)), η = 0.02,
    constant — kept for comparison. Neither uses the load. Stage m + 1 (``overflow``, on by
    default; our extension beyond §A) joins the best type's shortest queue even when worse
    types have idle servers: in small pools, and near the accuracy-feasible load in large ones,
    priority-JIQ in O_m alone cannot keep the accurate servers busy enough to reach the
    target, and only queueing there can. Where O_m suffices, s never passes m and nothing
    changes.
    """

    name = "pop"
    meets_target = True

    def __init__(self, pool, target, eta=None, start=0.0, overflow=True, step="scaled",
                 eta_start="default", decay=POP_DECAY, rng=None):
        super().__init__(pool, target)
        if step not in POP_STEPS:
            raise RoutingError(f"pop step rule {step!r}: choose {' or '.join(POP_STEPS)}")
        self.step = step
        default_eta, default_start = POP_STEPS[step]
        self.eta = float(default_eta if eta is None else eta)
        if not (math.isfinite(self.eta) and self.eta > 0):
            raise RoutingError(f"pop step η must be a positive number, got {eta!r}")
        # Decaying step: η_t = max(η, η_start·T/(T + t)) at decision t (T = ``decay``); large
        # steps carry s to its level within a few hundred decisions, the floor η keeps it there
        # with little noise. eta_start=None (or ≤ η): a constant step.
        if isinstance(eta_start, str) and eta_start == "default":
            eta_start = default_start
        self.eta_start = None if eta_start is None else float(eta_start)
        self.decay = float(decay)
        if self.eta_start is not None and not (math.isfinite(self.eta_start) and self.eta_start > 0
                                               and math.isfinite(self.decay) and self.decay > 0):
            raise RoutingError(f"pop eta_start and decay must be positive numbers, got {eta_start!r}, {decay!r}")
        self._boost = 0 if self.eta_start is None or self.eta_start <= self.eta else 1
        self._t = 0
        orders, self.breakpoints = priority_orders(pool.mean_service, self.gains)
        self.orders = orders
        self.m = len(orders) - 1
        self.overflow = bool(overflow)
        self.top = self.m + 1 if self.overflow else self.m
        self.s = float(min(max(start, 0.0), self.top))
        self._best = orders[-1][0]
        self._level = target.level
        spread = float(np.max(np.abs(self.gains - self._level))) if step == "scaled" else 1.0
        self.spread = spread if spread > 0 else 1.0  # every gain at the target: any step will do
        # s moves by delta[k] when type k is chosen (precomputed: a decision costs microseconds)
        self._delta = [self.eta * (self._level - g) / self.spread for g in self.gains.tolist()]
        self._u = _Uniforms(rng)

    def choose(self, state):
        t = int(self.s)
        if t < self.top and self._u() < self.s - t:
            t += 1
        if t > self.m:  # overflow stage: queue at the best type rather than use a worse idle one
            k = self._best
            self.chosen[k] += 1
            server = state.shortest_queue(k)
        else:
            server, k = self._serve(state, self.orders[t])
        step = self._delta[k]
        if self._boost:
            factor = self.eta_start * self.decay / (self.decay + self._t) / self.eta
            self._t += 1
            if factor <= 1.0:
                self._boost = 0
            else:
                step *= factor
        self.s = min(max(self.s + step, 0.0), self.top)
        return server

    def snapshot(self):
        return {**super().snapshot(), "s": self.s}

    def describe(self):
        return {**super().describe(), "step": self.step, "eta": self.eta, "eta_start": self.eta_start,
                "decay": self.decay, "gain_spread": self.spread,
                "overflow": self.overflow, "orders": [list(o) for o in self.orders],
                "breakpoints": list(self.breakpoints)}


class FixedPriority(_PriorityJIQ):
    """Priority-JIQ in one fixed order: ``fastest-idle`` (POP's O_0) or ``most-accurate`` (O_m)."""

    def __init__(self, pool, target, which):
        super().__init__(pool, target)
        orders, _ = priority_orders(pool.mean_service, self.gains)
        self.name = which
        self.order = orders[0] if which == "fastest-idle" else orders[-1]
        self.meets_target = which == "most-accurate"

    def choose(self, state):
        return self._serve(state, self.order)[0]

    def describe(self):
        return {**super().describe(), "order": list(self.order)}


class JSQ(Policy):
    """Join the shortest queue over all servers (ties: the faster type). Blind to accuracy."""

    name = "jsq"

    def __init__(self, pool, target):
        super().__init__(pool, target)
        self._by_speed = [int(k) for k in np.argsort(pool.mean_service, kind="stable")]

    def choose(self, state):
        best, best_k = None, 0
        for k in self._by_speed:
            q = state.min_jobs(k)
            if best is None or q < best:
                best, best_k = q, k
                if q == 0:
                    break
        self.chosen[best_k] += 1
        return state.shortest_queue(best_k)


class Single(Policy):
    """Every job to one variant: an idle server of it, else its shortest queue."""

    def __init__(self, pool, target, variant):
        super().__init__(pool, target)
        self.k = pool.index(variant)
        self.name = f"single:{variant}"
        self.meets_target = bool(self.gains[self.k] >= target.level)

    def choose(self, state):
        self.chosen[self.k] += 1
        s = state.idle_server(self.k)
        return s if s >= 0 else state.shortest_queue(self.k)


class CentralQueue(Policy):
    """An idle server (fastest type first), else wait in one FCFS queue for the next free server.

    Late binding, blind to accuracy. On one type it is exactly M/M/c, which is how the tests
    calibrate the simulator against Erlang C.
    """

    name = "central-queue"
    holds = True

    def __init__(self, pool, target):
        super().__init__(pool, target)
        self._by_speed = [int(k) for k in np.argsort(pool.mean_service, kind="stable")]

    def choose(self, state):
        for k in self._by_speed:
            s = state.idle_server(k)
            if s >= 0:
                self.chosen[k] += 1
                return s
        return HOLD


def make_policy(name, pool, target, load=None, rng=None, **options):
    """The policy called ``name`` (see ``POLICIES``) for this pool and target.

    ``load`` (λ, jobs/s) is needed by the LP-routed policies (``rjiq``, ``random-lp``) only.
    Options: ``headroom`` (rjiq, random-lp), ``fallback`` (rjiq), ``eta``, ``start``,
    ``overflow``, ``step`` (``scaled`` or ``raw``), ``eta_start`` and ``decay`` (pop).
    """
    if name.startswith("single:"):
        variant = name.split(":", 1)[1]
        if variant not in pool.names:
            raise UnknownPolicy(f"policy {name!r}: no variant {variant!r} in the pool; variants: "
                                f"{', '.join(pool.names)}")
    elif name not in POLICIES:
        raise UnknownPolicy(f"unknown policy {name!r}: choose one of {', '.join(POLICIES)}")
    allowed = {"rjiq": {"headroom", "fallback"}, "random-lp": {"headroom"}, "pop": {"eta", "start", "overflow", "step", "eta_start", "decay"}}
    extra = set(options) - allowed.get(name, set())
    if extra:
        raise RoutingError(f"policy {name} takes no option {', '.join(sorted(extra))}")
    target.gain_vector(pool)  # an unreachable target is an error for every policy
    if name == "rjiq":
        return RJIQ(pool, target, load, rng=rng, **options)
    if name == "random-lp":
        return RandomLP(pool, target, load, rng=rng, **options)
    if name == "pop":
        return POP(pool, target, rng=rng, **options)
    if name == "jsq":
        return JSQ(pool, target)
    if name in ("fastest-idle", "most-accurate"):
        return FixedPriority(pool, target, name)
    if name == "central-queue":
        return CentralQueue(pool, target)
    return Single(pool, target, name.split(":", 1)[1])
