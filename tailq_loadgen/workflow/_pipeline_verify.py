"""Deploy an IPA pipeline plan on the pipeline SUT, run LoadGen's Server scenario at the plan's
load, and hold what the plan predicted against what LoadGen measured.

``verify_pipeline_plan(plan, catalog, *, out, queries, seed, log)``: ``plan`` is a
``planning.Plan`` of mode "pipeline" (or its ``as_dict()``, as ``plan.json`` holds it);
``catalog`` is the harness registry (the CLI hands ``tailq_loadgen.harnesses`` in: this room
never imports harnesses), whose ``build_pipeline(name, [(stage, variant, threads), …])`` gives
the stages' backends. One LoadGen Server test of ``queries`` queries at ``plan.qps`` runs
through ``capture/_pipeline.py`` with each stage's variant, batch size and replicas; every
sample is scored end to end (the pipeline's metric on the last stage's output).

The record (``OUT/verify.json``, :data:`FORMAT` version :data:`VERSION`) holds ``predicted``
and ``measured`` side by side — ``tail_quality`` (P(correct ∧ latency ≤ SLO)),
``accuracy``, ``p99_s`` (LoadGen's convention), ``slo_violations`` (share later than the SLO)
and ``on_time`` — with the measured standard errors (``*_se``: batch means over 20 blocks of
the queries in issue order, which carries the queue's correlation) and ``difference``
(measured − predicted). The first :data:`WARMUP` share of queries (by issue) is left out,
as the planner's prediction is of the steady state.
"""

import json
import math
import os

import numpy as np

from .. import tailquality
from .._errors import UserError

FORMAT = "tailq-plan-verify"
VERSION = 1
VERIFY_FILE = "verify.json"
WARMUP = 0.1
BLOCKS = 20
MIN_QUERIES = 200


def _plan_dict(plan):
    d = plan.as_dict() if hasattr(plan, "as_dict") else plan
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


def measure(latency_s, correct, ok, slo_s, warmup=WARMUP, blocks=BLOCKS):
    """Measured TQ at the SLO, accuracy, p99, SLO violations (rows in issue order), with
    batch-means standard errors. Pure: arrays in, dict out."""
    latency_s, correct, ok = (np.asarray(a) for a in (latency_s, correct, ok))
    start = int(round(warmup * latency_s.size))
    lat, cor, good = latency_s[start:], correct[start:] & ok[start:], ok[start:]
    on_time = good & (lat <= slo_s)
    tq = cor & on_time

    def se(x):
        x = x.astype(np.float64)
        k = min(blocks, x.size)
        if k < 2:
            return None
        means = np.array([b.mean() for b in np.array_split(x, k)])
        return float(means.std(ddof=1) / math.sqrt(k))

    p99 = float(tailquality.loadgen_percentile(lat[good], 0.99)) if good.any() else None
    return {"queries": int(lat.size), "warmup_queries": start, "errors": int((~good).sum()),
            "tail_quality": float(tq.mean()), "tail_quality_se": se(tq),
            "accuracy": float(cor.mean()), "accuracy_se": se(cor),
            "on_time": float(on_time.mean()), "slo_violations": float(1 - on_time.mean()),
            "slo_violations_se": se(~on_time), "p99_s": p99,
            "mean_s": float(lat[good].mean()) if good.any() else None}


def predicted(plan):
    """What the plan promised, in the measured record's names."""
    on_time = plan.get("predicted_on_time")
    return {"tail_quality": plan.get("predicted_tail_quality"), "accuracy": plan.get("accuracy"),
            "on_time": on_time, "slo_violations": None if on_time is None else 1 - on_time,
            "p99_s": plan.get("predicted_p99_s"), "mean_s": plan.get("predicted_mean_s"),
            "predictor": plan.get("predictor")}


def verify_pipeline_plan(plan, catalog, *, out, queries=3000, seed=0, log=print,
                         pipeline="digits-pipe", batch_timeout_s=None, overwrite=False,
                         experiment=None):
    """Deploy the plan, run LoadGen's Server scenario at its load, write and return the record.

    ``batch_timeout_s`` (default: the plan's SLO): a batch leaves early once its oldest query
    has waited that long at its stage. At the SLO it fires only for queries already late, so
    it does not change the on-time share the planner predicts (whose batches wait for b)."""
    d = _plan_dict(plan)
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < MIN_QUERIES:
        raise UserError(f"--queries {queries!r}: must be a whole number ≥ {MIN_QUERIES}")
    slo_s, qps = float(d["slo_s"]), float(d["qps"])
    timeout = slo_s if batch_timeout_s is None else float(batch_timeout_s)
    if os.path.exists(os.path.join(out, VERIFY_FILE)) and not overwrite:
        raise UserError(f"--out {out}: already holds {VERIFY_FILE}; give --overwrite or another --out")
    choices = [(c["stage"], c["variant"], int(c["threads"])) for c in d["choices"]]
    harness, stages = catalog.build_pipeline(pipeline, choices)
    session = deploy_pipeline(stages, harness, batches=[c["batch"] for c in d["choices"]],
                              replicas=[c["replicas"] for c in d["choices"]], out=out, qps=qps,
                              queries=queries, batch_timeout_s=timeout, seed=seed,
                              overwrite=overwrite, log=log, experiment=experiment)
    with session:
        index = session.passes
        session.run(["PerformanceOnly"])
        batches = session.sut.stage_batches()
    from .. import records
    from ._route import scored_pass

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
    meas["loadgen_result"] = test.get("loadgen_result")
    pred = predicted(d)
    diff = {k: (meas[k] - pred[k]) if isinstance(pred.get(k), (int, float)) and
            isinstance(meas.get(k), (int, float)) else None
            for k in ("tail_quality", "accuracy", "on_time", "slo_violations", "p99_s")}
    doc = {"format": FORMAT, "version": VERSION, "mode": "pipeline", "pipeline": pipeline,
           "run": out, "pass": index, "qps": qps, "slo_s": slo_s, "queries": queries,
           "seed": seed, "warmup_share": WARMUP, "batch_timeout_s": timeout,
           "deployed": [{"stage": c["stage"], "variant": c["variant"], "batch": c["batch"],
                         "replicas": c["replicas"], "threads": c["threads"]} for c in d["choices"]],
           "predicted": pred, "measured": meas, "difference": diff, "plan": d}
    _write(os.path.join(out, VERIFY_FILE), doc)
    for line in summary_lines(doc):
        log(line)
    return doc


def summary_lines(doc):
    p, m = doc["predicted"], doc["measured"]

    def ms(v):
        return "—" if v is None else f"{v * 1e3:.3f} ms"

    deployed = ", ".join(f"{c['stage']} {c['variant']} b{c['batch']}×{c['replicas']}"
                         for c in doc["deployed"])
    return [f"pipeline plan ({doc['plan'].get('objective')}) at {doc['qps']:g} QPS, SLO "
            f"{doc['slo_s'] * 1e3:g} ms: {deployed}",
            f"  tail quality  predicted {p['tail_quality']:.4f}  measured {m['tail_quality']:.4f} "
            f"± {m['tail_quality_se'] or 0:.4f}",
            f"  accuracy      predicted {p['accuracy']:.4f}  measured {m['accuracy']:.4f}",
            f"  p99 latency   predicted {ms(p['p99_s'])}  measured {ms(m['p99_s'])}",
            f"  SLO violations predicted {p['slo_violations']:.4f}  measured "
            f"{m['slo_violations']:.4f}"]


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _write(path, doc):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_json_safe(doc), f, indent=1, allow_nan=False)
    os.replace(tmp, path)


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
