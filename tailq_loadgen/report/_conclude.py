"""The report's verdict box: what the sections add up to, in plain words, and what to do next.

A pure function of the sections' data (``workflow.report_data``): no files, no plots. Each
finding is ``(topic, level, text)`` with level ``good``, ``bad`` or ``note``; the headline is
the answer to the question the reader came with — does the reduced estimate reproduce the
full run?
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Conclusion:
    headline: str
    level: str                 # good | bad | note
    findings: tuple            # (topic, level, text)
    next_steps: tuple          # plain sentences

    def as_dict(self):
        return dataclasses.asdict(self)


def _pct(x):
    return f"{x * 100:.2f}%"


def _role(section):
    kind = ((section["analysis"] or {}).get("workflow") or {}).get("kind")
    return kind or "run"


def _reproduction(compare):
    """(level, text, failing labels) for one compare.json."""
    rows = compare["thresholds"]
    bad = [r for r in rows if r["match"] == "no" or not r["worst_inside"]
           or r.get("mean_within") is False]
    ratio = min(r["ratio"] for r in rows)
    if not bad:
        return "good", (f"At every threshold ({', '.join(r['label'] for r in rows)}) each "
                        "predicted distribution matches the observed one (JSD within τ or within "
                        "the noise floor a perfect prediction would show) and the full run's worst "
                        f"pass lies inside the predicted range — with {ratio:.0f}× fewer real "
                        "inferences."), []
    parts = []
    for r in bad:
        why = []
        if r["match"] == "no":
            why.append(f"the distributions differ (JSD {r['jsd']:.3f}, above both τ "
                       f"{compare['tau']:g} and the noise floor {r['noise_floor_p95']:.3f})")
        if not r["worst_inside"]:
            lo, hi = r.get("worst_interval") or (r["predicted"]["min"], r["predicted"]["max"])
            why.append(f"the full run's worst pass ({_pct(r['observed']['min'])}) lies outside "
                       f"the predicted interval for it ({_pct(lo)}–{_pct(hi)})")
        if r.get("mean_within") is False:  # issue 11: the mean in units of the combined SE
            why.append(f"the mean differs by {r['mean_z']:+.1f} standard errors")
        parts.append(f"at {r['label']} " + " and ".join(why))
    return "bad", ("; ".join(parts)[0].upper() + "; ".join(parts)[1:] + "."), [r["label"] for r in bad]


def conclude(sections, self_checks=()):
    """The verdict box for the report of ``sections``.

    ``self_checks``: ``(topic, level, text)`` findings from the analyses' self-checks
    (in-sample and hold-out), added as they are.
    """
    findings, steps, drifting = [], [], []
    compares = [(s["run_dir"], s["compare"]) for s in sections if s.get("compare")]
    headline, level = None, "note"
    for est_dir, c in compares:
        lvl, text, failing = _reproduction(c)
        findings.append(("estimate vs full run", lvl, text))
        if headline is None:
            level = lvl
            headline = (f"The estimate {est_dir} reproduces the full run {c['full']}: it can be "
                        "relied on." if lvl == "good" else
                        f"The estimate {est_dir} does not reproduce the full run {c['full']}: "
                        "do not rely on it.")
        if failing:
            steps.append(f"Do not use the estimate's figures at {', '.join(failing)}. If a run "
                         "drifts (see drift above), it cannot be matched: measure again on a "
                         "quiet machine. Otherwise capture more passes (tailq estimate "
                         "--max-passes) or try --model pooled-robust, then compare again "
                         "(tailq compare … --overwrite).")
        else:
            steps.append("The estimate can stand in for the full run at these thresholds; "
                         "estimate future runs the same way.")
        agreement = c.get("reference_agreement")
        if agreement and agreement.get("message"):
            findings.append(("full run agrees with itself", "good" if agreement.get("agrees")
                             else "bad", agreement["message"]))
    if headline is None:
        estimates = [s for s in sections if _role(s) == "estimate"]
        headline = ("Not checked: no full run was compared with this estimate, so nothing says "
                    "yet whether it reproduces one." if estimates else
                    "Not checked: this report holds no comparison of an estimate with a full run.")
        steps.append("Check the estimate against a reference: tailq full --harness … --out FULL, "
                     "then tailq compare EST FULL, then tailq report EST FULL --html PAGE.")
    for s in sections:
        d = s["run_dir"]
        wf = (s["analysis"] or {}).get("workflow") or {}
        if wf.get("kind") == "estimate":
            ok = bool(wf.get("converged"))
            findings.append(("convergence", "good" if ok else "bad",
                             f"{d}: {wf.get('stop_reason')} after {wf.get('passes')} passes."))
            if not ok:
                steps.append(f"{d} did not converge: give it more passes (--max-passes) or a "
                             "longer --max-time; its prediction may still move.")
        verdicts = s.get("verdicts") or []
        if not verdicts:
            findings.append(("LoadGen validity", "note",
                             f"{d}: no performance test — LoadGen judges VALID/INVALID only "
                             "performance tests, not accuracy passes."))
        for v in verdicts:
            if v["validity"] == "VALID":
                findings.append(("LoadGen validity", "good",
                                 f"{d}, pass {v['pass']} ({v['mode']}): VALID."))
            else:
                reasons = "; ".join(v["reasons"]) or "LoadGen gave no reason"
                findings.append(("LoadGen validity", "bad",
                                 f"{d}, pass {v['pass']} ({v['mode']}): INVALID — {reasons}."))
                if v.get("fix") or v.get("advice"):
                    steps.append(f"{d}, pass {v['pass']}: for a VALID test, "
                                 f"{v.get('fix') or 'LoadGen advises: ' + v['advice']}")
        drift = ((s["analysis"] or {}).get("analysis") or {}).get("drift") or {}
        if drift:
            findings.append(("drift", "bad" if drift.get("drifting") else "good",
                             f"{d}: {drift.get('message')}."))
            if drift.get("drifting"):
                drifting.append(d)
    if drifting:
        steps.append(f"{' and '.join(drifting)} drift{'s' if len(drifting) == 1 else ''} across "
                     "the passes: measure again on a quiet machine (nothing else running, a "
                     "fixed CPU frequency); a drifting run is not one distribution.")
    findings.extend(self_checks)
    return Conclusion(headline, level, tuple(findings), tuple(dict.fromkeys(steps)))


GLOSSARY = (
    ("tail quality, TQ(θ)", "the task's quality over one pass when every answer later than the "
                            "threshold θ counts as failed (a late detection is as bad as a wrong one)"),
    ("TQ(∞)", "the same quality with no time limit: only wrong answers fail"),
    ("θ, p90 / p95 / p99", "a latency threshold; a label such as p99 means the 99th percentile "
                           "of the latencies at hand, so the same label can stand for different "
                           "times in different runs (the θ table says which)"),
    ("pass", "every sample of the dataset issued exactly once (one LoadGen AccuracyOnly test)"),
    ("observed", "over the real passes that were run"),
    ("predicted", "over synthetic passes drawn from the per-sample latency model fitted to the "
                  "real passes (Monte Carlo)"),
    ("worst of N", "the expected lowest tail quality among N passes — N is the number a full "
                   "MLPerf-style run would make, so it predicts that run's worst case"),
    ("JSD", "Jensen–Shannon divergence (base 2, 0 = same distribution, 1 = disjoint) between two "
            "histograms of tail quality on a fixed 0.1-point grid"),
    ("rJSD", "the square root of the mean JSD between the newest prediction and the previous "
             "few (the window); the estimate stops when it is at most τ at every threshold"),
    ("τ (tau)", "the convergence and matching tolerance on (r)JSD, 0.05 by default"),
    ("noise floor", "the JSD a perfect prediction would still show against as many passes as the "
                    "full run has, because those passes are a finite sample; a prediction within "
                    "its 95th percentile matches"),
    ("worst inside", "whether the full run's worst pass falls inside the 95% prediction interval "
                     "for the worst of that many passes"),
    ("drift", "the passes of a run changing over time (slower later, more stalls); a drifting "
              "run is not one distribution, and no estimate can match it"),
    ("VALID / INVALID", "LoadGen's verdict on a performance test: minimum duration, minimum "
                        "query count, early stopping and, in Server, the latency bound"),
    ("early stopping", "LoadGen's rule for how many queries make a percentile trustworthy; its "
                       "estimate of the percentile is MLPerf's SingleStream/MultiStream result"),
    ("MLPerf query count", "the queries MLPerf asks for at a percentile (99% confidence, margin "
                           "(1 − p)/20, rounded up to 8192): 24,576 at p90, 270,336 at p99"),
)
