"""``plain-kde``: the no-pooling baseline — each sample's own Gaussian KDE in linear time.

Silverman bandwidth on the sample's own spread (floored at the timer's resolution), the
variance-preserving smoothed bootstrap, reflected at zero (|x|), no run-level component.
Draws are quantile-coupled like the other models': a uniform picks the component at the
same *sorted* position of the sample's observations and the kernel's normal deviate from
the rest of the same uniform, so a refit moves each draw a little.
"""

import dataclasses

import numpy as np
from scipy import special

from ._fitting import SQRT12


@dataclasses.dataclass(frozen=True)
class PlainKDEModel:
    obs: np.ndarray        # (N, R) latencies sorted per sample, NaN (last) where missing
    bandwidth: np.ndarray  # (N,)
    mean: np.ndarray       # (N,)
    sd: np.ndarray         # (N,) ML standard deviation (ddof=0): the smoothed bootstrap keeps it
    fail_prob: np.ndarray
    run_dims = 0
    run_level = False

    @property
    def n_samples(self):
        return self.obs.shape[0]

    def describe(self):
        return {"model": "plain-kde", "space": "linear",
                "pooled": "nothing: each sample's own KDE",
                "coupling": "quantile coupling: sorted component position and kernel deviate",
                "negative_latencies": "reflected at zero", "run_level_component": False}

    def shift_standard_error(self):
        return 0.0

    def plug_in(self):
        return self

    def run_state(self, u, u_group=None):
        return {"delta": np.zeros(u.shape[0]), "rate": None}

    def _parts(self, r0, r1):
        x = self.obs[r0:r1]
        m, s, h = self.mean[r0:r1, None], self.sd[r0:r1, None], self.bandwidth[r0:r1, None]
        ratio = np.divide(h * h, s * s, out=np.zeros_like(h), where=s > 0)
        shrink = 1.0 / np.sqrt(1.0 + ratio)
        return x, m, h * shrink, shrink

    def draw_log_latency(self, r0, r1, state, u_body, u_stall=None):
        x, m, h, shrink = self._parts(r0, r1)
        k = np.sum(np.isfinite(x), axis=1)
        pos = u_body * np.maximum(k, 1)[:, None]
        j = np.minimum(np.floor(pos).astype(np.int64), np.maximum(k - 1, 0)[:, None])
        frac = np.clip(pos - j, 1e-12, 1 - 1e-12)
        centre = np.take_along_axis(np.nan_to_num(x), j, axis=1)
        lat = np.abs(m + (centre - m) * shrink + h * special.ndtri(frac))
        with np.errstate(divide="ignore"):
            y = np.log(lat)
        y[k == 0] = np.inf
        return y

    def cell_cdf(self, r0, r1, state, log_thetas):
        x, m, h, shrink = self._parts(r0, r1)
        centre = m + (x - m) * shrink                                 # (n, R), NaN missing
        theta = np.exp(log_thetas)[None, :, None]
        hh = np.maximum(h, 1e-300)[:, :, None]
        c = centre[:, None, :]
        both = special.ndtr((theta - c) / hh) - special.ndtr((-theta - c) / hh)
        k = np.sum(np.isfinite(x), axis=1)
        p = np.divide(np.nansum(both, axis=2), np.maximum(k, 1)[:, None])   # (n, T)
        return np.broadcast_to(p[:, :, None], p.shape + (state["delta"].size,))

    def sample(self, n_passes, seed):
        from ._predict import draw_latencies

        return draw_latencies(self, n_passes, seed)


def fit_plain_kde(latency, ok, sizes=None, *, resolution=1.0, **_):
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency)
    obs = np.where(ok, latency, np.nan)
    n, r = obs.shape
    k = ok.sum(axis=1)
    filled = np.where(ok, latency, 0.0)
    mean = np.divide(filled.sum(axis=1), np.maximum(k, 1))
    sd = np.sqrt(np.divide((np.where(ok, latency - mean[:, None], 0.0) ** 2).sum(axis=1),
                           np.maximum(k, 1)))
    srt = np.sort(obs, axis=1)                      # NaN last
    q75, q25 = _row_percentile(srt, k, 0.75), _row_percentile(srt, k, 0.25)
    sd1 = sd * np.sqrt(np.divide(k, np.maximum(k - 1, 1)))
    spread = np.where(q75 > q25, np.minimum(sd1, (q75 - q25) / 1.34), sd1)
    bw = 0.9 * spread * np.maximum(k, 1) ** -0.2
    bw = np.maximum(bw, resolution / SQRT12)
    return PlainKDEModel(obs=srt, bandwidth=bw, mean=mean, sd=sd, fail_prob=1.0 - k / max(r, 1))


def _row_percentile(srt, k, p):
    """Linear percentile of each row's first k values (rows sorted, NaN last); 0 if none."""
    pos = p * np.maximum(k - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
    filled = np.nan_to_num(srt)
    a = np.take_along_axis(filled, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(filled, hi[:, None], axis=1)[:, 0]
    return np.where(k > 0, a + (pos - lo) * (b - a), 0.0)
