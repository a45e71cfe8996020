"""One self-contained HTML page (figures embedded as PNG), the PNGs also written into a folder
beside it (``report.html`` → ``report_files/``), never loose in the working directory.

The page opens with a verdict box that concludes (does the estimate reproduce the full run,
is each run VALID, does either drift, what to do next), then a glossary of the terms, then
one section per run directory.
"""

import base64
import html
import io
import os

from ..records import format_metric
from ._checks import checks_html, compare_checks_html
from ._conclude import GLOSSARY, conclude
from ._plots import FIGURES
from ._systems import overlay_figure, system_line, systems_html

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;
padding:0 1em}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ddd;
padding:.25em .5em;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
img{max-width:100%;margin:.5em 0}.warn{color:#a40}.meta{color:#555;font-size:.9em}
.box{border:2px solid #888;border-radius:6px;padding:.6em 1.2em;margin:1em 0;background:#fafafa}
.box.good{border-color:#2a7d2a;background:#f3faf3}.box.bad{border-color:#b22;background:#fdf3f3}
.box .headline{font-size:1.1em;font-weight:600}.box ul{padding-left:1.2em}
.good .tag,.tag.good{color:#2a7d2a}.tag.bad{color:#b22;font-weight:600}.tag.note{color:#666}
dl.gloss{display:grid;grid-template-columns:11em 1fr;gap:.15em 1em;font-size:.9em}
dl.gloss dt{font-weight:600}dl.gloss dd{margin:0;color:#333}
details summary{cursor:pointer;font-weight:600}"""


def _esc(x):
    return html.escape(str(x))


def _table(headers, rows, left=()):
    head = "".join(f"<th{' class=l' if i in left else ''}>{_esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{' class=l' if i in left else ''}>{_esc(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pct(x):
    return "—" if x is None else f"{x * 100:.2f}"


def _ms(ns):
    return "—" if ns is None else f"{ns / 1e6:.3f}"


def _analysis_table(a):
    rows = []
    for t in a["thresholds"]:
        o, p = t["observed"], t["predicted"]
        rows.append((t["label"], _ms(t["theta_ns"]), _pct(o["min"]), _pct(o["p5"]),
                     _pct(o["mean"]), _pct(o["max"]), _pct(p["min"]), _pct(p["p5"]),
                     _pct(p["mean"]), _pct(p["max"]), _pct(p["expected_worst"]),
                     _pct(t.get("predicted_mean_se"))))
    return _table(("θ", "θ (ms)", "obs min %", "obs p5", "obs mean", "obs max", "pred min %",
                   "pred p5", "pred mean", "pred max", f"pred worst of {a['full_run_passes']}",
                   "mean SE"), rows)


def _theta_table(rows):
    compared = any("compare_theta_ns" in r for r in rows)
    head = ["label", "θ from this run's own latencies (ms): its tables and figures"]
    if compared:
        head.append("θ from the full run's latencies (ms): the comparison puts both runs here")
    out = [(r["label"], _ms(r["theta_ns"]) if r["kind"] == "percentile" else f"{_ms(r['theta_ns'])} (fixed)")
           + ((_ms(r.get("compare_theta_ns")),) if compared else ()) for r in rows]
    text = ("<p>One θ per label and source. A percentile label is a time only once the latencies "
            "it is taken from are named: this run's own θ drives its table and figures"
            + ("; the comparison takes θ from the full run (far more latencies) and evaluates "
               "both runs at it, so the same label shows two times — they differ because the "
               "runs' latencies differ, not by mistake" if compared else "") + ".</p>")
    return text + _table(head, out)


def _verdict_rows(verdicts):
    rows = []
    for v in verdicts:
        reasons = "; ".join(v["reasons"]) if v["validity"] != "VALID" else "—"
        es = v.get("early_stopping")
        rows.append((v["pass"], v["mode"], v["validity"], reasons, v.get("fix") or "—",
                     format_metric(v.get("metric")) or "—",
                     "—" if not es else ("met" if es["met"] else "not met")))
    return _table(("pass", "mode", "LoadGen", "why (every reason LoadGen logged)", "what to change",
                   "scenario metric", "early stopping"), rows, left=(1, 3, 4, 5))


def _compare_table(c):
    rows = []
    for r in c["thresholds"]:
        rows.append((r["label"], _ms(r["theta_ns"]),
                     f"{r['inferences_estimate']:,} / {r['inferences_full']:,}", f"{r['ratio']:.1f}×",
                     _pct(r["predicted"]["min"]), _pct(r["observed"]["min"]),
                     _pct(r["predicted"]["p5"]), _pct(r["observed"]["p5"]),
                     _pct(r["predicted"]["mean"]), _pct(r["observed"]["mean"]),
                     _pct(r["predicted"]["max"]), _pct(r["observed"]["max"]),
                     f"{r['jsd']:.4f}", f"{r['noise_floor_p95']:.4f}", r["match"],
                     "yes" if r["worst_inside"] else "NO"))
    table = _table(("θ", "θ (ms, full run's)", "inferences est / full", "ratio", "pred min",
                    "obs min", "pred p5", "obs p5", "pred mean", "obs mean", "pred max", "obs max",
                    "JSD", "noise floor p95", "match", "worst inside"), rows)
    lg = "".join(
        f"<p>LoadGen, the full run's performance test (pass {v['pass']}): {_esc(v['validity'])}"
        + (" — its reasons are in the full run's section" if v["validity"] != "VALID" else "")
        + f"; p{(v['target_percentile'] or 0) * 100:g} latency {_ms(v['percentile_latency_ns'])} ms "
        f"over {v['query_count']} queries.</p>"
        for v in c["loadgen"]["performance_tests"])
    warnings = "".join(f"<p class=warn>warning: {_esc(w)}</p>" for w in c.get("warnings", []))
    return table + lg + warnings


def _self_check_findings(sections):
    """HOOK (issue 11): ``report/_checks.py`` brings the analyses' self-checks (in-sample and
    interleaved hold-out); once it lands, its findings join the verdict box here."""
    try:
        from . import _checks
    except ImportError:
        return ()
    find = getattr(_checks, "verdict_findings", None)
    return tuple(find(sections)) if find else ()


def _verdict_box(sections):
    c = conclude(sections, self_checks=_self_check_findings(sections))
    items = "".join(f"<li><span class='tag {lvl}'>{_esc(topic)}</span>: {_esc(text)}</li>"
                    for topic, lvl, text in c.findings)
    steps = "".join(f"<li>{_esc(s)}</li>" for s in c.next_steps)
    return (f"<div class='box {c.level}' id=verdict><p class=headline>{_esc(c.headline)}</p>"
            f"<ul>{items}</ul><p><b>What to do next</b></p><ol>{steps}</ol></div>")


def _glossary():
    terms = "".join(f"<dt>{_esc(t)}</dt><dd>{_esc(d)}</dd>" for t, d in GLOSSARY)
    return f"<details open><summary>Terms used on this page</summary><dl class=gloss>{terms}</dl></details>"


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


_ROLE = {"estimate": "reduced estimate", "full": "full reference run"}


def write_report(sections, html_path, systems=None, routing=None):
    """``sections``: report_data dicts; ``systems``: the systems comparison, or None;
    ``routing``: routing.json documents of `tailq route` runs, or None.
    Writes the page and ``<stem>_files/<n>-<figure>.png``."""
    out_dir = os.path.dirname(os.path.abspath(html_path))
    stem = os.path.splitext(os.path.basename(html_path))[0]
    fig_dir = os.path.join(out_dir, f"{stem}_files")
    os.makedirs(fig_dir, exist_ok=True)
    parts, pngs = [], []
    if systems is not None:  # issue 14: the overlay of every system, before the per-run sections
        data = _png(overlay_figure(systems))
        path = os.path.join(fig_dir, "systems-overlay.png")
        with open(path, "wb") as f:
            f.write(data)
        pngs.append(path)
        parts.append(systems_html(systems, _table) + '<img alt="systems overlay" '
                     f'src="data:image/png;base64,{base64.b64encode(data).decode()}">')
    if routing:  # issue 15: routing runs, latency against load with the LP bound, usage
        from ._routing import FIGURES as ROUTING_FIGURES, routing_html
        parts.append(routing_html(routing, _esc, _table))
        for name, draw in ROUTING_FIGURES:
            data = _png(draw(routing))
            path = os.path.join(fig_dir, f"{name}.png")
            with open(path, "wb") as f:
                f.write(data)
            pngs.append(path)
            parts.append(f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(data).decode()}">')
    for n, d in enumerate(sections):
        meta, a = d["meta"], d["analysis"]["analysis"]
        wf = d["analysis"].get("workflow") or {}
        role = _ROLE.get(wf.get("kind"), "run")
        parts.append(f"<h2>{_esc(d['run_dir'])} — {role}</h2>")
        parts.append(
            f"<p class=meta>harness <b>{_esc(meta['harness'].get('name'))}</b> (model "
            f"{_esc(meta['harness'].get('model'))}; {_esc(meta['backend'].get('name'))} "
            f"{_esc(meta['backend'].get('version'))}), scenario {_esc(meta.get('scenario'))}, "
            f"{a['n_samples']} samples × {a['n_passes']} passes, host "
            f"{_esc(meta['system'].get('cpu_model'))}; quality with no time limit, TQ(∞) "
            f"({_esc(d['metric'])}): {a['tq_inf']:.4f}"
            + (f"; {_esc(wf.get('kind', ''))}: {_esc(wf.get('stop_reason') or '')}" if wf.get("stop_reason") else "")
            + "</p>")
        parts.append(f"<p class=meta>system: {_esc(system_line(meta))}</p>")
        for w in a.get("warnings", []):
            parts.append(f"<p class=warn>warning: {_esc(w)}</p>")
        parts.append("<h3>LoadGen's verdict</h3>")
        parts.append(_verdict_rows(d["verdicts"]) if d["verdicts"] else
                     "<p>No performance test in this run: LoadGen judges VALID/INVALID only "
                     "performance tests; its AccuracyOnly passes carry no verdict.</p>")
        parts.append("<h3>Thresholds</h3>" + _theta_table(d["thetas"]))
        parts.append("<h3>Tail quality, observed and predicted (%)</h3>" + _analysis_table(a)
                     + checks_html(a))
        if d["compare"] is not None:
            parts.append("<h3>Reduced estimate against the full run</h3>" + _compare_table(d["compare"])
                         + compare_checks_html(d["compare"]))
        for name, draw in FIGURES:
            if name == "latency_vs_size" and d["sizes"] is None:
                continue  # fixed-size data: latency against size says nothing
            data = _png(draw(d))
            path = os.path.join(fig_dir, f"{n}-{name}.png")
            with open(path, "wb") as f:
                f.write(data)
            pngs.append(path)
            parts.append(f'<img alt="{name}" src="data:image/png;base64,'
                         f'{base64.b64encode(data).decode()}">')
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>tailq report</title>"
            f"<style>{_CSS}</style></head><body><h1>Tail quality report</h1>"
            + _verdict_box(sections) + _glossary() + "".join(parts) + "</body></html>")
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(page)
    return html_path, pngs
