"""Latencies from a known process, for calibration tests and benchmarks.

Per sample i (size s_i): log L_ir = μ_i + δ_r + σ_i ε_ir with μ_i = log(base·(1 + slope·s_i)),
σ_i = σ0 + σ1·s_i (size-dependent scale), ε ~ N(0, 1) or a standardised skewed law, and a
run-level shift δ_r ~ N(0, shift_sd²) per pass (plus, with ``walk_sd``, a random walk of that
step: drift). Optional tails:

* ``spike_rate``/``spike_factor``: a latency is multiplied by the factor with that
  probability — the same in every pass, or, with ``bursty``, at a rate drawn per pass
  uniformly in [0, 2·spike_rate];
* ``stall_rate``/``stall_ns``: additive stalls of log-uniform length in ``stall_ns``
  (ns), as CPU preemptions are. ``burst``: the mean number of consecutively issued samples
  one stall event hits (issue order is a fresh permutation per pass), so the per-pass stall
  count is overdispersed; ``stall_trend`` = (first, last): the rate moves linearly from
  first to last across the passes of one call (drift);
* ``cluster``: that share of the samples are identical (one size, one location) and sit at
  ``cluster_level`` × the base latency — a block of equal samples at a threshold.
"""

import numpy as np


class TrueModel:
    def __init__(self, n=2000, seed=0, base_ns=5e5, slope=0.1, sigma0=0.08, sigma1=0.008,
                 shift_sd=0.03, accuracy=0.92, skew=False, spike_rate=0.0, spike_factor=3.0,
                 bursty=False, walk_sd=0.0, stall_rate=0.0, stall_ns=(1e6, 2e7), burst=1.0,
                 stall_trend=None, cluster=0.0, cluster_level=1.0, sizes=None):
        rng = np.random.default_rng(seed)
        self.n = n
        self.sizes = (rng.integers(1, 17, n).astype(np.float64) if sizes is None
                      else np.full(n, float(sizes)))
        self.mu = np.log(base_ns * (1 + slope * self.sizes))
        self.sigma = sigma0 + sigma1 * self.sizes
        if cluster:
            members = rng.random(n) < cluster
            self.mu[members] = np.log(base_ns * cluster_level)
            self.sigma[members] = sigma0
            self.sizes[members] = 0.0
        self.shift_sd, self.walk_sd = shift_sd, walk_sd
        self.skew = skew
        self.spike_rate, self.spike_factor, self.bursty = spike_rate, spike_factor, bursty
        self.stall_rate, self.stall_ns, self.burst = stall_rate, stall_ns, burst
        self.stall_trend = stall_trend
        labels = np.arange(n) % 10
        self.labels = labels
        self.predictions = np.where(rng.random(n) < accuracy, labels, (labels + 1) % 10)
        self.correct = (self.predictions == labels).astype(np.float64)

    def _stalls(self, r, rng):
        """(n, r) additive stall times (0 where none)."""
        n = self.n
        rates = (np.linspace(*self.stall_trend, r) if self.stall_trend is not None
                 else np.full(r, self.stall_rate))
        out = np.zeros((n, r))
        lo, hi = np.log(self.stall_ns[0]), np.log(self.stall_ns[1])
        if self.burst <= 1:  # independent stalls: one draw per cell
            hit = rng.random((n, r)) < rates[None, :]
            out[hit] = np.exp(rng.uniform(lo, hi, int(hit.sum())))
            return out
        for j in range(r):
            events = rng.poisson(rates[j] * n / self.burst)
            if not events:
                continue
            order = rng.permutation(n)                     # this pass's issue order
            starts = rng.integers(0, n, events)
            lengths = rng.geometric(1 / self.burst, events)
            hit = np.concatenate([order[s:s + length] for s, length in zip(starts, lengths)])
            out[hit, j] = np.exp(rng.uniform(lo, hi, hit.size))
        return out

    def passes(self, r, rng):
        rng = np.random.default_rng(rng)
        shift = rng.normal(0.0, self.shift_sd, r)
        if self.walk_sd:
            shift = shift + np.cumsum(rng.normal(0.0, self.walk_sd, r))
        if self.skew:  # standardised Gumbel: right-skewed, unit variance
            eps = (rng.gumbel(size=(self.n, r)) - 0.5772156649) / (np.pi / np.sqrt(6))
        else:
            eps = rng.standard_normal((self.n, r))
        lat = np.exp(self.mu[:, None] + shift[None, :] + self.sigma[:, None] * eps)
        if self.spike_rate:  # occasional stalls, as real systems show
            rate = rng.uniform(0, 2 * self.spike_rate, r) if self.bursty else self.spike_rate
            lat *= np.where(rng.random(lat.shape) < rate, self.spike_factor, 1.0)
        if self.stall_rate or self.stall_trend is not None:
            lat += self._stalls(r, rng)
        return lat

    def exact_tq(self, thetas, passes=20000, rng=12345, chunk=1000):
        """The true tail-quality distribution at each θ by direct simulation: (T, passes)."""
        rng = np.random.default_rng(rng)
        out = np.empty((len(thetas), passes))
        for start in range(0, passes, chunk):
            lat = self.passes(min(chunk, passes - start), rng)
            for t, theta in enumerate(thetas):
                out[t, start:start + lat.shape[1]] = (self.correct @ (lat <= theta)) / self.n
        return out


def tiny_cnn(n=1000, seed=0, **kwargs):
    """A tiny CNN on a noisy VM: median 60 µs, p90 ≈ 10% above it, ~1.5% of samples stalling
    for 1–20 ms in bursts of ~3 consecutive queries, a 1% pass shift."""
    opts = dict(n=n, seed=seed, base_ns=6e4, slope=0.0, sigma0=0.075, sigma1=0.0, shift_sd=0.01,
                stall_rate=0.015, stall_ns=(1e6, 2e7), burst=3.0, sizes=8)
    opts.update(kwargs)
    return TrueModel(**opts)


class TrueLaw:
    """A 'model' that is the process itself, for the comparison checks' calibration: it
    answers ``predict`` through the same engine interface with the true process's passes.
    Only what ``tailquality.predict`` needs is implemented (draws, no conditional laws)."""

    def __init__(self, process):
        self.process = process
        self.n_samples = process.n
        self.fail_prob = np.zeros(process.n)
        self.run_dims = 1
        self.has_stalls = False

    def run_state(self, u, u_group=None):
        # one seed per chunk of synthetic passes, from its first run-level uniform: the
        # chunk's passes are fresh passes of the true process
        return {"seed": int(u[0, 0] * 2 ** 62), "passes": u.shape[0]}

    def draw_log_latency(self, r0, r1, state, u_body, u_stall=None):
        return np.log(self.process.passes(state["passes"], state["seed"])[r0:r1])

    def shift_standard_error(self):
        return 0.0
