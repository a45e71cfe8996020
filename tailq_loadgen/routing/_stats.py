"""Statistics of simulated and measured routing runs: batch means, the target check, Erlang C."""

import dataclasses
import math

import numpy as np
from scipy import stats

DEFAULT_BATCHES = 20
DEFAULT_ALPHA = 1e-4  # a policy that meets its target is called a miss once in 10,000 runs


def batch_means(values, batches=DEFAULT_BATCHES):
    """``(mean, standard_error)`` from ``batches`` consecutive batch means.

    Jobs in a queue are correlated; means of long consecutive batches are nearly independent,
    so their spread gives an honest standard error (calibrated in tests/test_routing_sim.py).
    """
    x = np.asarray(values, dtype=np.float64)
    if batches < 2 or x.size < batches:
        raise ValueError(f"batch means need at least {batches} values, got {x.size}")
    usable = x.size - x.size % batches
    means = x[x.size - usable:].reshape(batches, -1).mean(axis=1)
    return float(x.mean()), float(means.std(ddof=1) / math.sqrt(batches))


@dataclasses.dataclass(frozen=True)
class QualityCheck:
    """Did a run's realised quality meet the target, within its sampling error?

    A miss is called when the one-sided upper confidence bound (level 1 − ``alpha``, batch
    means with a t quantile) lies below the target: a policy whose true quality equals the
    target is called a miss with probability ``alpha``.
    """

    quantity: str
    target: float
    realised: float
    standard_error: float
    upper_bound: float
    alpha: float
    batches: int
    met: bool

    def as_dict(self):
        return dataclasses.asdict(self)


def quality_check(flags, target, quantity="accuracy", batches=DEFAULT_BATCHES, alpha=DEFAULT_ALPHA):
    """Check per-job 0/1 outcomes (correct, or correct and on time) against ``target``."""
    mean, se = batch_means(np.asarray(flags, dtype=np.float64), batches)
    upper = mean + stats.t.ppf(1 - alpha, batches - 1) * se
    return QualityCheck(quantity=quantity, target=float(target), realised=mean, standard_error=se,
                        upper_bound=float(upper), alpha=alpha, batches=batches,
                        met=bool(upper >= target))


def erlang_c_wait(servers, rate, load):
    """Exact mean waiting time in M/M/c: c servers of rate μ, Poisson arrivals at λ < c·μ.

    Erlang B by its stable recursion B_k = a·B_{k−1}/(k + a·B_{k−1}), a = λ/μ; then
    C = B/(1 − ρ(1 − B)) and W_q = C/(c·μ − λ).
    """
    c, mu, lam = int(servers), float(rate), float(load)
    if not (c >= 1 and mu > 0 and 0 < lam < c * mu):
        raise ValueError(f"M/M/c needs c ≥ 1, μ > 0 and 0 < λ < c·μ; got c={c}, μ={mu}, λ={lam}")
    a = lam / mu
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    erlang_c = b / (1 - rho * (1 - b))
    return erlang_c / (c * mu - lam)
