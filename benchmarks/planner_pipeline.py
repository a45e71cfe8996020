"""Planner: the two-stage digits pipeline under LoadGen → benchmarks/RESULTS.md, section
"Planner: two-stage pipeline (LoadGen)".

1. Profiles every stage variant of ``digits-pipe`` (harnesses/pipeline.py: encoders enc-mlp,
   enc-cnn, enc-wide; classifiers clf-linear, clf-mlp) with ``tailq profile``'s capture
   (SingleStream at batch 1, MultiStream with b samples per query otherwise), each recording
   its stage; the pipeline's accuracy per (encoder, classifier) is measured end to end.
2. At two loads, plans the pipeline with ``planning.plan_pipeline`` under the three objectives
   (ipa-normalised and ipa-pipeline with the end-to-end combination accuracies, tq) and
   predicts tail quality, p99 and SLO violations with the analytic predictor.
3. Deploys every plan on the pipeline SUT (capture/_pipeline.py) with
   ``verify_pipeline_plan`` — one LoadGen Server test at the plan's QPS — and tabulates
   predicted against measured.
4. Issue 15's trap (GIL-holding stages in threads on 2 cores run slower than alone): at each
   load every stage variant is first run in the pipeline SUT itself (batch 1, one replica) and
   its busy times there become its "in-pipeline" profile; every objective is planned both from
   the alone and from the in-pipeline profiles, and each deployment is also predicted from the
   in-pipeline profiles plus LoadGen's measured per-query overhead. One plan is run three times
   to show the spread between runs on the shared machine.

    python benchmarks/planner_pipeline.py [--quick] [--profiles DIR] [--queries N]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import harnesses, planning as P, workflow  # noqa: E402
from tailq_loadgen.workflow import _pipeline_verify as pv  # noqa: E402

SECTION = "Planner: two-stage pipeline (LoadGen)"
PIPE = "digits-pipe"
BATCHES = (1, 2, 4, 8)
SLO_S = 0.005
LOADS = (300.0, 900.0, 1200.0)  # light, moderate, and one where enc-wide on one replica is near its in-pipeline capacity


def profile(out, queries, log):
    pipe = harnesses.get_pipeline(PIPE)
    names = [h for _, hs in pipe.stages for h in hs]
    profs = workflow.profile_variants(names, catalog=harnesses, out=out, batch_sizes=BATCHES,
                                      queries=queries, resume=True, log=log)
    return pv.pipeline_planning_profiles(profs, pipe)


def objectives(combo):
    return [("ipa-normalised", dict(objective=P.IPAObjective.for_task("nlp"), combination_accuracy=combo)),
            ("ipa-pipeline", dict(objective=P.IPAObjective.for_task("nlp", "pipeline"),
                                  combination_accuracy=combo)),
            ("tq", dict(objective=P.TailQualityObjective(), combination_accuracy=combo,
                        solver="enumerate", max_cores=6))]


def _stage_plan(qps, encoder, classifier):
    """A plan dict that deploys one (encoder, classifier) at batch 1 on one replica each."""
    return {"mode": "pipeline", "qps": qps, "slo_s": SLO_S, "objective": "calibration",
            "choices": [{"stage": s, "variant": v, "batch": 1, "replicas": 1, "threads": 1}
                        for s, v in (("encoder", encoder), ("classifier", classifier))]}


def calibrate(profiles, qps, tmp, queries):
    """Profiles taken in the pipeline at the plan's load (issue 15's lesson: profile stages
    under the conditions they run in). Each stage variant runs in the pipeline SUT at batch 1
    on one replica (encoders with clf-linear, clf-mlp behind enc-mlp) under a LoadGen Server
    test at ``qps``; its busy times there replace its batch-1 samples, and its other batch
    sizes are its alone samples scaled by the same ratio of means. Returns (profiles, ratio per
    variant, LoadGen's per-query overhead beyond wait + service, in seconds)."""
    pairs = [(e, "clf-linear") for e in ("enc-mlp", "enc-cnn", "enc-wide")] + [("enc-mlp", "clf-mlp")]
    docs, overhead = [], []
    for e, c in pairs:
        out = os.path.join(tmp, f"calibrate-{int(qps)}-{e}-{c}")
        docs.append(pv.verify_pipeline_plan(_stage_plan(qps, e, c), harnesses, out=out,
                                            queries=queries, seed=2, log=lambda *a: None,
                                            pipeline=PIPE))
        overhead.append(_overhead(out, docs[-1]))
    profiles, ratios = pv.in_pipeline_profiles(profiles, docs)
    return profiles, ratios, np.concatenate(overhead)


def run(quick=False, prof_dir=None, queries=None, log=print):
    queries = queries or (1500 if quick else 4000)
    tmp = tempfile.mkdtemp(prefix="tailq-pipe-")
    prof_dir = prof_dir or os.path.join(tmp, "profiles")
    t0 = time.perf_counter()
    alone = profile(prof_dir, 300, lambda *a: None)
    combo = harnesses.pipeline_accuracy(PIPE)
    log(f"profiled in {time.perf_counter() - t0:.0f} s")
    prof_rows = [[p.stage, p.name, s.batch, f"{s.mean_s * 1e3:.3f}", f"{s.p99_s * 1e3:.3f}",
                  f"{p.accuracy:.4f}"] for p in alone for s in p.service]
    rows, cal_rows, repeat_rows = [], [], []
    for qps in LOADS:
        inpipe, ratios, overhead = calibrate(alone, qps, tmp, queries)
        cal_rows.append([f"{qps:g}"] + [f"{ratios[p.name]:.2f}" for p in alone]
                        + [f"{overhead.mean() * 1e3:.3f}", f"{np.percentile(overhead, 99) * 1e3:.3f}"])
        log(cal_rows[-1])
        for source, profiles in (("alone", alone), ("in-pipeline", inpipe)):
            for name, kw in objectives(combo):
                plan = P.plan_pipeline(profiles, qps=qps, slo_s=SLO_S,
                                       stages=("encoder", "classifier"), batch_sizes=BATCHES, **kw)
                out = os.path.join(tmp, f"verify-{int(qps)}-{source}-{name}")
                doc = pv.verify_pipeline_plan(plan, harnesses, out=out, queries=queries, seed=1,
                                              log=lambda *a: None, pipeline=PIPE)
                # the deployment predicted again from the in-pipeline profiles, with LoadGen's
                # per-query overhead added in series
                full = _predict_as_deployed(inpipe, plan, qps, overhead_s=overhead)
                m, pr = doc["measured"], doc["predicted"]["analytic"]
                cfg = " + ".join(f"{c.variant} b{c.batch}×{c.replicas}" for c in plan.choices)
                rows.append([f"{qps:g}", source, name, cfg, plan.cores,
                             f"{pr['tail_quality']:.4f}",
                             f"{m['tail_quality']:.4f} ± {m['tail_quality_se']:.4f}",
                             f"{(m['tail_quality'] - pr['tail_quality']) * 100:+.2f}",
                             f"{full:.4f}", f"{(m['tail_quality'] - full) * 100:+.2f}",
                             f"{pr['accuracy']:.4f}", f"{m['accuracy']:.4f}",
                             _ms(pr["p99_s"]), _ms(m["p99_s"]),
                             f"{pr['slo_violations']:.4f}", f"{m['slo_violations']:.4f}",
                             " / ".join(f"{st['timed_out_batches']}" for st in m["stages"]),
                             f"{m['load_average_1min']:.1f}"])
                log(rows[-1])
                if qps == LOADS[1] and source == "alone" and name == "tq":
                    again = [doc] + [pv.verify_pipeline_plan(
                        plan, harnesses, out=f"{out}-seed{seed}", queries=queries, seed=seed,
                        log=lambda *a: None, pipeline=PIPE) for seed in (2, 3)]
                    repeat_rows.append([cfg, f"{qps:g}"] + [
                        f"{d['measured']['tail_quality']:.4f} ± {d['measured']['tail_quality_se']:.4f} "
                        f"(load {d['measured']['load_average_1min']:.1f})" for d in again])
    body = [f"Machine: {machine_line()}. Other engineers' jobs shared the 2 cores during the run "
            f"(the `load avg` column: the 1-minute load average after each test), so absolute "
            f"times are noisy. Pipeline `{PIPE}` (harnesses/pipeline.py), SLO {SLO_S * 1e3:g} ms, "
            f"{queries} LoadGen Server queries per test (first 10% left out), batch timeout = "
            f"SLO, seed 1. `python benchmarks/planner_pipeline.py{' --quick' if quick else ''}`.",
            "", "Stage profiles taken alone (`tailq profile` capture: SingleStream, MultiStream "
            "for b > 1):", "",
            table(["stage", "variant", "batch", "mean ms", "p99 ms", "accuracy (with reference)"],
                  prof_rows), "",
            "End-to-end accuracy per combination (measured on the 719 test images): " +
            ", ".join(f"{e}/{c} {a:.4f}" for (e, c), a in combo.items()) + ".", "",
            "In-pipeline calibration (each variant at batch 1, one replica, in the pipeline SUT "
            "at the load): its mean busy time over its mean service alone, and LoadGen's "
            "per-query overhead beyond wait + service:", "",
            table(["QPS"] + [p.name for p in alone] + ["overhead mean ms", "overhead p99 ms"],
                  cal_rows), "",
            "Plans (from the alone or the in-pipeline profiles) predicted and measured. `TQ pred` "
            "is the plan's own analytic prediction; `TQ pred + overhead` predicts the same "
            "deployment from the in-pipeline profiles with LoadGen's per-query overhead added:", "",
            table(["QPS", "profiles", "objective", "plan", "cores", "TQ pred", "TQ meas ± SE",
                   "Δ pts", "TQ pred + overhead", "Δ pts", "acc pred", "acc meas",
                   "p99 pred ms", "p99 meas ms", "viol pred", "viol meas",
                   "timed-out batches", "load avg"], rows), "",
            "The same plan run three times (seeds 1, 2, 3), for the spread between runs:", "",
            table(["plan", "QPS", "seed 1", "seed 2", "seed 3"], repeat_rows), "",
            findings(rows), "",
            "A row beyond 2 points: read its SE, p99 and load average beside it (a stall from "
            "other work on the machine widens all three); docs/planning.md, \"A two-stage "
            "pipeline\", says what the recorded run found."]
    write_section(SECTION, "\n".join(body))
    return rows


def findings(rows):
    """One line per load: how many plans met |Δ TQ| ≤ 2 points, and how many lay within two
    of the run's own standard errors (a run that a stall disturbed has a wide one)."""
    lines = ["Within 2 points of the measured tail quality, or within 2 of the run's standard "
             "errors (rows per load):", ""]
    for qps in sorted({r[0] for r in rows}, key=float):
        mine = [r for r in rows if r[0] == qps]
        se = [float(r[6].split("±")[1]) * 100 for r in mine]
        own = sum(abs(float(r[7])) <= 2 for r in mine)
        full = sum(abs(float(r[9])) <= 2 for r in mine)
        own_z = sum(abs(float(r[7])) <= 2 * e for r, e in zip(mine, se))
        full_z = sum(abs(float(r[9])) <= 2 * e for r, e in zip(mine, se))
        lines.append(f"* {qps} QPS: the plan's own prediction {own} of {len(mine)} (within 2 SE: "
                     f"{own_z}); the in-pipeline prediction with LoadGen's overhead {full} of "
                     f"{len(mine)} (within 2 SE: {full_z}).")
    return "\n".join(lines)


def _overhead(run_dir, doc):
    """Per query of a pipeline run, seconds (≥ 1 ns): LoadGen's latency − (wait + service),
    less what the stages' busy times already hold beyond predict (their mean hand-off)."""
    from tailq_loadgen import records

    run = records.load_run(run_dir)
    ok = run["status"] == "ok"
    in_busy = sum((s["full_batch_busy_ns"]["mean"] or 0) - (s["full_batch_service_ns"]["mean"] or 0)
                  for s in doc["measured"]["stages"])
    r = (run["latency_ns"][ok] - run["wait_ns"][ok] - run["service_ns"][ok] - in_busy) / 1e9
    return np.maximum(r, 1e-9)


def _predict_as_deployed(profiles, plan, qps, overhead_s=None):
    """The analytic predictor's TQ for the deployed configuration with the given profiles;
    ``overhead_s``: samples of a fixed per-query delay added in series (a stage that never
    queues: many servers at a negligible load)."""
    from tailq_loadgen.planning._latency import BatchProfile, batch_profiles

    by = {p.name: p for p in profiles}
    stages = [P.StageLoad(batch_profiles(by[c.variant], c.threads, [c.batch])[c.batch], c.replicas,
                          qps) for c in plan.choices]
    if overhead_s is not None:
        x = np.asarray(overhead_s, dtype=np.float64)
        x.flags.writeable = False
        bp = BatchProfile("overhead", "overhead", 1, 1, float(np.percentile(x, 99)), float(x.mean()),
                          x, False)
        stages.append(P.StageLoad(bp, 64, qps))
    return P.AnalyticPredictor().pipeline(stages, plan.slo_s, plan.accuracy).tail_quality


def _ms(v):
    return "—" if v is None else f"{v * 1e3:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--profiles", help="profile directory to reuse (captured when missing)")
    ap.add_argument("--queries", type=int)
    args = ap.parse_args(argv)
    run(args.quick, args.profiles, args.queries)


if __name__ == "__main__":
    main()
