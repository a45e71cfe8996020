"""Deploy an IPA pipeline plan on the pipeline SUT, run LoadGen's Server scenario at the plan's
load, and hold what the plan predicted against what LoadGen measured.

``verify_pipeline_plan(plan, catalog, *, out, queries, seed, log)``: ``plan`` is a
``planning.Plan`` of mode "pipeline" (or its ``as_dict()``, as ``plan.json`` holds it);
``catalog`` is the harness registry (the CLI hands ``tailq_loadgen.harnesses`` in: this room
never imports harnesses), whose ``build_pipeline(name, [(stage, variant, threads), …])`` gives
the stages' backends. One LoadGen Server test of ``queries`` queries at ``plan.qps`` runs
through ``capture/_pipeline.py`` with each stage's variant, batch size and replicas; every
sample is scored end to end (the pipeline's metric on the last stage's output).

The record (``OUT/verify.json``, :data:`FORMAT` "tailq-plan-verify" version :data:`VERSION`)
uses the names of ``tailq plan --verify``'s pool record (``_plan_verify.py``): ``measured`` —
``samples``, ``tail_quality`` (P(correct ∧ LoadGen latency ≤ SLO)), ``accuracy``, ``p99_s``
(LoadGen's convention), ``slo_violations`` (share later than the SLO, or not answered),
``mean_s``, ``status_not_ok``, each share with its standard error (``*_se``: 20 consecutive
batch means in issue order, ``routing.batch_means``, which carries the queue's correlation;
``p99_se_s`` from the 20 batches' own p99s) — and ``predicted`` — ``analytic`` (the plan's
prediction), ``simulated`` (None: the routing simulator has no batcher),
``z_tail_quality_analytic`` and ``diff_tail_quality_analytic`` (measured − predicted). The
first ``_route.WARMUP`` share of queries (by issue) is left out, as the planner predicts the
steady state. Pipeline-only keys: ``deployed`` (per stage: variant, batch, replicas, threads),
``batch_timeout_s``, and in ``measured`` the per-stage test record (``stages``) and every full
batch's busy time per stage (``stage_samples``).
"""

import math
import os

import numpy as np

from .. import tailquality
from .._errors import UserError

# FORMAT / VERSION / VERIFY_FILE are those of tailq plan --verify's record (_plan_verify.py)

FORMAT = "tailq-plan-verify"
VERSION = 1
VERIFY_FILE = "verify.json"
BATCHES = 20
MIN_QUERIES = 200


def _plan_dict(plan):
    """A Plan, its ``as_dict()``, or a ``plan.json`` document (``{"plan": …}``) → the plan dict."""
    d = plan.as_dict() if hasattr(plan, "as_dict") else plan
    if isinstance(d, dict) and isinstance(d.get("plan"), dict) and "mode" not in d:
        d = d["plan"]
    if not isinstance(d, dict) or d.get("mode") != "pipeline" or not d.get("choices"):
        raise UserError("plan: not a pipeline plan (mode 'pipeline' with choices per stage); "
                        "make one with `tailq plan` from profiles that name ≥ 2 stages")
    for key in ("qps", "slo_s"):
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise UserError(f"plan: {key} must be a positive number, got {v!r}")
    for c in d["choices"]:
        for key in ("batch", "replicas", "threads"):
            v = c.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"plan: stage {c.get('stage')!r}: {key} must be a whole number "
                                f"≥ 1, got {v!r}")
    return d


def deploy_pipeline(stages, harness, *, batches, replicas, out, qps, queries, batch_timeout_s,
                    seed=0, overwrite=False, log=print, experiment=None):
    """A CaptureSession (Server scenario at ``qps``) whose SUT is the pipeline of ``stages``
    (``[(stage, variant, backend), …]``) with ``batches[k]`` and ``replicas[k]`` per stage."""
    import dataclasses

    from ..capture import CaptureSession
    from ..capture._pipeline import PipelineBackend, PipelineSUT

    backend = PipelineBackend([s for s, _, _ in stages], [v for _, v, _ in stages],
                              [b for _, _, b in stages])
    harness = dataclasses.replace(harness, backend=backend)

    def factory(backend, dataset, **watch):
        return PipelineSUT(backend, dataset, batches, replicas, batch_timeout_s=batch_timeout_s,
                           **watch)

    overrides = {"server_target_qps": float(qps), "min_duration_ms": 0,
                 "min_query_count": int(queries), "max_query_count": int(queries),
                 "schedule_rng_seed": int(seed), "sample_index_rng_seed": int(seed),
                 "qsl_rng_seed": int(seed)}
    return CaptureSession(harness, scenario="Server", out=out, first_mode="PerformanceOnly",
                          overrides=overrides, overwrite=overwrite, log=log,
                          experiment=experiment, sut_factory=factory)


def measure(latency_s, correct, ok, slo_s, warmup=None, batches=BATCHES):
    """Measured TQ at the SLO, accuracy, p99 and SLO violations of rows in issue order, after
    the warm-up share, with batch-means standard errors. Pure: arrays in, dict out."""
    from .. import routing
    from ._route import WARMUP

    warmup = WARMUP if warmup is None else warmup
    latency_s, correct, ok = (np.asarray(a) for a in (latency_s, correct, ok))
    start = int(round(warmup * latency_s.size))
    lat, cor, good = latency_s[start:], correct[start:].astype(bool), ok[start:].astype(bool)
    if lat.size < 2 * batches:
        raise UserError(f"{lat.size} samples after the warm-up: too few for {batches} batch means; "
                        f"run more queries (≥ {MIN_QUERIES})")
    late = ~good | (lat > slo_s)  # an errored or cancelled sample is no answer in time
    tq, tq_se = routing.batch_means((cor & good & ~late).astype(float), batches)
    acc, acc_se = routing.batch_means((cor & good).astype(float), batches)
    viol, viol_se = routing.batch_means(late.astype(float), batches)
    usable = lat.size - lat.size % batches
    per_batch = lat[lat.size - usable:].reshape(batches, -1)
    return {"samples": int(lat.size), "warmup_samples": start, "tail_quality": tq,
            "tail_quality_se": tq_se, "accuracy": acc, "accuracy_se": acc_se,
            "p99_s": float(tailquality.loadgen_percentile(lat, 0.99)),
            "p99_se_s": float(np.std([tailquality.loadgen_percentile(b, 0.99) for b in per_batch],
                                     ddof=1) / math.sqrt(batches)),
            "mean_s": float(lat.mean()), "slo_violations": viol, "slo_violations_se": viol_se,
            "status_not_ok": int((~good).sum())}


def compare(plan, measured):
    """The plan's analytic prediction against the measurement (``_plan_verify``'s names)."""
    on_time = plan.get("predicted_on_time")
    analytic = {"tail_quality": plan.get("predicted_tail_quality"), "accuracy": plan.get("accuracy"),
                "p99_s": plan.get("predicted_p99_s"),
                "slo_violations": None if on_time is None else 1.0 - on_time,
                "mean_s": plan.get("predicted_mean_s"), "predictor": plan.get("predictor")}
    m, p = measured, analytic["tail_quality"]
    se = m["tail_quality_se"]
    return {"analytic": analytic, "simulated": None,
            "z_tail_quality_analytic": (m["tail_quality"] - p) / se if p is not None and se > 0 else None,
            "diff_tail_quality_analytic": None if p is None else m["tail_quality"] - p}


def verify_pipeline_plan(plan, catalog, *, out, queries=3000, seed=0, log=print,
                         pipeline=None, batch_timeout_s=None, overwrite=False,
                         experiment=None):
    """Deploy the plan, run LoadGen's Server scenario at its load, write and return the record.

    ``batch_timeout_s`` (default: the plan's SLO): a batch leaves early once its oldest query
    has waited that long at its stage. At the SLO it fires only for queries already late, so
    it does not change the on-time share the planner predicts (whose batches wait for b).
    ``pipeline``: the registered pipeline's name; None lets the catalog find the one whose
    stages hold the plan's variants (by stage or harness names: ``enc-cnn`` or
    ``pipe-enc-cnn``)."""
    d = _plan_dict(plan)
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < MIN_QUERIES:
        raise UserError(f"--queries {queries!r}: must be a whole number ≥ {MIN_QUERIES}")
    slo_s, qps = float(d["slo_s"]), float(d["qps"])
    timeout = slo_s if batch_timeout_s is None else float(batch_timeout_s)
    if os.path.exists(os.path.join(out, VERIFY_FILE)) and not overwrite:
        raise UserError(f"--out {out}: already holds {VERIFY_FILE}; give --overwrite or another --out")
    choices = [(c["stage"], c["variant"], int(c["threads"])) for c in d["choices"]]
    harness, stages = catalog.build_pipeline(pipeline, choices)  # None: the one holding them
    pipeline = pipeline or (harness.params or {}).get("pipeline")
    session = deploy_pipeline(stages, harness, batches=[c["batch"] for c in d["choices"]],
                              replicas=[c["replicas"] for c in d["choices"]], out=out, qps=qps,
                              queries=queries, batch_timeout_s=timeout, seed=seed,
                              overwrite=overwrite, log=log, experiment=experiment)
    with session:
        index = session.passes
        session.run(["PerformanceOnly"])
        batches = session.sut.stage_batches()
    from .. import records
    from ._route import WARMUP, _write, scored_pass

    run = records.load_run(out)
    sel, correct = scored_pass(run, index, harness, session.total)
    latency = run["latency_ns"][sel].astype(np.float64) / 1e9
    ok = run["status"][sel] == "ok"
    meas = measure(latency, correct, ok, slo_s)
    test = run.metadata["tests"][index]
    meas["wait_mean_s"] = float(np.nanmean(run["wait_ns"][sel].astype(np.float64))) / 1e9
    meas["service_mean_s"] = float(np.nanmean(run["service_ns"][sel].astype(np.float64))) / 1e9
    meas["stages"] = (test.get("routing") or {}).get("stages")
    # every full batch's busy time per stage, in seconds: how long a replica was occupied by
    # it as the stages ran here (issue 15's trap: threads on shared cores run slower than a
    # profile taken alone) — the in-situ profile of the deployed (variant, batch)
    meas["stage_samples"] = [
        {"stage": c["stage"], "variant": c["variant"], "batch": c["batch"],
         "samples_s": (b["busy_ns"][b["size"] == c["batch"]] / 1e9).tolist()}
        for c, b in zip(d["choices"], batches)]
    meas["load_average_1min"] = os.getloadavg()[0]  # other work on the machine, after the test
    doc = {"format": FORMAT, "version": VERSION, "mode": "pipeline", "pipeline": pipeline,
           "plan": d, "qps": qps, "slo_s": slo_s, "queries": queries, "seed": seed,
           "pass": index, "warmup_share": WARMUP, "loadgen_result": test.get("loadgen_result"),
           "batch_timeout_s": timeout,
           "deployed": [{"stage": c["stage"], "variant": c["variant"], "batch": c["batch"],
                         "replicas": c["replicas"], "threads": c["threads"]} for c in d["choices"]],
           "measured": meas, "predicted": compare(d, meas)}
    _write(os.path.join(out, VERIFY_FILE), doc)  # _route's: JSON-safe, atomic
    for line in summary_lines(doc):
        log(line)
    return doc


def summary_lines(doc):
    m, a = doc["measured"], doc["predicted"]["analytic"]

    def ms(v):
        return "—" if v is None else f"{v * 1e3:.3f} ms"

    def num(v):
        return "—" if v is None else f"{v:.4f}"

    deployed = ", ".join(f"{c['stage']} {c['variant']} b{c['batch']}×{c['replicas']}"
                         for c in doc["deployed"])
    return [f"pipeline plan ({doc['plan'].get('objective')}) verified under LoadGen Server at "
            f"{doc['qps']:g} QPS, SLO {doc['slo_s'] * 1e3:g} ms, {m['samples']} samples after "
            f"the warm-up: {deployed}",
            f"  {'':<16} {'measured':>20} {'analytic':>12}",
            f"  {'tail quality':<16} {m['tail_quality']:>11.4f} ± {m['tail_quality_se']:.4f} "
            f"{num(a['tail_quality']):>12}",
            f"  {'accuracy':<16} {m['accuracy']:>11.4f} ± {m['accuracy_se']:.4f} "
            f"{num(a['accuracy']):>12}",
            f"  {'p99 latency':<16} {ms(m['p99_s']):>11} ± {m['p99_se_s'] * 1e3:.3f} "
            f"{ms(a['p99_s']):>12}",
            f"  {'SLO violations':<16} {m['slo_violations']:>11.4f} ± {m['slo_violations_se']:.4f} "
            f"{num(a['slo_violations']):>12}"]


def pipeline_planning_profiles(profiles, pipeline):
    """``planning.VariantProfile`` records of a pipeline's stage variants from their captured
    profiles (``tailq profile --harness pipe-…``), named as the pipeline names them (the
    harness name without ``pipe-``), each with its recorded stage."""
    from ._profile_records import planning_profiles

    names = {h: h[len("pipe-"):] for _, hs in pipeline.stages for h in hs}
    mine = [p for p in profiles if p.variant in names]
    if not mine:
        raise UserError(f"--profiles: none of pipeline {pipeline.name}'s stage variants "
                        f"({', '.join(names)}) was profiled; run `tailq profile --harness ...`")
    out = []
    for vp in planning_profiles(mine):
        import dataclasses
        out.append(dataclasses.replace(vp, name=names[vp.name]))
    return tuple(out)


def in_pipeline_profiles(profiles, docs):
    """Profiles as the stages ran in the pipeline (issue 15's lesson: profile stages under the
    conditions they run in), from verify records (``docs``) of deployments of them.

    Each (variant, batch) a record deployed gets the busy times measured there (every run's
    pooled) as its samples; the variant's other batch sizes keep their alone samples scaled by
    the ratio of its measured mean busy time to its alone mean service at the batch sizes that
    were measured (their mean). Variants no record deployed are returned as they are. Returns
    ``(profiles, {variant: ratio})``. Pure: records in, records out."""
    import dataclasses

    from .. import planning

    busy = {}
    for doc in docs:
        for st in doc["measured"]["stage_samples"]:
            key = (st["variant"], int(st["batch"]))
            busy.setdefault(key, []).extend(st["samples_s"])
    out, ratios = [], {}
    for p in profiles:
        measured = {b: np.asarray(x, dtype=np.float64) for (v, b), x in busy.items()
                    if v == p.name and len(x) > 0}
        alone = {s.batch: s for s in p.service if s.batch in measured}
        if not alone:
            out.append(p)
            continue
        ratio = float(np.mean([measured[b].mean() / alone[b].mean_s for b in alone]))
        ratios[p.name] = ratio
        service = tuple(planning.ServiceSamples(s.batch, s.threads, measured[s.batch])
                        if s.batch in alone else
                        planning.ServiceSamples(s.batch, s.threads, s.seconds * ratio)
                        for s in p.service)
        out.append(dataclasses.replace(p, service=service))
    return tuple(out), ratios
