"""Reduced-inference estimate against a full MLPerf-style run, in one go (spec §5–6).

For each harness, SingleStream, thresholds p90/p95/p99: ``tailq estimate`` (rounds of real
passes until rJSD ≤ τ, or at most a tenth of the full run's passes), then ``tailq full`` at
p99 (MLPerf's 270,336 queries, organised in passes, plus a PerformanceOnly test for LoadGen's
own verdict), then ``tailq compare``. Writes a table and figures to benchmarks/RESULTS.md.

    python benchmarks/reduction.py [--harness digits-torch] [--harness docstrings-onnx]
"""

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
import types
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import harnesses  # noqa: E402
from tailq_loadgen import records, report, tailquality, workflow  # noqa: E402
from tailq_loadgen import UserError  # noqa: E402

THRESHOLDS = "p90,p95,p99"
QUIET = dict(log=lambda *_: None)


def _kept_runs(est_dir, full_dir):
    """Runs already in --keep DIR as (estimate, its seconds, full run's seconds), from their
    own records, or None when they are not both there and complete."""
    try:
        w = records.read_analysis(est_dir)["workflow"]
        meta = records.read_metadata(full_dir)
    except (OSError, ValueError, KeyError, UserError):
        return None
    if w.get("kind") != "estimate" or not meta.get("complete"):
        return None
    span = datetime.fromisoformat(meta["ended"]) - datetime.fromisoformat(meta["started"])
    est = types.SimpleNamespace(passes=w["passes"], stop_reason=w["stop_reason"])
    return est, w["seconds"], span.total_seconds()


def one(name, tmp, perf_queries, custom_passes=None, reuse=False):
    h = harnesses.get_harness(name)
    n = h.dataset.get_item_count()
    need = tailquality.mlperf_query_count(0.99)
    full_passes = custom_passes or math.ceil(need / n)
    budget = max(2, full_passes // 10)
    est_dir, full_dir = os.path.join(tmp, f"{name}-est"), os.path.join(tmp, f"{name}-full")
    kept = _kept_runs(est_dir, full_dir) if reuse else None
    if kept:  # compared again, e.g. after a change to compare or the model
        est, t_est, t_full = kept
        print(f"{name}: reusing {est_dir} and {full_dir}; analysing the estimate again", flush=True)
        info = {"workflow": records.read_analysis(est_dir)["workflow"]}
        workflow.analyze_run(est_dir, thresholds=THRESHOLDS, harness=h, extra=info)
    else:
        est, t_est, t_full = _run_both(h, name, est_dir, full_dir, budget, full_passes,
                                       perf_queries, custom_passes)
    doc = workflow.compare_runs(est_dir, full_dir)
    workflow.write_compare(doc, os.path.join(est_dir, "compare.json"))
    print(workflow.format_compare(doc), flush=True)
    sections = [workflow.report_data(est_dir)]
    _, pngs = report.write_report(sections, os.path.join(tmp, f"{name}.html"))
    for p in pngs:
        if p.endswith(("predicted_vs_observed.png", "convergence.png", "tq_band.png")):
            shutil.copy(p, os.path.join(HERE, f"reduction-{name}-{p.rsplit('-', 1)[-1]}"))
    return est, doc, t_est, t_full, kept is not None


def _run_both(h, name, est_dir, full_dir, budget, full_passes, perf_queries, custom_passes):
    t0 = time.monotonic()
    est = workflow.estimate(h, scenario="SingleStream", out=est_dir, thresholds=THRESHOLDS,
                            max_passes=budget, log=lambda line: print(f"  {name} {line}", flush=True))
    t_est = time.monotonic() - t0
    print(f"{name}: estimate {est.passes} passes, {est.stop_reason}, {t_est:.0f} s", flush=True)
    t0 = time.monotonic()
    perf = {"min_duration_ms": 0, "max_duration_ms": 0}
    if perf_queries:
        perf.update(min_query_count=perf_queries, max_query_count=perf_queries)
    workflow.full_run(harnesses.get_harness(name), scenario="SingleStream", out=full_dir,
                      percentile=99.0, passes=custom_passes, thresholds=THRESHOLDS,
                      overrides=perf, **QUIET)
    t_full = time.monotonic() - t0
    print(f"{name}: full {full_passes} passes, {t_full:.0f} s", flush=True)
    return est, t_est, t_full


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--harness", action="append", default=None)
    ap.add_argument("--perf-queries", type=int, default=None,
                    help="queries of the full run's PerformanceOnly test (default: MLPerf's count)")
    ap.add_argument("--full-passes", type=int, default=None,
                    help="a custom reference of this many passes instead of MLPerf's count "
                         "(said so in the results)")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="write the run directories here and keep them (default: a temporary "
                         "directory, removed at the end)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: compare the runs already in DIR again instead of "
                         "re-running them (after a change to the model or to compare)")
    args = ap.parse_args()
    if args.reuse and not args.keep:
        ap.error("--reuse needs --keep DIR (the directory that holds the runs)")
    names = args.harness or ["digits-torch", "docstrings-onnx"]
    rows, notes = [], []
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp:
        for name in names:
            est, doc, t_est, t_full, reused = one(name, tmp, args.perf_queries, args.full_passes,
                                                  reuse=args.reuse)
            checks = records.read_analysis(os.path.join(tmp, f"{name}-est"))["analysis"].get(
                "self_checks") or {}
            ins = {r["label"]: r for r in (checks.get("in_sample") or {}).get("rows", [])}
            ho = {r["label"]: r for r in (checks.get("holdout") or {}).get("rows", [])}
            for r in doc["thresholds"]:
                i, h = ins.get(r["label"]), ho.get(r["label"])
                lo, hi = r["worst_interval"]
                rows.append((name, r["label"], f"{r['theta_ns'] / 1e6:.3f}",
                             f"{r['inferences_estimate']:,} / {r['inferences_full']:,}",
                             f"{r['ratio']:.1f}× {'✓' if r['ratio'] >= 10 else '✗'}",
                             "—" if i is None else f"{i['z_tq_mean']:+.1f} / {i['z_tq_sd']:+.1f} "
                             + ("✓" if i["ok"] else "✗"),
                             "—" if h is None else f"JSD {h['jsd']:.3f} (floor {h['noise_floor_p95']:.3f}), "
                             f"z {h['mean_z']:+.1f} " + ("✓" if h["ok"] else "✗"),
                             f"{r['jsd']:.4f} / {r['noise_floor_p95']:.4f} "
                             + ("✓" if r["match"] != "no" else "✗"),
                             f"{r['mean_diff'] * 100:+.2f} ({r['mean_z']:+.1f} SE) "
                             + ("✓" if r["mean_within"] else "✗"),
                             f"{r['observed']['min']:.4f} in [{lo:.4f}, {hi:.4f}] "
                             + ("✓" if r["worst_inside"] else "✗"),
                             "—" if r.get("split_jsd") is None else
                             f"{r['split_jsd']:.4f} / {r['split_floor_p95']:.4f} "
                             + ("✓" if r["reproduces"] else "✗ does not reproduce")))
            lg = doc["loadgen"]["performance_tests"]
            lg_text = (f"LoadGen's performance test: {lg[0]['validity']}, early stopping "
                       f"{'met' if lg[0]['early_stopping_met'] else 'not met'}, p99 "
                       f"{(lg[0]['percentile_latency_ns'] or 0) / 1e6:.3f} ms over "
                       f"{lg[0]['query_count']:,} queries (min duration set to 0)") if lg else ""
            custom = (f" (a custom reference of {args.full_passes} passes, not MLPerf's "
                      "270,336-query count)") if args.full_passes else ""
            timing = " (times from the kept runs' records)" if reused else ""
            notes.append(f"- **{name}**{custom}: estimate {est.passes} passes in {t_est:.0f} s — "
                         f"{est.stop_reason}; full run {doc['passes']['full']} passes in "
                         f"{t_full:.0f} s{timing}. {lg_text}.")
            for side in ("estimate", "full"):
                d = doc["drift"][side]
                shares = ("" if d["drifting"] else  # a drift message names the shares itself
                          "; share of stalled samples in successive blocks of passes: "
                          + ", ".join(f"{m:.1%}" for m in d["stall_block_means"]))
                notes.append(f"  - drift check, {side} run: {d['message']}{shares}")
            notes += [f"  - {w}" for w in doc["warnings"] if "does not reproduce" in w]
            notes += [f"  - estimate's self-check: {c['verdict']}" for c in checks.values()]
    load = os.getloadavg()
    body = (f"Machine: {machine_line()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min) on 2 cores shared with other engineers' work, so the "
            "latencies carry that contention. SingleStream, one intra-op thread, model "
            f"{doc['model']}. The estimate may use at most a tenth of the full run's passes.\n\n"
            "Columns: *in-sample* — the estimate's model against its own passes, z of mean TQ / "
            "z of its SD (✓: every |z| ≤ 2); *hold-out* — fit on the estimate's even passes, "
            "predict its odd ones: JSD against its noise floor (p95) and the mean's z; *JSD / "
            "floor* — estimate vs full run, the floor being the p95 of the JSD between the "
            "prediction and as many fresh model passes as the full run has (each set moved by "
            "the estimate's own SE); *Δmean* — observed − predicted mean TQ in pp and in units "
            "of the combined SE (✓ within the 95% t bound); *worst* — the full run's worst pass "
            "against the 95% prediction interval for the minimum of that many passes; "
            "*reference split-half* — JSD between the full run's even and odd passes against "
            "the same split of fresh passes (✗: the reference does not reproduce itself, so no "
            "estimate can be held to it).\n\n"
            + table(("harness", "θ", "θ (ms)", "inferences est / full", "ratio ≥ 10×",
                     "in-sample z mean / SD", "hold-out", "JSD / floor", "Δmean pp (SE)",
                     "worst in interval", "reference split-half JSD / floor"), rows)
            + "\n\n" + "\n".join(notes) + "\n\n"
            + "\n".join(f"![{n} predicted vs observed](reduction-{n}-predicted_vs_observed.png)"
                        for n in names))
    title = "Reduced estimate vs full run (benchmarks/reduction.py)"
    if args.full_passes or args.harness:
        title += " — " + ", ".join(names)
    write_section(title, body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
