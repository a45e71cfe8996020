"""Accuracy of the predicted tail-quality distribution against the number of real passes.

Latencies from a known model (tests/_simulate.py: per-sample lognormal with size-dependent
location and scale, plus a shared per-pass shift), 1,000 samples, accuracy 0.92. The exact
tail-quality distribution comes from 20,000 directly simulated passes. For 3, 5, 10 and 20
observed passes (8 seeds each) the pooled estimator and a plain per-sample KDE predict 5,000
synthetic passes; the table shows the mean JSD (base 2, 0.1-pp bins) to the exact
distribution and the mean absolute error of its mean and p5, at θ = p90 and p99.

    python benchmarks/tq_calibration.py
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from _simulate import TrueModel  # noqa: E402
from tailq_loadgen import tailquality as tq  # noqa: E402
from tailq_loadgen.metrics import Accuracy  # noqa: E402

PASSES = (3, 5, 10, 20)
SEEDS = 8


def main():
    tm = TrueModel(n=1000, seed=0, shift_sd=0.03)
    thetas = np.quantile(tm.passes(200, 99).ravel(), [0.9, 0.99])
    exact = tm.exact_tq(thetas, passes=20000)
    metric = Accuracy(tm.predictions, tm.labels)
    rows = []
    for r in PASSES:
        res = {name: [] for name in ("pooled", "plain-kde")}
        for s in range(SEEDS):
            lat = tm.passes(r, 500 + s)
            ok = np.ones_like(lat, bool)
            for name in res:
                pred = tq.predict_tq(tq.MODELS[name](lat, ok, tm.sizes), metric, thetas, 5000, s)
                res[name].append([[tq.jsd(pred[t], exact[t]),
                                   abs(pred[t].mean() - exact[t].mean()),
                                   abs(np.percentile(pred[t], 5) - np.percentile(exact[t], 5))]
                                  for t in range(2)])
        for name, vals in res.items():
            v = np.mean(vals, axis=0)  # (threshold, measure)
            rows.append((r, name, f"{v[0, 0]:.4f}", f"{v[1, 0]:.4f}", f"{v[0, 1] * 100:.3f}",
                         f"{v[1, 1] * 100:.3f}", f"{v[0, 2] * 100:.3f}", f"{v[1, 2] * 100:.3f}"))
            print(rows[-1], flush=True)
    body = (f"Machine: {machine_line()}. {SEEDS} seeds per row, 5,000 synthetic passes, exact "
            "distribution from 20,000 simulated passes (tests/_simulate.py, shift σ = 0.03).\n\n"
            + table(("passes", "estimator", "JSD p90", "JSD p99", "|Δmean| p90 (pp)",
                     "|Δmean| p99 (pp)", "|Δp5| p90 (pp)", "|Δp5| p99 (pp)"), rows)
            + "\n\nThe plain per-sample KDE has no run-level component and a bandwidth from a "
              "handful of points per sample, so it misses the pass-to-pass spread; the pooled "
              "estimator borrows the shape and scale from samples of similar size and models the "
              "shared shift. With few passes the remaining error is mostly the run-level mean's "
              "(σ_δ/√R), which the analysis reports as its standard error.")
    write_section("Tail-quality calibration (benchmarks/tq_calibration.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
