"""Speed and memory of the tail-quality evaluation against the reference code's approach.

10,000 samples × 2,000 synthetic passes × 4 thresholds, accuracy metric. The baseline is a
straightforward reimplementation of the public reference code's approach — a Python loop over
passes and thresholds that builds a validity list per pass — kept here in benchmarks/ only.
Both evaluate the same synthetic latencies and must give the same tail quality. Peak memory
is the VmHWM of a fresh process running our whole analysis step (fit, Monte Carlo, TQ).

    python benchmarks/analysis_speed.py
"""

import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from _simulate import TrueModel  # noqa: E402
from tailq_loadgen import tailquality as tq  # noqa: E402
from tailq_loadgen.metrics import Accuracy  # noqa: E402

N, M, T, R = 10_000, 2_000, 4, 10
REPEATS = 5


def baseline_tq(latency, correct, thetas):
    """The reference code's shape: for each pass and threshold, a validity list, then a sum."""
    n, m = latency.shape
    out = []
    for t in thetas:
        row = []
        for j in range(m):
            col = latency[:, j].tolist()
            valid = [col[i] <= t for i in range(n)]
            row.append(sum(1 for i in range(n) if valid[i] and correct[i]) / n)
        out.append(row)
    return np.array(out)


def ours_tq(latency, metric, thetas):
    valid = latency[None, :, :] <= np.asarray(thetas)[:, None, None]
    return metric.evaluate(valid.transpose(1, 0, 2).reshape(latency.shape[0], -1)).reshape(len(thetas), -1)


def setup():
    tm = TrueModel(n=N, seed=0, stall_rate=0.01)
    lat = tm.passes(R, 1)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    thetas = tq.resolve_thresholds(tq.parse_thresholds("p90,p95,p99,p99.9"), lat.ravel())
    return tm, lat, fit, thetas


def full_analysis_child(checks):
    tm, lat, fit, thetas = setup()
    t0 = time.perf_counter()
    # one refit and M synthetic passes, as the speed target states; with ``checks`` also the
    # jackknife SE, the in-sample check and the hold-out (with its noise floor)
    tq.analyze(lat, np.ones_like(lat, bool), Accuracy(tm.predictions, tm.labels),
               tq.parse_thresholds("p90,p95,p99,p99.9"), sizes=tm.sizes, mc=M, seed=0,
               trace_from=R, self_checks=checks)
    elapsed = time.perf_counter() - t0
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    print(elapsed, hwm)


def main():
    if "--child" in sys.argv:
        full_analysis_child("--checks" in sys.argv)
        return
    tm, lat, fit, thetas = setup()
    metric = Accuracy(tm.predictions, tm.labels)
    synthetic = fit.sample(M, 0)
    # the best of REPEATS, as timeit does: on a shared machine one short run can lose its core
    t_ours = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        ours = ours_tq(synthetic, metric, thetas)
        t_ours = min(t_ours, time.perf_counter() - t0)
    print(f"ours (vectorised TQ over {N}×{M}×{T}, best of {REPEATS}): {t_ours:.3f} s", flush=True)
    t0 = time.perf_counter()
    base = baseline_tq(synthetic, tm.correct.astype(bool).tolist(), thetas)
    t_base = time.perf_counter() - t0
    print(f"baseline (Python loops): {t_base:.1f} s", flush=True)
    same = np.allclose(ours, base, rtol=0, atol=1e-12)
    assert same, "vectorised and baseline tail quality differ"
    steps = []
    for extra in ([], ["--checks"]):
        child = subprocess.run([sys.executable, __file__, "--child"] + extra, capture_output=True,
                               text=True, check=True)
        t_full, hwm = child.stdout.split()
        steps.append((float(t_full), int(hwm)))
        print(f"ours, whole analysis step{' with self-checks' if extra else ''}: {steps[-1][0]:.2f} s, "
              f"peak RSS {steps[-1][1] / 2**20:.0f} MiB", flush=True)
    rows = [("baseline: Python loop over passes × thresholds", f"{t_base:.1f}", "1.0×", "—"),
            (f"ours: vectorised TQ evaluation (same inputs, best of {REPEATS})", f"{t_ours:.3f}",
             f"{t_base / t_ours:.0f}×", "—"),
            ("ours: whole step (fit, coupled sampling, TQ, jackknife SE)", f"{steps[0][0]:.2f}",
             f"{t_base / steps[0][0]:.1f}×", f"{steps[0][1] / 2**20:.0f}"),
            ("ours: whole step with the self-checks (in-sample, hold-out + floor)",
             f"{steps[1][0]:.2f}", f"{t_base / steps[1][0]:.1f}×", f"{steps[1][1] / 2**20:.0f}")]
    body = (f"Machine: {machine_line()}. {N:,} samples × {M:,} synthetic passes × {T} thresholds "
            f"(p90, p95, p99, p99.9), accuracy metric; results identical to the baseline "
            f"(max |Δ| = {np.max(np.abs(ours - base)):.1e}).\n\n"
            "Targets: ≥ 20× faster than the baseline, ≤ 2 GB peak memory. The vectorised "
            "evaluation is the like-for-like comparison (the same synthetic latencies, the same "
            "tail quality); the whole steps also fit the stall-mixture model, draw 2,000 coupled "
            "synthetic passes with the per-sample conditional laws, and compute the jackknife "
            "standard error (10 refits), then the self-checks — work the baseline does not do. "
            "Other engineers' jobs shared the 2 cores while it ran.\n\n"
            + table(("what", "seconds", "speed-up", "peak RSS (MiB)"), rows))
    write_section("Analysis speed (benchmarks/analysis_speed.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
