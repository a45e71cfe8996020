"""One self-contained HTML page (figures embedded as PNG) with PNGs written beside it."""

import base64
import html
import io
import os

from ._checks import checks_html, compare_checks_html
from ._plots import FIGURES

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ddd;
padding:.25em .5em;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
img{max-width:100%;margin:.5em 0}.warn{color:#a40}.meta{color:#555;font-size:.9em}"""


def _table(headers, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pct(x):
    return "—" if x is None else f"{x * 100:.2f}"


def _analysis_table(a):
    rows = []
    for t in a["thresholds"]:
        o, p = t["observed"], t["predicted"]
        rows.append((t["label"], f"{t['theta_ns'] / 1e6:.3f}", _pct(o["min"]), _pct(o["p5"]),
                     _pct(o["mean"]), _pct(o["max"]), _pct(p["min"]), _pct(p["p5"]),
                     _pct(p["mean"]), _pct(p["max"]), _pct(p["expected_worst"]),
                     _pct(t.get("predicted_mean_se"))))
    return _table(("θ", "θ (ms)", "obs min %", "obs p5", "obs mean", "obs max", "pred min %",
                   "pred p5", "pred mean", "pred max", f"pred worst of {a['full_run_passes']}",
                   "mean SE"), rows)


def _compare_table(c):
    rows = []
    for r in c["thresholds"]:
        rows.append((r["label"], f"{r['theta_ns'] / 1e6:.3f}",
                     f"{r['inferences_estimate']:,} / {r['inferences_full']:,}", f"{r['ratio']:.1f}×",
                     _pct(r["predicted"]["min"]), _pct(r["observed"]["min"]),
                     _pct(r["predicted"]["p5"]), _pct(r["observed"]["p5"]),
                     _pct(r["predicted"]["mean"]), _pct(r["observed"]["mean"]),
                     _pct(r["predicted"]["max"]), _pct(r["observed"]["max"]),
                     f"{r['jsd']:.4f}", f"{r['noise_floor_p95']:.4f}", r["match"],
                     "yes" if r["worst_inside"] else "NO"))
    table = _table(("θ", "θ (ms)", "inferences est / full", "ratio", "pred min", "obs min",
                    "pred p5", "obs p5", "pred mean", "obs mean", "pred max", "obs max", "JSD",
                    "noise floor p95", "match", "worst inside"), rows)
    lg = "".join(f"<p>LoadGen, full run's performance test: {html.escape(str(v['validity']))}, "
                 f"early stopping {'met' if v['early_stopping_met'] else 'not met'}; "
                 f"p{(v['target_percentile'] or 0) * 100:g} latency "
                 f"{(v['percentile_latency_ns'] or 0) / 1e6:.3f} ms over {v['query_count']} queries. "
                 f"LoadGen's words: “{html.escape(v['early_stopping_result'].strip())}”</p>"
                 for v in c["loadgen"]["performance_tests"])
    warnings = "".join(f"<p class=warn>warning: {html.escape(w)}</p>" for w in c.get("warnings", []))
    return table + lg + warnings


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def write_report(sections, html_path):
    """``sections``: report_data dicts. Writes the page and ``<stem>-<n>-<figure>.png``."""
    out_dir = os.path.dirname(os.path.abspath(html_path))
    stem = os.path.splitext(os.path.basename(html_path))[0]
    os.makedirs(out_dir, exist_ok=True)
    parts, pngs = [], []
    for n, d in enumerate(sections):
        meta, a = d["meta"], d["analysis"]["analysis"]
        wf = d["analysis"].get("workflow") or {}
        parts.append(f"<h2>{html.escape(d['run_dir'])}</h2>")
        parts.append(
            f"<p class=meta>harness <b>{html.escape(str(meta['harness'].get('name')))}</b> "
            f"({html.escape(str(meta['backend'].get('name')))} {html.escape(str(meta['backend'].get('version')))}), "
            f"scenario {html.escape(str(meta.get('scenario')))}, {a['n_samples']} samples × "
            f"{a['n_passes']} passes, host {html.escape(str(meta['system'].get('cpu_model')))}; "
            f"quality with no time limit ({html.escape(d['metric'])}) {a['tq_inf']:.4f}"
            + (f"; {html.escape(wf.get('kind', ''))}: {html.escape(str(wf.get('stop_reason') or ''))}" if wf else "")
            + "</p>")
        for w in a.get("warnings", []):
            parts.append(f"<p class=warn>warning: {html.escape(w)}</p>")
        parts.append(_analysis_table(a) + checks_html(a))
        if d["compare"] is not None:
            parts.append("<h3>Reduced estimate against the full run</h3>" + _compare_table(d["compare"])
                         + compare_checks_html(d["compare"]))
        for name, draw in FIGURES:
            if name == "latency_vs_size" and d["sizes"] is None and n > 0:
                continue
            data = _png(draw(d))
            path = os.path.join(out_dir, f"{stem}-{n}-{name}.png")
            with open(path, "wb") as f:
                f.write(data)
            pngs.append(path)
            parts.append(f'<img alt="{name}" src="data:image/png;base64,'
                         f'{base64.b64encode(data).decode()}">')
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>tailq report</title>"
            f"<style>{_CSS}</style></head><body><h1>Tail quality report</h1>"
            "<p>Tail quality: the task's quality when every answer that misses the latency "
            "threshold θ counts as failed. Observed over real passes; predicted over synthetic "
            "passes from the per-sample latency model.</p>" + "".join(parts) + "</body></html>")
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(page)
    return html_path, pngs
