"""Service time per (variant, threads, batch): measured where profiled, filled where not.

IPA fills batch sizes it did not profile with a quadratic fit of the profiled latencies in the
batch size (a linear fit where the quadratic goes negative), and only between the smallest and
largest profiled batch. We do the same for the p99 (the latency constraint) and for the mean
(the throughput, batch / mean). The tail-quality predictor needs samples, not one number: for a
filled batch size it takes the samples of the nearest profiled batch (in log batch size) scaled
so that their mean is the fitted mean [ours].
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class BatchProfile:
    variant: str
    stage: str
    threads: int
    batch: int
    p99_s: float          # p99 of one batch's service time
    mean_s: float         # mean of one batch's service time
    samples: np.ndarray   # service-time samples of one batch (read-only; scaled when fitted)
    fitted: bool          # True when filled by the fit rather than measured

    @property
    def throughput_qps(self):
        """Queries per second of one replica that is always busy."""
        return self.batch / self.mean_s

    @property
    def scv(self):
        m = self.samples.mean()
        return float(self.samples.var() / (m * m))


def _fit(xs, ys, x):
    """IPA's fill: degree-2 least squares (degree 1 with two points); linear if it goes ≤ 0."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if xs.size >= 3:
        y = float(np.polyval(np.polyfit(xs, ys, 2), x))
        if y > 0:
            return y
    y = float(np.polyval(np.polyfit(xs, ys, 1), x))
    return y if y > 0 else None


def batch_profiles(profile, threads, batch_sizes):
    """``{batch: BatchProfile}`` for the requested batch sizes that are measured or can be filled."""
    measured = {s.batch: s for s in profile.service if s.threads == threads}
    out = {}
    if not measured:
        return out
    bs = np.array(sorted(measured), dtype=np.float64)
    p99 = [measured[b].p99_s for b in sorted(measured)]
    mean = [measured[b].mean_s for b in sorted(measured)]
    for b in batch_sizes:
        if b in measured:
            s = measured[b]
            out[b] = BatchProfile(profile.name, profile.stage, threads, b, s.p99_s, s.mean_s,
                                  s.seconds, False)
            continue
        if bs.size < 2 or not bs[0] < b < bs[-1]:
            continue  # no extrapolation: outside the profiled range nothing is known
        fp99, fmean = _fit(bs, p99, b), _fit(bs, mean, b)
        if fp99 is None or fmean is None:
            continue
        near = min(measured, key=lambda m: (abs(np.log(m) - np.log(b)), m))
        base = measured[near].seconds
        samples = base * (fmean / base.mean())
        samples.flags.writeable = False
        out[b] = BatchProfile(profile.name, profile.stage, threads, b, fp99, fmean, samples, True)
    return out
