"""Is the run stationary? The prediction assumes later passes look like earlier ones."""

import dataclasses

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class DriftCheck:
    passes: int
    slope_per_pass: float      # relative change of the pass's median latency per pass
    spearman_rho: float
    p_value: float
    drifting: bool
    message: str

    def as_dict(self):
        return dataclasses.asdict(self)


def drift_check(latency, ok, alpha=0.01, min_relative_change=0.005):
    """Trend of each pass's log-latency shift against pass order (Spearman test).

    Flags drift when the trend is significant at ``alpha`` *and* the fitted change over the
    run is at least ``min_relative_change`` per pass (a real but negligible trend is not a
    warning).
    """
    latency = np.asarray(latency, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool) & np.isfinite(latency) & (latency > 0)
    r = latency.shape[1]
    if r < 4:
        return DriftCheck(r, float("nan"), float("nan"), float("nan"), False,
                          "fewer than 4 passes: drift not tested")
    y = np.log(np.where(ok, latency, np.nan))
    centred = y - np.nanmean(y, axis=1, keepdims=True)
    shift = np.nanmedian(centred, axis=0)
    passes = np.arange(r)
    rho, p = stats.spearmanr(passes, shift)
    slope = float(np.expm1(np.polyfit(passes, shift, 1)[0]))
    drifting = bool(p < alpha and abs(slope) >= min_relative_change)
    msg = (f"latency drifts across passes: {slope * 100:+.2f}% per pass (Spearman ρ={rho:.2f}, "
           f"p={p:.2g}); the prediction assumes stationary passes" if drifting else
           f"no drift across {r} passes (ρ={rho:.2f}, p={p:.2g})")
    return DriftCheck(r, slope, float(rho), float(p), drifting, msg)
