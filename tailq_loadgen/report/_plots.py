"""The report's figures (matplotlib, Agg). Each function takes prepared data, returns a Figure."""

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tq_band(d):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    x = d["grid_ns"] / 1e6
    tq = d["tq"] * 100
    ax.fill_between(x, tq.min(axis=1), tq.max(axis=1), color="tab:blue", alpha=0.18,
                    label=f"min–max over {tq.shape[1]} passes")
    ax.fill_between(x, np.percentile(tq, 5, axis=1), np.percentile(tq, 95, axis=1),
                    color="tab:blue", alpha=0.35, label="p5–p95 over passes")
    ax.plot(x, np.median(tq, axis=1), color="tab:blue", lw=1.5, label="median pass")
    ax.axhline(d["tq_inf"] * 100, color="black", lw=1, ls="--", label="no time limit, TQ(∞)")
    for name, v in d["marks_ns"].items():
        ax.axvline(v / 1e6, color="tab:red", lw=0.8, ls=":")
        ax.text(v / 1e6, ax.get_ylim()[0], f" {name}", color="tab:red", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency threshold θ (ms)")
    ax.set_ylabel(f"tail quality: {d['metric']} (%)")
    ax.set_title("Tail quality against threshold (late answers count as failed)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def sample_distributions(d):
    from scipy.stats import gaussian_kde

    plt = _plt()
    n = len(d["examples"])
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), dpi=110, squeeze=False)
    for ax, ex in zip(axes[0], d["examples"]):
        obs, sim = ex["observed_ns"] / 1e6, ex["model_ns"] / 1e6
        ax.hist(obs, bins=max(5, min(30, obs.size)), density=True, color="tab:gray", alpha=0.6,
                label=f"{obs.size} observed")
        if sim.size > 1 and np.ptp(sim) > 0:
            xs = np.linspace(min(obs.min(), np.percentile(sim, 0.5)),
                             max(obs.max(), np.percentile(sim, 99.5)), 200)
            ax.plot(xs, gaussian_kde(sim)(xs), color="tab:orange", lw=1.5, label="model density")
        size = f", size {ex['size']:g}" if ex["size"] is not None else ""
        ax.set_title(f"sample {ex['sample']}{size}", fontsize=9)
        ax.set_xlabel("latency (ms)")
        ax.legend(fontsize=7)
    fig.suptitle("Per-sample latency: observations and the fitted model", fontsize=10)
    fig.tight_layout()
    return fig


def latency_vs_size(d):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=110)
    y = d["mean_latency_ns"] / 1e6
    x = d["sizes"] if d["sizes"] is not None else np.arange(y.size)
    ax.scatter(x, y, s=5, alpha=0.5)
    if d["sizes"] is not None and np.ptp(x) > 0:
        b, a = np.polyfit(x, y, 1)
        r2 = 1 - np.sum((y - (a + b * x)) ** 2) / np.sum((y - y.mean()) ** 2)
        xs = np.linspace(x.min(), x.max(), 20)
        ax.plot(xs, a + b * xs, color="tab:red", label=f"{b * 1000:.1f} µs per unit, R² {r2:.2f}")
        ax.legend(fontsize=8)
        ax.set_xlabel("sample size")
    else:
        ax.set_xlabel("sample index (the harness reports one size for all samples)")
    ax.set_ylabel("mean latency over passes (ms)")
    ax.set_title("Latency against sample size")
    fig.tight_layout()
    return fig


def convergence(d):
    plt = _plt()
    a = d["analysis"]["analysis"]
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=110)
    steps = a["convergence"]
    ks = [s["passes"] for s in steps]
    for t, thr in enumerate(a["thresholds"]):
        ax.plot(ks, [s["rjsd"][t] if s["rjsd"][t] is not None else np.nan for s in steps],
                marker="o", ms=3, label=thr["label"])
    ax.axhline(a["tau"], color="black", ls="--", lw=1, label=f"τ = {a['tau']}")
    ax.set_xlabel("real passes")
    ax.set_ylabel("rJSD (base 2)")
    ax.set_title(f"Convergence (window {a['window']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _bars(ax, hist, label, color):
    if not hist:
        return
    counts = np.asarray(hist["counts"], dtype=float)
    if counts.sum() == 0:
        return
    w = hist["bin_width"]
    left = (hist["first_bin"] + np.arange(counts.size)) * w * 100
    ax.bar(left, counts / counts.sum(), width=w * 100, align="edge", alpha=0.5, color=color,
           label=f"{label} ({hist['n']})")


def predicted_vs_observed(d):
    plt = _plt()
    if d["compare"] is not None:
        rows = d["compare"]["thresholds"]
        title = "Predicted (reduced estimate) vs observed (full run)"
    else:
        a = d["analysis"]["analysis"]
        rows = [{"label": t["label"], "predicted_histogram": t.get("predicted_histogram"),
                 "observed_histogram": _hist_of(t["observed_per_pass"], a["bin_width"])}
                for t in a["thresholds"]]
        title = "Predicted (synthetic passes) vs observed (real passes)"
    fig, axes = plt.subplots(1, len(rows), figsize=(3.4 * len(rows), 3.2), dpi=110, squeeze=False)
    for ax, r in zip(axes[0], rows):
        _bars(ax, r["predicted_histogram"], "predicted", "tab:orange")
        _bars(ax, r["observed_histogram"], "observed", "tab:blue")
        ax.set_title(r["label"], fontsize=9)
        ax.set_xlabel("tail quality (%)")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _hist_of(values, bin_width):
    from ..tailquality import histogram_dict

    return histogram_dict(values, bin_width)


FIGURES = (("tq_band", tq_band), ("sample_latency", sample_distributions),
           ("latency_vs_size", latency_vs_size), ("convergence", convergence),
           ("predicted_vs_observed", predicted_vs_observed))
