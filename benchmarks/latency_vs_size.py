"""Per-sample mean latency against sample size on the variable-size text harness.

Captures real passes of ``docstrings-torch`` (and ``docstrings-onnx``) under LoadGen in
SingleStream, averages each sample's LoadGen latency over the passes, fits
latency = a + b·tokens by least squares, and reports the slope with its R². Writes
``benchmarks/latency_vs_size.png`` and a section of ``benchmarks/RESULTS.md``.

    python benchmarks/latency_vs_size.py [--passes 3]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import harnesses  # noqa: E402
from tailq_loadgen import load_run, workflow  # noqa: E402
from tailq_loadgen.capture import run_capture  # noqa: E402


def measure(name, passes, tmp):
    out = os.path.join(tmp, name)
    run_capture(harnesses.get_harness(name), scenario="SingleStream", passes=passes, out=out,
                log=lambda *_: None)
    m = workflow.pass_matrix(load_run(out))
    mean_ms = np.nanmean(m.latency, axis=1) / 1e6
    slope, intercept = np.polyfit(m.sizes, mean_ms, 1)
    pred = intercept + slope * m.sizes
    r2 = 1 - np.sum((mean_ms - pred) ** 2) / np.sum((mean_ms - mean_ms.mean()) ** 2)
    return m.sizes, mean_ms, slope, intercept, r2


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    with tempfile.TemporaryDirectory() as tmp:
        for name, colour in (("docstrings-torch", "tab:blue"), ("docstrings-onnx", "tab:orange")):
            sizes, mean_ms, slope, icpt, r2 = measure(name, args.passes, tmp)
            print(f"{name}: {slope * 1000:.2f} µs/token, intercept {icpt:.2f} ms, R² {r2:.3f}", flush=True)
            rows.append((name, len(sizes), f"{slope * 1000:.2f}", f"{icpt:.2f}", f"{r2:.3f}",
                         f"{mean_ms.min():.2f}–{mean_ms.max():.2f}"))
            ax.scatter(sizes, mean_ms, s=6, alpha=0.5, color=colour, label=f"{name} (R² {r2:.2f})")
            xs = np.linspace(sizes.min(), sizes.max(), 50)
            ax.plot(xs, icpt + slope * xs, color=colour, lw=1.5)
    ax.set_xlabel("sample size (tokens)")
    ax.set_ylabel(f"mean LoadGen latency over {args.passes} passes (ms)")
    ax.set_title("Latency grows with size: Python docstrings through MiniLM, SingleStream")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "latency_vs_size.png"))
    body = (f"Machine: {machine_line()}. {args.passes} AccuracyOnly passes per runtime, "
            "SingleStream, 1 intra-op thread; per-sample mean of LoadGen's latency against "
            "tokens, least-squares line.\n\n"
            + table(("harness", "samples", "slope (µs/token)", "intercept (ms)", "R²",
                     "mean latency range (ms)"), rows)
            + "\n\n![latency against size](latency_vs_size.png)")
    write_section("Latency against sample size (benchmarks/latency_vs_size.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
