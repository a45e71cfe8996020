"""Is the run stationary? The prediction assumes later passes look like earlier ones.

Two per-pass series are watched:

* the **shift**: the median over samples of each sample's centred log-latency (is the pass
  slower as a whole?);
* the **stall share**: the share of the pass's samples more than ``STALL_CUT`` robust scales
  above their own level (does the pass stall more?). A machine can keep its median and move
  its tail: on a 2-vCPU VM the digits harness kept its median within 2% while its share of
  stalls went from 1.4% to 4% of samples.

Rank tests, exact under exchangeable passes whatever the law of a pass — so stationary
passes that are merely bursty (one pass stalls far more than the next, independently) raise
no alarm, and overdispersion needs no model:

* Bartels' rank version of von Neumann's ratio, RVN = Σ(R_i − R_{i+1})² / Σ(R_i − R̄)²
  (one-sided, small RVN), on both series: neighbouring passes more alike than chance — a
  random walk, a slow wander, a step or a steady trend;
* Spearman's ρ against pass order (two-sided) on the stall share, where a steady trend in a
  noisy share is found sooner by ρ than by RVN. (The shift's ρ is reported, not tested: a
  trend in the shift is what RVN sees best.)

p-values come from 20,000 permutations of the series drawn with a fixed seed (deterministic;
exact-in-law at any number of passes). Drift is flagged when a test is significant at
``alpha`` (1%, Bonferroni over the three) *and* the change is material: block means of the
shift that differ by ≥ ``min_shift`` (relative latency) or of the stall share by ≥
``min_stall`` (absolute) and ≥ half the mean share. Power and false-alarm rate from
simulation: docs/analysis.md.
"""

import dataclasses

import numpy as np

STALL_CUT = 3.5
PERMUTATIONS = 20000
_PERM_SEED = 20240611


@dataclasses.dataclass(frozen=True)
class DriftCheck:
    passes: int
    slope_per_pass: float       # relative change of the pass's median latency per pass
    spearman_rho: float         # shift against pass order
    p_value: float              # smallest p of the shift's two tests
    drifting: bool
    message: str
    shift_von_neumann: float = float("nan")   # Bartels' RVN of the shifts (2 when exchangeable)
    shift_p_values: dict = None               # {"von_neumann": p, "trend": p}
    stall_share_per_pass: tuple = ()
    stall_p_values: dict = None
    shift_block_means: tuple = ()             # relative latency of blocks of consecutive passes
    stall_block_means: tuple = ()
    tail_mass_block_means: tuple = ()         # = stall_block_means (older name)

    def as_dict(self):
        return dataclasses.asdict(self)


def _blocks(r, min_per_block=4, max_blocks=5):
    b = min(max_blocks, r // min_per_block)
    return np.array_split(np.arange(r), b) if b >= 2 else [np.arange(r)]


def _ranks(x):
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    # average ranks for ties
    vals, inv = np.unique(x, return_inverse=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / np.bincount(inv))[inv]


def _perm_tests(x, perms):
    """(RVN, p one-sided small, ρ, p two-sided) of series x by permutation."""
    r = _ranks(np.asarray(x, dtype=np.float64))
    if np.ptp(r) == 0:
        return 2.0, 1.0, 0.0, 1.0
    rc = r - r.mean()
    denom = np.sum(rc ** 2)
    p = rc[perms]                                         # (B, n)
    rvn_null = np.sum(np.diff(p, axis=1) ** 2, axis=1) / denom
    rvn = float(np.sum(np.diff(rc) ** 2) / denom)
    t = np.arange(r.size) - (r.size - 1) / 2
    t_norm = np.sqrt(np.sum(t ** 2))
    rho_null = (p @ t) / (np.sqrt(denom) * t_norm)
    rho = float(rc @ t / (np.sqrt(denom) * t_norm))
    b = perms.shape[0]
    p_rvn = (1 + np.sum(rvn_null <= rvn + 1e-12)) / (b + 1)
    p_rho = (1 + np.sum(np.abs(rho_null) >= abs(rho) - 1e-12)) / (b + 1)
    return rvn, float(p_rvn), rho, float(p_rho)


def pass_series(latency, ok):
    """Per-pass shift (median centred log-latency) and stall share, from the raw matrices."""
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency) & (latency > 0)
    y = np.log(np.where(ok, latency, np.nan))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level = np.nanmedian(y, axis=1, keepdims=True)
            centred = y - level
            shift = np.nan_to_num(np.nanmedian(centred, axis=0))
            resid = centred - shift[None, :]
            scale = 1.4826 * np.nanmedian(np.abs(resid))
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    stalls = np.nan_to_num(resid, nan=-np.inf) > STALL_CUT * scale
    share = stalls.sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    return shift, share


def drift_check(latency, ok, alpha=0.01, min_shift=0.005, min_stall=0.005):
    """Rank tests of the per-pass shift and stall share against pass order (module docstring)."""
    r = np.asarray(latency).shape[1]
    if r < 4:
        return DriftCheck(r, float("nan"), float("nan"), float("nan"), False,
                          "fewer than 4 passes: drift not tested")
    shift, share = pass_series(latency, ok)
    perms = np.argsort(np.random.default_rng(_PERM_SEED).random((PERMUTATIONS, r)), axis=1)
    s_rvn, s_p_rvn, s_rho, s_p_rho = _perm_tests(shift, perms)
    f_rvn, f_p_rvn, f_rho, f_p_rho = _perm_tests(share, perms)
    each = alpha / 3
    blocks = _blocks(r)
    shift_means = tuple(round(float(np.expm1(shift[b].mean())), 5) for b in blocks)
    stall_means = tuple(round(float(share[b].mean()), 5) for b in blocks)
    shift_change = float(np.ptp(np.log1p(shift_means))) if len(blocks) > 1 else \
        abs(float(shift[-1] - shift[0]))
    stall_change = float(np.ptp(stall_means)) if len(blocks) > 1 else abs(float(share[-1] - share[0]))
    slope = float(np.expm1(np.polyfit(np.arange(r), shift, 1)[0]))
    reasons = []
    if s_p_rvn < each and np.expm1(shift_change) >= min_shift:
        how = ("drifts " + f"{slope * 100:+.2f}% per pass" if s_p_rho < each
               else "wanders from pass to pass (neighbouring passes alike)")
        reasons.append(f"latency {how}: blocks of passes at "
                       + ", ".join(f"{m * 100:+.1f}%" for m in shift_means)
                       + f" (von Neumann p={s_p_rvn:.2g}, trend p={s_p_rho:.2g})")
    if min(f_p_rvn, f_p_rho) < each and stall_change >= max(min_stall, 0.5 * float(share.mean())):
        reasons.append("the share of stalled samples changes across the run: "
                       + ", ".join(f"{m * 100:.1f}%" for m in stall_means)
                       + f" in successive blocks (von Neumann p={f_p_rvn:.2g}, trend p={f_p_rho:.2g})")
    drifting = bool(reasons)
    msg = ("; ".join(reasons) + "; the prediction assumes stationary passes" if drifting else
           f"no drift across {r} passes (shift: von Neumann p={s_p_rvn:.2g}, trend p={s_p_rho:.2g}; "
           f"stall share: von Neumann p={f_p_rvn:.2g}, trend p={f_p_rho:.2g})")
    return DriftCheck(r, slope, s_rho, min(s_p_rvn, s_p_rho), drifting, msg, s_rvn,
                      {"von_neumann": s_p_rvn, "trend": s_p_rho},
                      tuple(round(float(v), 6) for v in share),
                      {"von_neumann": f_p_rvn, "trend": f_p_rho}, shift_means, stall_means,
                      stall_means)
