"""The analytic tail-quality predictor: latency at a load, queueing and batching wait included.

Model [ours, standard approximations]. A stage (or a variant's pool) has ``k`` identical
servers, each serving one batch of ``b`` queries at a time, FCFS from one queue; queries
arrive as a Poisson stream of rate λ.

* **Batch-formation wait.** A batch leaves the batcher when its b-th query arrives (no
  timeout). A query is equally likely to hold any of the b places, so it waits for the
  b − j later arrivals: Gamma(b − j, λ), j uniform on 1…b (mean (b − 1)/(2λ); IPA's
  constraint uses the first query's (b − 1)/λ).
* **Queueing wait** of a batch: batches arrive at rate λ/b (Erlang-b gaps, squared
  coefficient of variation c_a² = 1/b) at a G/G/k queue with the profiled batch service time
  S (mean m, c_s²). P(wait) is Erlang C with offered load a = λm/b; given a wait, it is
  exponential with the Allen–Cunneen mean: P(W > t) = C(k, a)·exp(−θt),
  θ = 2(k/m − λ/b)/(c_a² + c_s²). Exact for M/M/k (c_a² = c_s² = 1); the mean is exact for
  M/D/1.
* **Sojourn** = formation wait + queueing wait + service, taken as independent, with the
  service-time *samples* themselves (not a fitted law). Stages of a pipeline are independent
  and each sees Poisson arrivals at the pipeline's rate (IPA's model too).
* **Tail quality at τ** = P(correct) · P(latency ≤ τ): correctness is taken as independent
  of latency (profiles do not pair them sample by sample).

Distributions live on a grid of step Δ = τ/(J + ½) (J = 2047: bin j holds [(j−½)Δ, (j+½)Δ),
so bins 0…J are exactly [0, τ)); sums of stages are convolutions on the grid (FFT). A grid
that stops at τ is enough to score plans; reporting the p99 extends the same grid further.
"""

import dataclasses
import math

import numpy as np
from scipy import stats

SLO_BINS = 2048                 # bins covering [0, SLO): the scoring grid
MAX_HORIZON_SLOS = 64           # the p99 is reported when it lies below 64 × SLO
PREDICTOR_NAME = "analytic"
PREDICTOR_DESCRIPTION = (
    "analytic: Erlang-C probability of waiting with an exponential (Allen-Cunneen) wait per "
    "stage, batch-formation wait for Poisson arrivals, convolved with the profiled service-time "
    "samples on a grid of SLO/2047.5; stages independent; correctness independent of latency")


def erlang_c(servers, offered):
    """P(an arrival waits) in M/M/k with ``servers`` = k and offered load a = λ·E[S] (arrays
    broadcast). 1 where a ≥ k (unstable). Erlang B by its stable recursion, then C from B."""
    k = np.asarray(servers, dtype=np.int64)
    a = np.asarray(offered, dtype=np.float64)
    k, a = np.broadcast_arrays(k, a)
    b = np.ones(a.shape)
    for j in range(1, int(k.max(initial=0)) + 1):
        step = j <= k
        b = np.where(step, a * b / (j + a * b), b)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = k * b / (k - a * (1.0 - b))
    return np.where(a >= k, 1.0, np.clip(c, 0.0, 1.0))


def wait_law(servers, batch_rate, mean_service, scv_service, scv_arrival):
    """(P(wait), θ) of the queueing wait of a batch; θ = 0 marks an unstable queue."""
    k = np.asarray(servers, dtype=np.float64)
    rate = np.asarray(batch_rate, dtype=np.float64)
    m = np.asarray(mean_service, dtype=np.float64)
    p = erlang_c(servers, rate * m)
    slack = k / m - rate
    theta = np.where(slack > 0, 2.0 * slack / (np.asarray(scv_arrival) + np.asarray(scv_service)), 0.0)
    return p, theta


@dataclasses.dataclass(frozen=True)
class Grid:
    """Bins of width ``delta``; bin j stands for the time j·delta."""

    delta: float
    size: int

    @classmethod
    def for_slo(cls, slo_s, size=SLO_BINS):
        return cls(slo_s / (SLO_BINS - 0.5), size)

    def upper_edges(self):
        return (np.arange(self.size) + 0.5) * self.delta

    def extended(self, horizon_s):
        return Grid(self.delta, max(self.size, int(math.ceil(horizon_s / self.delta + 0.5))))


def pmf_of_samples(samples, grid):
    """Histogram of samples on the grid (nearest bin); mass beyond the grid is dropped."""
    idx = np.floor(np.asarray(samples) / grid.delta + 0.5).astype(np.int64)
    counts = np.bincount(idx[idx < grid.size], minlength=grid.size)[:grid.size]
    return counts / float(len(samples))


def cdf_of_wait(t, p_wait, theta):
    """P(W ≤ t) for the wait law (arrays broadcast); t < 0 gives 0."""
    t = np.asarray(t, dtype=np.float64)
    p_wait = np.asarray(p_wait, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        tail = np.where(theta > 0, p_wait * np.exp(-theta * np.maximum(t, 0.0)), 1.0)
    return np.where(t < 0, 0.0, 1.0 - tail)


def pmf_of_wait(p_wait, theta, grid):
    """Rows of the wait law's pmf on the grid, one per (p_wait, theta) pair (1-D inputs)."""
    p_wait = np.atleast_1d(np.asarray(p_wait, dtype=np.float64))
    theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    cdf = cdf_of_wait(grid.upper_edges()[None, :], p_wait[:, None], theta[:, None])
    return np.diff(cdf, axis=1, prepend=0.0)


def pmf_of_formation(batch, qps, grid):
    """Batch-formation wait of a query: mixture of Gamma(b − j, λ), j = 1…b, on the grid."""
    if batch == 1:
        out = np.zeros(grid.size)
        out[0] = 1.0
        return out
    edges = grid.upper_edges()
    cdf = np.zeros(grid.size)
    for shape in range(batch):  # shape b − j for j = b … 1
        cdf += 1.0 if shape == 0 else stats.gamma.cdf(edges, a=shape, scale=1.0 / qps)
    return np.diff(cdf / batch, prepend=0.0)


def convolve_rows(a, b, size):
    """Row-wise linear convolutions of two pmf matrices (broadcast rows), truncated to ``size``."""
    n = a.shape[-1] + b.shape[-1] - 1
    nfft = 1 << (n - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(a, nfft) * np.fft.rfft(b, nfft), nfft)[..., :size]
    return np.clip(out, 0.0, None)  # FFT round-off leaves ~1e-17 negatives


@dataclasses.dataclass(frozen=True)
class StageLoad:
    """One stage as the predictor sees it: its batch profile, its servers and its arrival rate."""

    profile: object    # a BatchProfile (samples of one batch's service time, batch size)
    servers: int
    qps: float

    @property
    def utilisation(self):
        return self.qps * self.profile.mean_s / (self.profile.batch * self.servers)

    def wait(self):
        b = self.profile.batch
        return wait_law(self.servers, self.qps / b, self.profile.mean_s, self.profile.scv, 1.0 / b)

    def mean_latency_s(self):
        p, theta = self.wait()
        wait = float(p / theta) if theta > 0 else math.inf
        return (self.profile.batch - 1) / (2.0 * self.qps) + wait + self.profile.mean_s

    def pmf(self, grid):
        p, theta = self.wait()
        out = pmf_of_samples(self.profile.samples, grid)
        out = convolve_rows(out[None, :], pmf_of_wait(p, theta, grid), grid.size)[0]
        if self.profile.batch > 1:
            out = convolve_rows(out[None, :], pmf_of_formation(self.profile.batch, self.qps, grid)[None, :],
                                grid.size)[0]
        return out

    def horizon_s(self):
        """A time that the stage's latency exceeds with probability < 1e-6."""
        p, theta = self.wait()
        wait = math.log(max(float(p), 1e-300) / 1e-6) / float(theta) if p > 1e-6 else 0.0
        form = stats.gamma.ppf(1 - 1e-6, a=self.profile.batch - 1, scale=1.0 / self.qps) \
            if self.profile.batch > 1 else 0.0
        return float(self.profile.samples.max()) + max(wait, 0.0) + float(form)


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What a predictor says of a configuration at its load."""

    tail_quality: float         # P(correct ∧ latency ≤ SLO)
    on_time: float              # P(latency ≤ SLO)
    accuracy: float             # P(correct)
    p99_s: float                # None when unstable or beyond MAX_HORIZON_SLOS × SLO
    mean_latency_s: float       # None when unstable
    stable: bool                # every queue has utilisation < 1
    predictor: str = PREDICTOR_NAME

    def as_dict(self):
        return dataclasses.asdict(self)


def _p99_from_pmf(pmf, grid):
    cdf = np.cumsum(pmf)
    j = int(np.searchsorted(cdf, 0.99))
    return None if j >= grid.size else j * grid.delta


class AnalyticPredictor:
    """The default predictor (see the module docstring). Stateless; safe to share."""

    name = PREDICTOR_NAME
    description = PREDICTOR_DESCRIPTION

    def pipeline(self, stages, slo_s, accuracy):
        """Prediction for stages in series (each a StageLoad) with end-to-end P(correct) = accuracy."""
        if any(s.utilisation >= 1.0 for s in stages):
            return Prediction(0.0, 0.0, accuracy, None, None, False)
        grid = Grid.for_slo(slo_s)
        horizon = min(sum(s.horizon_s() for s in stages), MAX_HORIZON_SLOS * slo_s)
        grid = grid.extended(max(horizon, slo_s))
        total = None
        for s in stages:
            pmf = s.pmf(grid)
            total = pmf if total is None else convolve_rows(total[None, :], pmf[None, :], grid.size)[0]
        on_time = float(total[:SLO_BINS].sum())
        mean = sum(s.mean_latency_s() for s in stages)
        return Prediction(accuracy * on_time, on_time, accuracy, _p99_from_pmf(total, grid), mean, True)

    def variant_set(self, pools, slo_s):
        """Prediction for variants served side by side: ``pools`` is a list of
        (StageLoad, accuracy); a query goes to pool i with probability qps_i / Σ qps."""
        pools = [(s, a) for s, a in pools if s.qps > 0]
        total_qps = sum(s.qps for s, _ in pools)
        accuracy = sum(s.qps * a for s, a in pools) / total_qps
        if any(s.utilisation >= 1.0 for s, _ in pools):
            return Prediction(0.0, 0.0, accuracy, None, None, False)
        horizon = min(max(s.horizon_s() for s, _ in pools), MAX_HORIZON_SLOS * slo_s)
        grid = Grid.for_slo(slo_s).extended(max(horizon, slo_s))
        mix = np.zeros(grid.size)
        tq = 0.0
        for s, a in pools:
            pmf = s.pmf(grid)
            w = s.qps / total_qps
            mix += w * pmf
            tq += w * a * float(pmf[:SLO_BINS].sum())
        on_time = float(mix[:SLO_BINS].sum())
        mean = sum(s.qps / total_qps * s.mean_latency_s() for s, _ in pools)
        return Prediction(tq, on_time, accuracy, _p99_from_pmf(mix, grid), mean, True)


def on_time_single(samples_pmf, servers, qps, mean_s, scv, grid):
    """P(latency ≤ SLO) of batch-1 pools, vectorised over (servers, qps) arrays, given the pool's
    service-time pmf on the scoring grid: Σ_j pmf[j] · P(W ≤ SLO − t_j) (the same number as
    summing the convolved pmf over bins 0…J)."""
    servers = np.asarray(servers)
    qps = np.asarray(qps, dtype=np.float64)
    p, theta = wait_law(servers, qps, mean_s, scv, 1.0)
    slo = (SLO_BINS - 0.5) * grid.delta
    nz = np.flatnonzero(samples_pmf[:SLO_BINS])     # only bins that hold samples contribute
    t = slo - nz * grid.delta
    cdf = cdf_of_wait(t[None, :], p.ravel()[:, None], theta.ravel()[:, None])
    out = cdf @ samples_pmf[nz]
    return np.where(theta.ravel() > 0, out, 0.0).reshape(p.shape)


def capacity_at_slo(profile, servers, slo_s, quantile=0.99):
    """Largest Poisson load (QPS) at which the predicted ``quantile`` of a batch-1 pool's
    latency stays ≤ SLO: the analytic stand-in for a FindPeakPerformance run. 0 when even an
    idle pool misses it. ``servers`` may be an array. Bisection to 1e-9 relative."""
    servers = np.asarray(servers, dtype=np.int64)
    grid = Grid.for_slo(slo_s)
    pmf = pmf_of_samples(profile.samples, grid)
    if pmf[:SLO_BINS].sum() < quantile:
        return np.zeros(servers.shape) if servers.ndim else 0.0
    lo = np.zeros(servers.shape)
    hi = servers / profile.mean_s
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        ok = on_time_single(pmf, servers, mid, profile.mean_s, profile.scv, grid) >= quantile
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        if np.all(hi - lo <= 1e-9 * hi):
            break
    return lo if servers.ndim else float(lo)
