"""The pool model of variants.md §A: K variant types, n_k servers each, a service-time law and an
accuracy per type, and the quality target the routing must meet.

Times are in seconds throughout the room (any unit works if used consistently; rates are per
that unit). A type's *gain* is what the target averages: its accuracy a_k for an accuracy
target, its tail quality q_k(τ) = P(correct ∧ service ≤ τ) for a tail-quality target, or any
per-type numbers a user brings (the LP only needs a linear gain).
"""

import dataclasses
import math
import re

import numpy as np

from ._errors import RoutingError, TargetUnreachable


def _positive(name, value):
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise RoutingError(f"{name} must be a positive finite number, got {value!r}")
    return value


# -- service-time laws ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Exponential:
    """Exponential service times with the given mean (rate μ = 1/mean)."""

    mean: float

    def __post_init__(self):
        object.__setattr__(self, "mean", _positive("exponential mean service time", self.mean))

    def sample(self, rng, size):
        return rng.exponential(self.mean, size)

    def cdf(self, t):
        t = np.asarray(t, dtype=np.float64)
        return np.where(t > 0, -np.expm1(-np.maximum(t, 0) / self.mean), 0.0)

    def describe(self):
        return {"law": "exponential", "mean_s": self.mean}


@dataclasses.dataclass(frozen=True)
class Deterministic:
    """Every service takes exactly ``value`` seconds."""

    value: float

    def __post_init__(self):
        object.__setattr__(self, "value", _positive("deterministic service time", self.value))

    @property
    def mean(self):
        return self.value

    def sample(self, rng, size):
        return np.full(size, self.value)

    def cdf(self, t):
        return np.where(np.asarray(t, dtype=np.float64) >= self.value, 1.0, 0.0)

    def describe(self):
        return {"law": "deterministic", "mean_s": self.value}


@dataclasses.dataclass(frozen=True)
class Lognormal:
    """Lognormal service times given by their mean and coefficient of variation (sd/mean)."""

    mean: float
    cv: float

    def __post_init__(self):
        object.__setattr__(self, "mean", _positive("lognormal mean service time", self.mean))
        object.__setattr__(self, "cv", _positive("lognormal coefficient of variation", self.cv))

    @property
    def _sigma(self):
        return math.sqrt(math.log1p(self.cv ** 2))

    def sample(self, rng, size):
        s = self._sigma
        return rng.lognormal(math.log(self.mean) - s * s / 2, s, size)

    def cdf(self, t):
        from scipy.stats import lognorm
        s = self._sigma
        return lognorm.cdf(np.asarray(t, dtype=np.float64), s, scale=self.mean * math.exp(-s * s / 2))

    def describe(self):
        return {"law": "lognormal", "mean_s": self.mean, "cv": self.cv}


class Empirical:
    """Measured service times (a variant's profile), resampled with replacement.

    ``correct`` (optional, one flag per measured time) keeps each measurement's correctness
    with its time, so a resampled job is correct and slow together exactly as measured, and
    q_k(τ) is the measured P(correct ∧ service ≤ τ) instead of a product that assumes
    independence.
    """

    def __init__(self, times, correct=None):
        times = np.array(times, dtype=np.float64).ravel()
        if times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise RoutingError("measured service times must be a non-empty array of finite "
                               "non-negative seconds")
        if times.mean() <= 0:
            raise RoutingError("measured service times are all zero: a server would be infinitely fast")
        if correct is not None:
            correct = np.array(correct, dtype=bool).ravel()
            if correct.shape != times.shape:
                raise RoutingError(f"{correct.size} correctness flags for {times.size} measured "
                                   "service times: give one flag per measurement")
            correct.setflags(write=False)
        times.setflags(write=False)
        self.times, self.correct = times, correct
        self.mean = float(times.mean())
        self._sorted = np.sort(times)

    def sample(self, rng, size):
        return self.times[rng.integers(0, self.times.size, size)]

    def sample_joint(self, rng, size):
        idx = rng.integers(0, self.times.size, size)
        return self.times[idx], self.correct[idx]

    def cdf(self, t):
        return np.searchsorted(self._sorted, np.asarray(t, dtype=np.float64), side="right") / self._sorted.size

    def describe(self):
        return {"law": "empirical", "mean_s": self.mean, "measurements": int(self.times.size),
                "joint_correctness": self.correct is not None}


# -- variants and the pool --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Variant:
    """One server type: ``servers`` identical servers, each serving one job at a time.

    ``accuracy`` may be left out when ``service`` is an :class:`Empirical` law carrying
    per-measurement correctness; it is then the measured share correct.
    """

    name: str
    servers: int
    service: object
    accuracy: float = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or ":" in self.name or "," in self.name:
            raise RoutingError(f"variant name {self.name!r} must be a non-empty string without ':' or ','")
        if isinstance(self.servers, bool) or int(self.servers) != self.servers or self.servers < 1:
            raise RoutingError(f"variant {self.name}: servers must be an integer ≥ 1, got {self.servers!r}")
        object.__setattr__(self, "servers", int(self.servers))
        joint = getattr(self.service, "correct", None)
        if self.accuracy is None:
            if joint is None:
                raise RoutingError(f"variant {self.name}: give its accuracy (or measured "
                                   "correctness with its service times)")
            object.__setattr__(self, "accuracy", float(joint.mean()))
        acc = float(self.accuracy)
        if not (0.0 <= acc <= 1.0):
            raise RoutingError(f"variant {self.name}: accuracy must lie in [0, 1], got {acc!r}")
        if joint is not None and abs(acc - joint.mean()) > 1e-12:
            raise RoutingError(f"variant {self.name}: accuracy {acc} differs from its measured "
                               f"correctness {joint.mean():.6f}; leave accuracy out to use the measurement")
        object.__setattr__(self, "accuracy", acc)

    @property
    def mean_service(self):
        return float(self.service.mean)

    @property
    def rate(self):
        return 1.0 / self.mean_service

    @property
    def capacity(self):
        """Jobs per second the type's servers complete when all are busy: n_k·μ_k."""
        return self.servers * self.rate

    def tail_quality(self, tau):
        """q_k(τ) = P(correct ∧ service ≤ τ): service time only, so waiting is not in it."""
        joint = getattr(self.service, "correct", None)
        if joint is not None:
            return float(np.mean(joint & (self.service.times <= tau)))
        return self.accuracy * float(self.service.cdf(tau))

    def draw(self, rng, size):
        """Service times and correctness flags of ``size`` jobs served by this type."""
        if getattr(self.service, "correct", None) is not None:
            return self.service.sample_joint(rng, size)
        return self.service.sample(rng, size), rng.random(size) < self.accuracy

    def describe(self):
        return {"name": self.name, "servers": self.servers, "accuracy": self.accuracy,
                "mean_service_s": self.mean_service, "capacity_per_s": self.capacity,
                "service": self.service.describe()}


class Pool:
    """The variant types of a pool. Servers are numbered type by type: type 0's first."""

    def __init__(self, variants):
        variants = tuple(variants)
        if not variants:
            raise RoutingError("a pool needs at least one variant")
        names = [v.name for v in variants]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise RoutingError(f"variant names must be unique; repeated: {', '.join(dup)}")
        self.variants = variants
        self.names = tuple(names)
        self.servers = np.array([v.servers for v in variants], dtype=np.int64)
        self.mean_service = np.array([v.mean_service for v in variants])
        self.rate = 1.0 / self.mean_service
        self.accuracy = np.array([v.accuracy for v in variants])
        self.capacity = self.servers * self.rate
        self.first_server = np.concatenate(([0], np.cumsum(self.servers)[:-1]))
        for arr in (self.servers, self.mean_service, self.rate, self.accuracy, self.capacity,
                    self.first_server):
            arr.setflags(write=False)

    @classmethod
    def exponential(cls, rates, accuracy, servers, names=None):
        """A pool with exponential service times (the paper's model), from per-type arrays."""
        rates, accuracy = np.atleast_1d(rates), np.atleast_1d(accuracy)
        servers = np.broadcast_to(np.atleast_1d(servers), rates.shape)
        if accuracy.shape != rates.shape:
            raise RoutingError(f"{accuracy.size} accuracies for {rates.size} rates: give one per type")
        names = names or [f"type{k}" for k in range(rates.size)]
        return cls(Variant(n, int(s), Exponential(1.0 / _positive(f"rate of {n}", r)), float(a))
                   for n, r, a, s in zip(names, rates, accuracy, servers))

    def __len__(self):
        return len(self.variants)

    @property
    def total_servers(self):
        return int(self.servers.sum())

    @property
    def total_capacity(self):
        return float(self.capacity.sum())

    def index(self, name):
        try:
            return self.names.index(name)
        except ValueError:
            raise RoutingError(f"variant {name!r} is not in the pool; variants: {', '.join(self.names)}") from None

    def with_servers(self, servers):
        """The same variants with other server counts (one per type, or one for all)."""
        servers = np.broadcast_to(np.atleast_1d(servers), self.servers.shape)
        return Pool(dataclasses.replace(v, servers=int(s)) for v, s in zip(self.variants, servers))

    def describe(self):
        return {"variants": [v.describe() for v in self.variants],
                "total_servers": self.total_servers, "total_capacity_per_s": self.total_capacity}


# -- the target ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Target:
    """Average gain ≥ ``level``: accuracy (``tau`` None), or tail quality within ``tau`` seconds.

    ``gains`` (optional, one per variant) replaces the gains computed from the pool, for a user
    who brings q_k(τ) or another linear gain of their own.
    """

    level: float
    tau: float = None
    gains: tuple = None

    def __post_init__(self):
        level = float(self.level)
        if not (0.0 < level <= 1.0):
            raise RoutingError(f"quality target must lie in (0, 1], got {self.level!r}")
        object.__setattr__(self, "level", level)
        if self.tau is not None:
            object.__setattr__(self, "tau", _positive("tail-quality latency bound τ", self.tau))
        if self.gains is not None:
            g = tuple(float(x) for x in self.gains)
            if not all(0.0 <= x <= 1.0 for x in g):
                raise RoutingError(f"per-variant gains must lie in [0, 1], got {g}")
            object.__setattr__(self, "gains", g)

    @property
    def kind(self):
        return "accuracy" if self.tau is None else "tail-quality"

    def gain_vector(self, pool):
        """Each type's gain under this target, checked to be reachable by at least one type."""
        if self.gains is not None:
            if len(self.gains) != len(pool):
                raise RoutingError(f"{len(self.gains)} gains for {len(pool)} variants: give one per variant")
            g = np.array(self.gains)
        elif self.tau is None:
            g = pool.accuracy.copy()
        else:
            g = np.array([v.tail_quality(self.tau) for v in pool.variants])
        best = int(np.argmax(g))
        if g[best] < self.level:
            raise TargetUnreachable(
                f"{self.describe()} is above every variant's {self._gain_name()} (best: "
                f"{pool.names[best]} {g[best]:.4f}); lower the target or add a better variant")
        g.setflags(write=False)
        return g

    def _gain_name(self):
        if self.gains is not None:
            return "given gain"
        return "accuracy" if self.tau is None else f"q(τ = {self.tau * 1e3:g} ms) from service times"

    def describe(self):
        if self.tau is None:
            return f"accuracy target {self.level:g}"
        return f"tail-quality target {self.level:g} within {self.tau * 1e3:g} ms"

    def as_dict(self):
        return {"kind": self.kind, "level": self.level, "tau_s": self.tau,
                "gains": list(self.gains) if self.gains is not None else None}


_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_tq_target(text):
    """``"0.95@20ms"`` → ``Target(0.95, tau=0.020)``: at least 95% correct within 20 ms."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*@\s*([0-9.eE+-]+)\s*(s|ms|us|µs|ns)\s*", str(text))
    if not m:
        raise RoutingError(f"tail-quality target {text!r}: write LEVEL@TIME with a unit, e.g. 0.95@20ms")
    try:
        level, tau = float(m.group(1)), float(m.group(2)) * _UNITS[m.group(3)]
    except ValueError:
        raise RoutingError(f"tail-quality target {text!r}: write LEVEL@TIME with a unit, e.g. 0.95@20ms") from None
    return Target(level, tau=tau)
