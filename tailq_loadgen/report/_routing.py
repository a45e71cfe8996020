"""The report's routing section (`tailq route` runs): latency against load with the LP bound
as a line, and per-variant usage against the LP's shares. Takes routing.json documents (plain
data, read by the workflow); returns HTML and Figures."""

import numpy as np

from ._plots import _plt


def _by_policy(docs):
    """(policy, target text) → sorted [(qps, result)], over every document."""
    out = {}
    for doc in docs:
        for r in doc["results"]:
            out.setdefault((r["policy"], r["target_text"]), []).append((doc["qps"], r))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in out.items()}


def latency_against_load(docs):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    series = _by_policy(docs)
    bounds = {}
    for (policy, target), points in series.items():
        x = [q for q, _ in points]
        y = [r["mean_sojourn"] * 1e3 for _, r in points]
        ax.plot(x, y, marker="o", lw=1.2, label=f"{policy} ({target})")
        for q, r in points:
            if r["lp_bound"]:
                bounds.setdefault(target, {})[q] = r["lp_bound"]["mean_latency"] * 1e3
    for (target, b), ls in zip(bounds.items(), ("--", ":", "-.") * len(bounds)):
        q = sorted(b)
        ax.plot(q, [b[k] for k in q], color="black", ls=ls, lw=1.2, label=f"T_LP-LB ({target})")
    ax.set_xlabel("load λ (queries/s, LoadGen's target QPS)")
    ax.set_ylabel("mean latency (ms)")
    modes = sorted({d["mode"] for d in docs})
    ax.set_title(f"Mean latency against load ({', '.join(modes)}), LP lower bound in black")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def variant_usage(docs):
    plt = _plt()
    rows = [(f"{d['qps']:g}/s {r['policy']} ({r['target']['kind']})", r["shares"], r["lp_shares"])
            for d in docs for r in d["results"]]
    names = docs[0]["variants"]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.5), dpi=110)
    left = np.zeros(len(rows))
    for k, name in enumerate(names):
        share = np.array([r[1][k] for r in rows])
        ax.barh(range(len(rows)), share, left=left, label=name)
        left += share
    for i, (_, _, lp) in enumerate(rows):  # the LP's split, as ticks over the bars
        if lp and all(x is not None for x in lp):
            ax.plot(np.cumsum(lp)[:-1], [i] * (len(lp) - 1), "k|", ms=12)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_xlabel("share of queries per variant (| marks the LP's split)")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


FIGURES = (("routing-latency-vs-load", latency_against_load), ("routing-variant-usage", variant_usage))


def routing_html(docs, esc, table):
    """The section's text: one row per run, policy and target (figures follow it)."""
    rows = []
    for d in docs:
        for r in d["results"]:
            lp = r["lp_bound"]["mean_latency"] * 1e3 if r["lp_bound"] else float("nan")
            tq = ", ".join(f"{float(k) * 1e3:g} ms: {v:.4f}" for k, v in r["tail_quality"].items())
            rows.append([d["mode"], f"{d['qps']:g}", r["policy"], r["target_text"],
                         f"{r['mean_sojourn'] * 1e3:.3f}", f"{lp:.3f}", f"{r['p99_sojourn'] * 1e3:.3f}",
                         f"{r['accuracy']['realised']:.4f}", "met" if r["meets_target"] else "MISSED",
                         tq or "—"])
    head = ["mode", "QPS", "policy", "target", "mean ms", "LP bound ms", "p99 ms", "accuracy",
            "target", "tail quality"]
    return "<h2>Routing</h2>" + table(head, rows)
