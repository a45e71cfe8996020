"""The report's "systems side by side" section: tail quality against threshold with a band per
system on one axis (the overlay), the comparison table, and what differs between systems."""

import html

import numpy as np

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def overlay_figure(doc):
    """Tail quality against θ: per system its min–max band, p5–p95 band and median pass."""
    from ._plots import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.4), dpi=110)
    x = np.asarray(doc["overlay"]["grid_ns"]) / 1e6
    for k, band in enumerate(doc["overlay"]["bands"]):
        c = _COLORS[k % len(_COLORS)]
        ax.fill_between(x, np.asarray(band["min"]) * 100, np.asarray(band["max"]) * 100, color=c,
                        alpha=0.12, lw=0)
        ax.fill_between(x, np.asarray(band["p5"]) * 100, np.asarray(band["p95"]) * 100, color=c,
                        alpha=0.3, lw=0)
        ax.plot(x, np.asarray(band["median"]) * 100, color=c, lw=1.5,
                label=f"{band['name']} (median of {band['passes']} passes; bands p5–p95, min–max)")
    for row in doc["thresholds"]:
        if row["kind"] == "absolute":
            theta = row["systems"][0]["theta_ns"] / 1e6
            ax.axvline(theta, color="black", lw=0.8, ls=":")
            ax.text(theta, ax.get_ylim()[0], f" {row['label']}", fontsize=8, va="bottom")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    for axis in (ax.xaxis,):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))
    ax.set_xlabel("latency threshold θ (ms)")
    ax.set_ylabel(f"tail quality: {doc.get('metric') or 'quality'} (%)")
    ax.set_title("Systems side by side: tail quality against threshold")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _pp(x):
    return f"{x * 100:+.2f}"


def systems_html(doc, table):
    """The section's HTML (``table``: the report's table helper)."""
    names = doc["names"]
    parts = ["<h2>Systems side by side</h2>",
             "<p class=meta>" + "<br>".join(f"<b>{html.escape(d['name'])}</b>: {html.escape(d['line'])}"
                                            for d in doc["descriptions"]) + "</p>"]
    parts += [f"<p class=warn>warning: {html.escape(w)}</p>" for w in doc.get("warnings", [])]
    rows = []
    for r in doc["thresholds"]:
        for j, s in enumerate(r["systems"]):
            st = s["stats"]
            v = r["versus"][j - 1] if j else None
            rows.append((r["label"] if j == 0 else "", s["name"], f"{s['theta_ns'] / 1e6:.3f}",
                         f"{st['min'] * 100:.2f}", f"{st['p5'] * 100:.2f}", f"{st['mean'] * 100:.2f}",
                         f"{st['max'] * 100:.2f}", f"{st['expected_worst'] * 100:.2f}",
                         "" if v is None else f"{_pp(v['mean']['estimate'])} [{_pp(v['mean']['low'])}, "
                                              f"{_pp(v['mean']['high'])}]",
                         "" if v is None else f"{_pp(v['worst']['estimate'])} [{_pp(v['worst']['low'])}, "
                                              f"{_pp(v['worst']['high'])}]"))
    parts.append(table(("θ", "system", "θ (ms)", "min %", "p5 %", "mean %", "max %",
                        f"worst of {doc['worst_of']} %", f"Δ mean pp vs {names[0]}",
                        f"Δ worst pp vs {names[0]}"), rows))
    parts.append("<p>" + "<br>".join(html.escape(v["sentence"]) for r in doc["thresholds"]
                                     for v in r["versus"]) + "</p>")
    if doc["differences"]:
        parts.append("<h3>What differs between the systems' descriptions</h3>")
        parts.append(table(("key",) + tuple(names),
                           [(d["key"],) + tuple(str(v) for v in d["values"]) for d in doc["differences"]]))
    else:
        parts.append("<p>The systems' descriptions do not differ.</p>")
    return "".join(parts)


def system_line(meta):
    """One line describing the system under test (``show``, report, comparison)."""
    s = meta.get("system") or {}
    h = meta.get("harness") or {}
    b = meta.get("backend") or {}
    parts = [str(s.get("cpu_model") or "cpu ?")]
    counts = f"{s.get('cpu_count_physical')}C/{s.get('cpu_count_logical')}T"
    if s.get("smt_active") is not None:
        counts += f", SMT {'on' if s['smt_active'] else 'off'}"
    parts.append(counts)
    freq = (s.get("cpu_freq_mhz") or {}).get("max") or (s.get("cpu_freq_mhz") or {}).get("current")
    if freq:
        parts.append(f"{freq / 1000:.2f} GHz" + (f" ({s['cpu_governor']})" if s.get("cpu_governor") else ""))
    if s.get("numa_nodes"):
        parts.append(f"{s['numa_nodes']} NUMA node{'s' if s['numa_nodes'] > 1 else ''}")
    if s.get("memory_total_bytes"):
        parts.append(f"{s['memory_total_bytes'] / 2 ** 30:.0f} GiB")
    if s.get("kernel"):
        parts.append(f"kernel {s['kernel']}")
    for g in s.get("accelerators") or []:
        parts.append(f"{g.get('name')} (driver {g.get('driver')})")
    parts.append(f"{b.get('name')} {b.get('version')}")
    threads = h.get("threads")
    if threads:
        parts.append("threads " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    remote = h.get("remote")
    if remote:
        srv = remote.get("server") or {}
        parts.append(f"remote {srv.get('name')} {srv.get('version')} at {remote.get('address')}")
    disp = meta.get("dispatch") or {}
    if disp:
        parts.append(f"{disp.get('mode')} dispatch, ≤{disp.get('max_in_flight')} in flight")
    commits = {(c.get("commit") or "")[:10] + ("+dirty" if c.get("dirty") else "")
               for c in meta.get("code") or [] if c.get("commit")}
    if commits:
        parts.append("code " + ",".join(sorted(commits)))
    env = s.get("thread_env") or {}
    if env:
        parts.append(" ".join(f"{k}={v}" for k, v in env.items()))
    return "; ".join(parts)
