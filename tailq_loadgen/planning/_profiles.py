"""What the planner is given: plain, immutable profile records.

The workflow builds them from captured runs (service-time samples per variant, batch size and
thread count; per-sample correctness; capacity at an SLO from LoadGen's Server scenario in
FindPeakPerformance mode). The planner never reads files and does not care how profiles are
stored. Times are in **seconds**, loads in queries per second.
"""

import dataclasses
import math

import numpy as np

from ._errors import ProfileError


def _frozen_array(values, dtype, what):
    try:
        arr = np.array(values, dtype=dtype, copy=True).ravel()
    except (TypeError, ValueError):
        raise ProfileError(f"{what}: not a sequence of numbers") from None
    arr.flags.writeable = False
    return arr


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ProfileError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True, eq=False)
class ServiceSamples:
    """Service times of one batch of ``batch`` queries on one replica that uses ``threads``
    cores: every measured value, not only a percentile (the tail-quality predictor needs the
    whole distribution)."""

    batch: int
    threads: int
    seconds: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "batch", _positive_int(self.batch, "service samples: batch"))
        object.__setattr__(self, "threads", _positive_int(self.threads, "service samples: threads"))
        s = _frozen_array(self.seconds, np.float64, f"service samples (batch {self.batch})")
        if s.size == 0:
            raise ProfileError(f"service samples at batch {self.batch}, threads {self.threads}: "
                               "none given; profile the variant at this batch size first")
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ProfileError(f"service samples at batch {self.batch}, threads {self.threads}: "
                               "every service time must be a positive, finite number of seconds")
        object.__setattr__(self, "seconds", s)

    @property
    def mean_s(self):
        return float(self.seconds.mean())

    @property
    def p99_s(self):
        """The p99 of a batch's service time (package convention, linear interpolation)."""
        return float(np.percentile(self.seconds, 99.0))

    @property
    def scv(self):
        """Squared coefficient of variation Var(S)/E[S]², which the waiting-time law uses."""
        m = self.seconds.mean()
        return float(self.seconds.var() / (m * m))

    @property
    def throughput_qps(self):
        """Queries per second one replica completes when always busy: batch / mean service."""
        return self.batch / self.mean_s


@dataclasses.dataclass(frozen=True)
class CapacityPoint:
    """The largest Server-scenario QPS whose p99 latency stayed ≤ ``slo_s`` with ``cores``
    cores given to the variant (LoadGen's FindPeakPerformance mode finds it)."""

    cores: int
    qps: float
    slo_s: float

    def __post_init__(self):
        object.__setattr__(self, "cores", _positive_int(self.cores, "capacity point: cores"))
        for name in ("qps", "slo_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.floating)) or not math.isfinite(v) or v < 0:
                raise ProfileError(f"capacity point: {name} must be a finite number ≥ 0, got {v!r}")
        if self.slo_s <= 0:
            raise ProfileError(f"capacity point: slo_s must be positive, got {self.slo_s!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class VariantProfile:
    """One model variant of one pipeline stage.

    ``accuracy`` is the variant's quality with no time limit; give it, or give ``correct``
    (one score in [0, 1] per dataset sample: a boolean, or a fraction for metrics that give
    partial credit) and it is their mean. ``load_time_s`` is the time to
    (re)load the variant, which InfAdapter's reload cost weighs.
    """

    name: str
    service: tuple
    accuracy: float = None
    correct: np.ndarray = None
    stage: str = "main"
    capacity: tuple = ()
    load_time_s: float = 0.0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ProfileError(f"variant profile: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.stage, str) or not self.stage:
            raise ProfileError(f"variant {self.name!r}: stage must be a non-empty string")
        service = tuple(self.service)
        if not service or not all(isinstance(s, ServiceSamples) for s in service):
            raise ProfileError(f"variant {self.name!r}: service must be one or more ServiceSamples")
        keys = [(s.batch, s.threads) for s in service]
        if len(set(keys)) != len(keys):
            raise ProfileError(f"variant {self.name!r}: two service profiles for the same "
                               "(batch, threads); merge their samples into one")
        object.__setattr__(self, "service", tuple(sorted(service, key=lambda s: (s.threads, s.batch))))
        correct = None
        if self.correct is not None:
            correct = _frozen_array(self.correct, np.float64, f"variant {self.name!r}: correct")
            if correct.size == 0:
                raise ProfileError(f"variant {self.name!r}: correct is empty")
            if not np.all((correct >= 0) & (correct <= 1)):
                raise ProfileError(f"variant {self.name!r}: correct must hold per-sample scores "
                                   "in [0, 1] (booleans or fractions)")
        object.__setattr__(self, "correct", correct)
        acc = self.accuracy
        if acc is None:
            if correct is None:
                raise ProfileError(f"variant {self.name!r}: give accuracy or per-sample correct")
            acc = float(correct.mean())
        if isinstance(acc, bool) or not isinstance(acc, (int, float, np.floating)) \
                or not 0.0 <= acc <= 1.0:
            raise ProfileError(f"variant {self.name!r}: accuracy must lie in [0, 1], got {acc!r}")
        if correct is not None and abs(acc - correct.mean()) > 1e-9:
            raise ProfileError(f"variant {self.name!r}: accuracy {acc} differs from the mean of "
                               f"correct ({correct.mean():.6f}); give one of them")
        object.__setattr__(self, "accuracy", float(acc))
        capacity = tuple(self.capacity)
        if not all(isinstance(c, CapacityPoint) for c in capacity):
            raise ProfileError(f"variant {self.name!r}: capacity must be CapacityPoint records")
        object.__setattr__(self, "capacity", tuple(sorted(capacity, key=lambda c: (c.slo_s, c.cores))))
        lt = self.load_time_s
        if not isinstance(lt, (int, float, np.floating)) or not math.isfinite(lt) or lt < 0:
            raise ProfileError(f"variant {self.name!r}: load_time_s must be ≥ 0, got {lt!r}")
        object.__setattr__(self, "load_time_s", float(lt))

    def service_at(self, batch, threads):
        """The samples at (batch, threads), or None when that point was not profiled."""
        for s in self.service:
            if s.batch == batch and s.threads == threads:
                return s
        return None

    @property
    def threads_profiled(self):
        return tuple(sorted({s.threads for s in self.service}))

    def batches_profiled(self, threads):
        return tuple(s.batch for s in self.service if s.threads == threads)

    def capacity_at(self, slo_s):
        """Measured capacity points for this SLO (relative tolerance 1e-9), sorted by cores."""
        return tuple(c for c in self.capacity if abs(c.slo_s - slo_s) <= 1e-9 * slo_s)

    def service_quality(self, tau_s, threads=1):
        """q(τ) = P(correct ∧ service ≤ τ) of one query served alone (batch 1): the variant's
        tail quality with no waiting. Correctness and service time are taken as independent
        (the profile does not pair them sample by sample)."""
        s = self.service_at(1, threads)
        if s is None:
            raise ProfileError(f"variant {self.name!r}: no batch-1 profile at {threads} threads")
        return self.accuracy * float(np.mean(s.seconds <= tau_s))


def group_by_stage(profiles):
    """``{stage: [profiles in the order given]}``, refusing two profiles of one variant in a stage."""
    out = {}
    for p in profiles:
        if not isinstance(p, VariantProfile):
            raise ProfileError(f"expected VariantProfile records, got {type(p).__name__}")
        stage = out.setdefault(p.stage, [])
        if any(q.name == p.name for q in stage):
            raise ProfileError(f"stage {p.stage!r}: two profiles named {p.name!r}")
        stage.append(p)
    return out
