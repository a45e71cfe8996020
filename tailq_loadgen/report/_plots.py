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
    ax.set_xscale("log")
    _mark_percentiles(ax, d["marks_ns"])
    ax.set_xlabel("latency threshold θ (ms)")
    ax.set_ylabel(f"tail quality: {d['metric']} (%)")
    ax.set_title("Tail quality against threshold (late answers count as failed)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _mark_percentiles(ax, marks_ns):
    """Dotted lines at p90/p95/p99 with labels that never overlap: labels of lines closer
    than ~4% of the (log) axis width share one text, and texts step down the plot."""
    import matplotlib.transforms as mtransforms

    items = sorted((v / 1e6, name) for name, v in marks_ns.items())
    lo, hi = (np.log10(x) for x in ax.get_xlim())
    groups = []
    for x, name in items:
        if groups and (np.log10(x) - np.log10(groups[-1][-1][0])) < 0.04 * (hi - lo):
            groups[-1].append((x, name))
        else:
            groups.append([(x, name)])
    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for k, group in enumerate(groups):
        for x, _ in group:
            ax.axvline(x, color="tab:red", lw=0.8, ls=":")
        ax.text(group[0][0], 0.97 - 0.07 * (k % 3), " " + "/".join(n for _, n in group),
                transform=trans, color="tab:red", va="top", ha="left", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})


def _data_range(obs):
    """(lo, hi, beyond): the axis range of one sample's observations, leaving out far
    outliers (stalls beyond median + 10 × the spread of the body), counted in ``beyond``."""
    med = np.median(obs)
    q1, q3 = np.percentile(obs, [25, 75])
    spread = max(q3 - q1, 1e-3 * med, 1e-9)
    keep = obs <= med + 10 * spread
    body = obs[keep]
    lo, hi = body.min(), body.max()
    pad = max((hi - lo) * 0.15, spread * 0.5)
    return max(0.0, lo - pad), hi + pad, obs[~keep]


def sample_distributions(d):
    from scipy.stats import gaussian_kde

    plt = _plt()
    n = len(d["examples"])
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), dpi=110, squeeze=False)
    for ax, ex in zip(axes[0], d["examples"]):
        obs, sim = ex["observed_ns"] / 1e6, ex["model_ns"] / 1e6
        lo, hi, beyond = _data_range(obs)
        inside = obs[(obs >= lo) & (obs <= hi)]
        bins = np.linspace(lo, hi, int(np.clip(np.sqrt(inside.size) * 2, 6, 30)) + 1)
        # densities relative to all observations (and all model draws), so the counts
        # beyond the axis weigh on both the same way
        ax.hist(inside, bins=bins, weights=np.full(inside.size, 1.0 / (obs.size * (bins[1] - bins[0]))),
                color="tab:gray", alpha=0.6, label=f"{obs.size} observed")
        body = sim[(sim >= lo) & (sim <= hi)]
        if body.size > 1 and np.ptp(body) > 0:
            xs = np.linspace(lo, hi, 200)
            # the model's density over the same window, scaled like the histogram (its share
            # of draws inside the window), so the two are on one footing
            ax.plot(xs, gaussian_kde(body)(xs) * body.size / sim.size, color="tab:orange",
                    lw=1.5, label="model density")
        ax.set_xlim(lo, hi)
        if beyond.size:
            ax.text(0.98, 0.6, f"+{beyond.size} beyond the axis\n(up to {beyond.max():.3g} ms)",
                    transform=ax.transAxes, ha="right", fontsize=7, color="tab:gray")
        size = f", size {ex['size']:g}" if ex["size"] is not None else ""
        ax.set_title(f"sample {ex['sample']}{size}", fontsize=9)
        ax.set_xlabel("latency (ms)")
        ax.legend(fontsize=7)
    fig.suptitle("Per-sample latency: observations and the fitted model", fontsize=10)
    fig.tight_layout()
    return fig


def latency_vs_size(d):
    """Mean latency against the harness's per-sample size (drawn only when sizes vary)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=110)
    y = d["mean_latency_ns"] / 1e6
    x = d["sizes"]
    ax.scatter(x, y, s=5, alpha=0.5)
    b, a = np.polyfit(x, y, 1)
    r2 = 1 - np.sum((y - (a + b * x)) ** 2) / np.sum((y - y.mean()) ** 2)
    xs = np.linspace(x.min(), x.max(), 20)
    ax.plot(xs, a + b * xs, color="tab:red", label=f"{b * 1000:.1f} µs per unit, R² {r2:.2f}")
    ax.legend(fontsize=8)
    ax.set_xlabel("sample size")
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


def display_factor(hists, n_samples, min_steps=3, max_bars=40):
    """How many of the JSD's fixed bins one drawn bar merges.

    One pass's tail quality moves in steps of 1/N (one sample more or less in time); with
    N = 719 that is 0.14 points, wider than the 0.1-point bins of the JSD, so every other
    bin is empty and the histogram looks like a comb. A bar spans at least ``min_steps``
    such steps, and at most ``max_bars`` bars cover the data. The JSD itself keeps its grid.
    """
    hists = [h for h in hists if h and sum(h["counts"])]
    if not hists:
        return 1
    w = hists[0]["bin_width"]
    lo = min(h["first_bin"] for h in hists)
    hi = max(h["first_bin"] + len(h["counts"]) for h in hists)
    k_steps = int(np.ceil(min_steps / max(n_samples, 1) / w - 1e-9)) if n_samples else 1
    k_range = int(np.ceil((hi - lo) / max_bars))
    return max(1, k_steps, k_range)


def _bars(ax, hist, label, color, factor=1):
    if not hist:
        return
    counts = np.asarray(hist["counts"], dtype=float)
    if counts.sum() == 0:
        return
    w = hist["bin_width"]
    first = int(hist["first_bin"])
    start = first - first % factor              # bars aligned on a common grid of k bins
    padded = np.concatenate([np.zeros(first - start), counts])
    padded = np.concatenate([padded, np.zeros(-padded.size % factor)])
    merged = padded.reshape(-1, factor).sum(axis=1)
    left = (start + factor * np.arange(merged.size)) * w * 100
    ax.bar(left, merged / merged.sum(), width=factor * w * 100, align="edge", alpha=0.5,
           color=color, label=f"{label} ({hist['n']})")


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
        hists = (r["predicted_histogram"], r["observed_histogram"])
        k = display_factor(hists, d.get("n_samples"))
        _bars(ax, r["predicted_histogram"], "predicted", "tab:orange", k)
        _bars(ax, r["observed_histogram"], "observed", "tab:blue", k)
        width = k * (r["predicted_histogram"] or r["observed_histogram"])["bin_width"] * 100
        ax.set_title(f"{r['label']} (bars of {width:.2g} point{'' if width == 1 else 's'})", fontsize=9)
        ax.set_xlabel("tail quality (%)")
        ax.set_ylabel("share of passes")
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
