"""A discrete-event simulator of the pool, driven by the same policy objects as a real pool.

Events are arrivals (Poisson, drawn vectorised up front) and departures (a binary heap of
finish times). A job routed to a server's FCFS queue finishes at max(arrival, the server's last
finish) + service, so its sojourn is known when it is routed; the departure event only tells
the :class:`PoolState` that the server holds one job less. Per job: one policy decision (O(K)),
O(1) state updates and O(log jobs-in-system) heap work, so 1,000+ servers cost no more per job
than ten. Jobs a policy HOLDs wait in one central FCFS queue and start on the next server to
become idle. Service times and correctness are drawn per type in vectorised blocks, each type
from its own random stream, so policies compared at one seed see the same arrivals.
"""

import collections
import dataclasses
import heapq

import numpy as np

from ..tailquality import loadgen_percentile
from ._errors import LoadNotCarried, RoutingError
from ._lp import lp_bound
from ._policies import HOLD
from ._state import PoolState
from ._stats import DEFAULT_ALPHA, DEFAULT_BATCHES, batch_means, quality_check

_BLOCK = 8192


def _streams(rng, pool):
    """Independent generators: arrivals, one per type's service draws, and one spare."""
    if isinstance(rng, np.random.Generator):
        seed = np.random.SeedSequence(int(rng.integers(2 ** 63)))
    else:
        seed = np.random.SeedSequence(rng)
    children = seed.spawn(1 + len(pool))
    return np.random.default_rng(children[0]), [np.random.default_rng(c) for c in children[1:]]


class _Draws:
    """Service times and correctness for jobs of one type, drawn a block at a time."""

    def __init__(self, variant, rng):
        self.variant, self.rng = variant, rng
        self.times, self.correct, self.i = [], [], 0

    def next(self):
        if self.i == len(self.times):
            t, c = self.variant.draw(self.rng, _BLOCK)
            self.times, self.correct, self.i = t.tolist(), c.tolist(), 0
        i = self.i
        self.i += 1
        return self.times[i], self.correct[i]


def _check(pool, policy, load, jobs, warmup):
    load = float(load)
    if not (np.isfinite(load) and load > 0):
        raise RoutingError(f"arrival rate must be a positive finite number, got {load!r}")
    if load >= pool.total_capacity:
        raise LoadNotCarried(f"arrival rate {load:g}/s is at or above the pool's capacity "
                             f"{pool.total_capacity:g}/s: every queue would grow without bound", pool.total_capacity)
    if isinstance(jobs, bool) or int(jobs) != jobs or jobs < 2 * DEFAULT_BATCHES:
        raise RoutingError(f"jobs must be an integer ≥ {2 * DEFAULT_BATCHES}, got {jobs!r}")
    if not (0.0 <= warmup < 1.0):
        raise RoutingError(f"warm-up must be a fraction in [0, 1), got {warmup!r}")
    other = policy.pool
    if other is not pool and not (other.names == pool.names and np.array_equal(other.servers, pool.servers)
                                  and np.array_equal(other.mean_service, pool.mean_service)
                                  and np.array_equal(other.accuracy, pool.accuracy)):
        raise RoutingError("the policy was made for another pool: make it with make_policy(name, pool, ...)")
    return load, int(jobs)


def simulate(pool, policy, load, jobs, rng=None, warmup=0.1, engine="heap"):
    """Simulate ``jobs`` Poisson arrivals at ``load`` jobs/s routed by ``policy``.

    The first ``warmup`` share of jobs (by arrival) is excluded from every statistic.
    ``engine="simpy"`` runs the same model on SimPy (slower; a cross-check, see the benchmark).
    Returns a :class:`Simulation` (per-job arrays and the summary statistics).
    """
    load, jobs = _check(pool, policy, load, jobs, warmup)
    arrivals_rng, type_rngs = _streams(rng, pool)
    arrival = np.cumsum(arrivals_rng.exponential(1.0 / load, jobs))
    draws = [_Draws(v, r) for v, r in zip(pool.variants, type_rngs)]
    state = PoolState(pool.servers)
    if engine == "heap":
        start, service, server, correct = _run_heap(arrival.tolist(), state, policy, draws)
    elif engine == "simpy":
        from ._simpy_engine import run_simpy
        start, service, server, correct = run_simpy(arrival.tolist(), state, policy, draws)
    else:
        raise RoutingError(f"simulator engine {engine!r}: choose heap or simpy")
    server = np.array(server, dtype=np.int64)
    type_of = np.asarray(state.type_of, dtype=np.int64)
    return Simulation(pool=pool, policy=policy, load=load, warmup=int(round(warmup * jobs)),
                      arrival=arrival, start=np.array(start), service=np.array(service),
                      server=server, variant=type_of[server], correct=np.array(correct, dtype=bool))


def _run_heap(arrival, state, policy, draws):
    n = len(arrival)
    start, service, server, correct = [0.0] * n, [0.0] * n, [0] * n, [False] * n
    last_finish = [0.0] * state.servers
    type_of = state.type_of
    heap, held = [], collections.deque()
    choose, assign, release = policy.choose, state.assign, state.release
    push, pop = heapq.heappush, heapq.heappop

    def begin(i, s, t):
        svc, ok = draws[type_of[s]].next()
        b = last_finish[s] if last_finish[s] > t else t
        f = b + svc
        last_finish[s] = f
        start[i], service[i], server[i], correct[i] = b, svc, s, ok
        assign(s)
        push(heap, (f, s))

    def depart(f, s):
        release(s)
        if held and state.load[s] == 0:
            begin(held.popleft(), s, f)

    for i, t in enumerate(arrival):
        while heap and heap[0][0] <= t:
            depart(*pop(heap))
        s = choose(state)
        if s == HOLD:
            held.append(i)
        else:
            begin(i, s, t)
    while held:
        depart(*pop(heap))
    return start, service, server, correct


@dataclasses.dataclass(frozen=True)
class Simulation:
    """One simulated run: per-job arrays (in arrival order) and the context to judge them."""

    pool: object
    policy: object
    load: float
    warmup: int
    arrival: np.ndarray
    start: np.ndarray
    service: np.ndarray
    server: np.ndarray
    variant: np.ndarray
    correct: np.ndarray

    @property
    def finish(self):
        return self.start + self.service

    @property
    def sojourn(self):
        return self.finish - self.arrival

    @property
    def wait(self):
        return self.start - self.arrival

    def measured(self, values):
        """The values of the jobs after the warm-up."""
        return np.asarray(values)[self.warmup:]

    def summary(self, taus=(), batches=DEFAULT_BATCHES, alpha=DEFAULT_ALPHA):
        return summarise(self, taus, batches, alpha)


@dataclasses.dataclass(frozen=True)
class SimSummary:
    """What a routing run reports per policy (simulated here; the real pool reports the same)."""

    policy: str
    load: float
    jobs: int
    mean_sojourn: float
    mean_sojourn_se: float
    p99_sojourn: float
    mean_wait: float
    lp_mean_latency: float   # T_LP-LB at this load (NaN when the LP is infeasible there)
    planned_gain: float      # mean gain of the types chosen (service-time q_k(τ) for tq targets)
    shares: tuple            # per type, realised
    lp_shares: tuple         # per type, the LP's at this load (NaN when infeasible)
    accuracy: dict           # QualityCheck of realised correctness against an accuracy target
    tail_quality: dict       # τ (s) → share of jobs correct with sojourn ≤ τ
    target_check: dict       # QualityCheck of the target's own quantity (accuracy or TQ at τ)
    policy_state: dict

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["tail_quality"] = {f"{k:g}": v for k, v in self.tail_quality.items()}
        return d


def summarise(sim, taus=(), batches=DEFAULT_BATCHES, alpha=DEFAULT_ALPHA):
    pool, policy, target = sim.pool, sim.policy, sim.policy.target
    sojourn = sim.measured(sim.sojourn)
    correct = sim.measured(sim.correct)
    variant = sim.measured(sim.variant)
    mean, se = batch_means(sojourn, batches)
    try:
        lp = lp_bound(pool, sim.load, target)
        lp_mean, lp_shares = lp.mean_latency, lp.shares
    except LoadNotCarried:
        lp_mean, lp_shares = float("nan"), (float("nan"),) * len(pool)
    taus = tuple(sorted(set(float(t) for t in taus) | ({target.tau} if target.tau else set())))
    tq = {t: float(np.mean(correct & (sojourn <= t))) for t in taus}
    gains = np.asarray(policy.gains)
    acc = quality_check(correct, target.level, "accuracy", batches, alpha)
    if target.tau is None:
        own = acc
    else:
        own = quality_check(correct & (sojourn <= target.tau), target.level,
                            f"tail quality within {target.tau * 1e3:g} ms", batches, alpha)
    shares = np.bincount(variant, minlength=len(pool)) / variant.size
    return SimSummary(policy=policy.name, load=sim.load, jobs=int(sojourn.size), mean_sojourn=mean,
                      mean_sojourn_se=se, p99_sojourn=float(loadgen_percentile(sojourn, 0.99)),
                      mean_wait=float(sim.measured(sim.wait).mean()), lp_mean_latency=lp_mean,
                      planned_gain=float(gains[variant].mean()),
                      shares=tuple(float(s) for s in shares), lp_shares=tuple(lp_shares),
                      accuracy=acc.as_dict(), tail_quality=tq, target_check=own.as_dict(),
                      policy_state=policy.snapshot())
