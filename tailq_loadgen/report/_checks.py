"""The self-checks and the calibrated comparison, as text lines and HTML fragments.

Input: the plain dicts of ``analysis.json`` (its ``analysis`` part) and ``compare.json``.
Every check has a verdict line; a failing one is shown as a warning that names θ.
"""

import html


def _fmt(x, spec=".4f"):
    return "—" if x is None else format(x, spec)


def check_lines(analysis):
    """Verdict lines of an analysis's self-checks, then the in-sample z-scores per θ."""
    checks = analysis.get("self_checks") or {}
    if not checks:
        return []
    lines = ["self-checks:"] + [f"  {c['verdict']}" for c in checks.values()]
    rows = (checks.get("in_sample") or {}).get("rows") or []
    if rows:
        lines.append(f"  in-sample {'θ':>6} | {'later than θ obs/pred':>21} {'z':>5} | "
                     f"{'mean TQ obs/pred':>16} {'z':>5} | {'SD obs/pred':>15} {'z':>5}")
        for r in rows:
            lines.append(
                f"  {'':9} {r['label']:>6} | {r['late_share_observed'] * 100:>9.2f}%/"
                f"{r['late_share_predicted'] * 100:.2f}% {r['z_late_share']:>+5.1f} | "
                f"{r['tq_mean_observed']:.4f}/{r['tq_mean_predicted']:.4f} {r['z_tq_mean']:>+5.1f} | "
                f"{r['tq_sd_observed']:.4f}/{r['tq_sd_predicted']:.4f} {r['z_tq_sd']:>+5.1f}")
    rows = (checks.get("holdout") or {}).get("rows") or []
    if rows:
        lines.append(f"  hold-out  {'θ':>6} | {'JSD':>6} {'floor95':>7} | {'Δmean/SE':>8} {'bound':>6}")
        for r in rows:
            lines.append(f"  {'':9} {r['label']:>6} | {r['jsd']:>6.4f} {r['noise_floor_p95']:>7.4f} | "
                         f"{r['mean_z']:>+8.2f} {r['mean_bound']:>6.2f}")
    return lines


def _table(headers, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(c):
    cls = "warn" if c.get("ok") is False else "meta"
    return f"<p class={cls}>{html.escape(c['verdict'])}</p>"


def checks_html(analysis):
    """The analysis's self-checks: verdicts, in-sample z-scores, hold-out rows."""
    checks = analysis.get("self_checks") or {}
    if not checks:
        return ""
    parts = ["<h3>Self-checks</h3>"] + [_verdict(c) for c in checks.values()]
    rows = (checks.get("in_sample") or {}).get("rows") or []
    if rows:
        parts.append(_table(
            ("θ", "later than θ, observed %", "predicted %", "z", "mean TQ observed", "predicted",
             "z", "SD observed", "predicted", "z"),
            [(r["label"], f"{r['late_share_observed'] * 100:.2f}", f"{r['late_share_predicted'] * 100:.2f}",
              f"{r['z_late_share']:+.1f}", f"{r['tq_mean_observed']:.4f}", f"{r['tq_mean_predicted']:.4f}",
              f"{r['z_tq_mean']:+.1f}", f"{r['tq_sd_observed']:.4f}", f"{r['tq_sd_predicted']:.4f}",
              f"{r['z_tq_sd']:+.1f}") for r in rows]))
    rows = (checks.get("holdout") or {}).get("rows") or []
    if rows:
        parts.append(_table(
            ("θ", "hold-out JSD", "noise floor p95", "match", "Δmean / SE", "bound"),
            [(r["label"], f"{r['jsd']:.4f}", f"{r['noise_floor_p95']:.4f}", r["match"],
              f"{r['mean_z']:+.2f}", f"±{r['mean_bound']:.2f}") for r in rows]))
    return "".join(parts)


def compare_checks_html(compare):
    """The comparison's calibrated checks beside the reference's own agreement."""
    rows = compare.get("thresholds") or []
    if not rows or "worst_interval" not in rows[0]:
        return ""
    table = _table(
        ("θ", "obs min", "interval for the min", "level", "inside", "Δmean", "Δmean / SE", "bound",
         "estimate JSD", "reference split-half JSD", "its floor p95", "reference reproduces"),
        [(r["label"], _fmt(r["observed"]["min"]),
          f"[{r['worst_interval'][0]:.4f}, {r['worst_interval'][1]:.4f}]", f"{r['worst_level']:.1%}",
          "yes" if r["worst_inside"] else "NO", f"{r['mean_diff'] * 100:+.2f} pp",
          f"{r['mean_z']:+.2f}", f"±{r['mean_bound']:.2f}", f"{r['jsd']:.4f}",
          _fmt(r.get("split_jsd")), _fmt(r.get("split_floor_p95")),
          {True: "yes", False: "NO", None: "—"}[r.get("reproduces")]) for r in rows])
    checks = "".join(f"<p class=meta>{html.escape(k)}: {html.escape(v)}</p>"
                     for k, v in (compare.get("checks") or {}).items())
    own = "".join(_verdict({"ok": c.get("ok"), "verdict": f"estimate's self-check, {c['verdict']}"})
                  for c in (compare.get("estimate_self_checks") or {}).values())
    return "<h3>Calibrated checks</h3>" + table + checks + own


def verdict_findings(sections):
    """(topic, level, text) for the report's verdict box: each analysis's in-sample and
    hold-out verdicts, with the warnings that name θ."""
    out = []
    for sec in sections:
        a = (sec.get("analysis") or {}).get("analysis") or {}
        for name in ("in_sample", "holdout"):
            c = (a.get("self_checks") or {}).get(name)
            if not c:
                continue
            level = {True: "good", False: "bad"}.get(c.get("ok"), "note")
            text = f"{sec['run_dir']}: {c['verdict']}"
            if c.get("warnings"):
                text += " — " + "; ".join(c["warnings"])
            out.append((f"self-check ({name.replace('_', '-').replace('holdout', 'hold-out')})",
                        level, text))
    return out
