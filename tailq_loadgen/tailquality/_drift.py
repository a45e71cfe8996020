"""Is the run stationary? The prediction assumes later passes look like earlier ones.

Two per-pass statistics are watched: the *shift* (median of each sample's centred
log-latency: is the pass slower as a whole?) and the *tail mass* (the fraction of samples
above the run's 90th percentile of centred log-latency: does the pass have more stalls?). A
machine can keep its median and still move its tail: on a 2-vCPU VM the digits harness kept
its median within 2% while its tail mass went from 25% to 4% of samples in one process.

Tests: a Spearman trend of each statistic against pass order (a steady drift), and a
Kruskal–Wallis test across blocks of consecutive passes (a change that comes and goes, which
a trend test misses). Passes that are merely noisy (stalls in bursts, independent between
passes) are exchangeable, so neither test fires on them.
"""

import dataclasses

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class DriftCheck:
    passes: int
    slope_per_pass: float      # relative change of the pass's median latency per pass
    spearman_rho: float
    p_value: float             # the shift's trend test
    drifting: bool
    message: str
    tail_mass_block_means: tuple = ()  # tail mass per block of consecutive passes
    tail_mass_p_value: float = float("nan")   # smallest p of the tail mass's two tests
    shift_blocks_p_value: float = float("nan")

    def as_dict(self):
        return dataclasses.asdict(self)


def _blocks(r, min_per_block=4, max_blocks=5):
    b = min(max_blocks, r // min_per_block)
    return np.array_split(np.arange(r), b) if b >= 2 else []


def _kruskal(values, blocks):
    groups = [values[i] for i in blocks]
    if len(groups) < 2 or np.ptp(values) == 0:
        return 1.0
    return float(stats.kruskal(*groups).pvalue)


def drift_check(latency, ok, alpha=0.01, min_relative_change=0.005, min_tail_change=0.02,
                min_block_shift=0.01):
    """Trend and block tests of the per-pass shift and tail mass against pass order.

    Flags drift when a test is significant at ``alpha`` (Bonferroni over the four tests)
    *and* the change is material: a trend of at least ``min_relative_change`` per pass or
    blocks whose shifts differ by ``min_block_shift`` (relative latency), or blocks whose tail
    masses differ by ``min_tail_change`` (a real but negligible change is not a warning).
    """
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency) & (latency > 0)
    r = latency.shape[1]
    if r < 4:
        return DriftCheck(r, float("nan"), float("nan"), float("nan"), False,
                          "fewer than 4 passes: drift not tested")
    y = np.log(np.where(ok, latency, np.nan))
    centred = y - np.nanmean(y, axis=1, keepdims=True)
    shift = np.nan_to_num(np.nanmedian(centred, axis=0))
    cut = np.nanpercentile(centred, 90)
    tail = np.sum(np.nan_to_num(centred, nan=-np.inf) > cut, axis=0) / np.maximum(ok.sum(axis=0), 1)
    passes = np.arange(r)
    each = alpha / 4
    rho, p = stats.spearmanr(passes, shift) if np.ptp(shift) > 0 else (0.0, 1.0)
    slope = float(np.expm1(np.polyfit(passes, shift, 1)[0]))
    _, p_tail_trend = stats.spearmanr(passes, tail) if np.ptp(tail) > 0 else (0.0, 1.0)
    blocks = _blocks(r)
    p_shift_blocks, p_tail_blocks = _kruskal(shift, blocks), _kruskal(tail, blocks)
    tail_means = tuple(round(float(tail[b].mean()), 4) for b in blocks)
    shift_means = [float(shift[b].mean()) for b in blocks]
    reasons = []
    if p < each and abs(slope) >= min_relative_change:
        reasons.append(f"latency drifts {slope * 100:+.2f}% per pass (Spearman ρ={rho:.2f}, p={p:.2g})")
    if p_shift_blocks < each and shift_means and np.expm1(np.ptp(shift_means)) >= min_block_shift:
        reasons.append(f"blocks of passes differ in latency by {np.expm1(np.ptp(shift_means)) * 100:.1f}% "
                       f"(Kruskal–Wallis p={p_shift_blocks:.2g})")
    p_tail = min(p_tail_trend, p_tail_blocks)
    tail_change = np.ptp(tail_means) if tail_means else abs(tail[-1] - tail[0])
    if p_tail < each and tail_change >= min_tail_change:
        reasons.append("the share of slow samples changes across the run: "
                       + (", ".join(f"{m * 100:.1f}%" for m in tail_means) + " in successive blocks"
                          if tail_means else "trend") + f" (p={p_tail:.2g})")
    drifting = bool(reasons)
    msg = ("; ".join(reasons) + "; the prediction assumes stationary passes" if drifting else
           f"no drift across {r} passes (shift ρ={rho:.2f}, p={p:.2g}; tail-mass p={p_tail:.2g})")
    return DriftCheck(r, slope, float(rho), float(p), drifting, msg, tail_means, float(p_tail),
                      float(p_shift_blocks))
