"""Latencies from a known model, for calibration tests and benchmarks.

Per sample i (size s_i): log L_ir = μ_i + δ_r + σ_i ε_ir with μ_i = log(base·(1 + slope·s_i)),
σ_i = σ0 + σ1·s_i (size-dependent scale), ε ~ N(0, 1) or a standardised skewed law, and a
shared per-pass shift δ_r ~ N(0, shift_sd²). Optional stalls multiply a latency by
``spike_factor`` with probability ``spike_rate`` — the same in every pass, or, with
``bursty``, a rate drawn per pass uniformly in [0, 2·spike_rate] (some passes hit far
harder than others, as when stalls come in bursts).
"""

import numpy as np


class TrueModel:
    def __init__(self, n=2000, seed=0, base_ns=5e5, slope=0.1, sigma0=0.08, sigma1=0.008,
                 shift_sd=0.03, accuracy=0.92, skew=False, spike_rate=0.0, spike_factor=3.0,
                 bursty=False):
        rng = np.random.default_rng(seed)
        self.n = n
        self.sizes = rng.integers(1, 17, n).astype(np.float64)
        self.mu = np.log(base_ns * (1 + slope * self.sizes))
        self.sigma = sigma0 + sigma1 * self.sizes
        self.shift_sd = shift_sd
        self.skew = skew
        self.spike_rate, self.spike_factor, self.bursty = spike_rate, spike_factor, bursty
        labels = np.arange(n) % 10
        self.labels = labels
        self.predictions = np.where(rng.random(n) < accuracy, labels, (labels + 1) % 10)
        self.correct = (self.predictions == labels).astype(np.float64)

    def passes(self, r, rng):
        rng = np.random.default_rng(rng)
        shift = rng.normal(0.0, self.shift_sd, r)
        if self.skew:  # standardised Gumbel: right-skewed, unit variance
            eps = (rng.gumbel(size=(self.n, r)) - 0.5772156649) / (np.pi / np.sqrt(6))
        else:
            eps = rng.standard_normal((self.n, r))
        lat = np.exp(self.mu[:, None] + shift[None, :] + self.sigma[:, None] * eps)
        if self.spike_rate:  # occasional stalls, as real systems show
            rate = rng.uniform(0, 2 * self.spike_rate, r) if self.bursty else self.spike_rate
            lat *= np.where(rng.random(lat.shape) < rate, self.spike_factor, 1.0)
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
