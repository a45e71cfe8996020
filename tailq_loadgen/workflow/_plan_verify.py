"""``tailq plan --verify``: a plan on the pool SUT under LoadGen's Server scenario, measured.

The plan's layout is deployed (``_plan_deploy.deploy_plan``), one Server test runs at the
plan's QPS routed by its split, and every sample is scored by the family's metric
(``_route.scored_pass``). After the warm-up share (``_route.WARMUP`` of the jobs by issue
time, as routing leaves out) the pass gives: tail quality at the SLO (share correct *and*
LoadGen latency ≤ SLO), accuracy, p99 latency, SLO violations (share with latency > SLO) and
each variant's realised share, each with a standard error from 20 consecutive batch means
(``routing.batch_means``; the p99's from the spread of the 20 batches' own p99s, which
describes a batch's p99 and so is an approximation for the whole pass's). Against them: the
plan's analytic prediction and the routing simulator's (``plan.json``'s ``simulated``), with
``z = (measured − predicted) / √(se_measured² + se_predicted²)`` for tail quality (the
analytic prediction has no sampling error; the simulator's has its batch-means one).

``RUN/verify.json`` (``FORMAT`` "tailq-plan-verify", ``VERSION`` 1, first version) holds the
plan, the layout, the pass, the measurements, the predictions and the z's.
"""

import math
import os

import numpy as np

from .._errors import UserError
from . import _plan, _plan_deploy, _route
from ._pipeline_verify import measure

VERIFY_FILE = "verify.json"
FORMAT = "tailq-plan-verify"
VERSION = 1
BATCHES = 20
DEFAULT_QUERIES = 2000


def measure_pass(run, index, harness, slo_s, layout, planned_shares=None):
    """Measured tail quality, accuracy, p99, SLO violations and shares of one pool pass;
    ``planned_shares`` (default the layout's): the split the pass was routed by, to hold the
    realised shares against (a segment of ``tailq adapt`` on a union layout)."""
    planned_shares = layout.shares if planned_shares is None else tuple(planned_shares)
    from .. import routing

    sel, correct = _route.scored_pass(run, index, harness, None)  # correct only where ok
    start = int(round(_route.WARMUP * sel.size))
    if sel.size - start < 2 * BATCHES:
        raise UserError(f"{run.path}: pass {index} has {sel.size - start} samples after the warm-up; "
                        f"run more queries (≥ {3 * BATCHES})")
    ok = run["status"][sel] == "ok"
    latency = run["latency_ns"][sel].astype(np.float64) / 1e9
    out = measure(latency, correct, ok, slo_s, warmup=_route.WARMUP, batches=BATCHES)
    sel = sel[start:]
    variant = run["variant"][sel]
    service = (run["latency_ns"][sel] - run["wait_ns"][sel]).astype(np.float64) / 1e9
    shares, in_pool = {}, {}
    for v, planned in zip(layout.variants, planned_shares):
        mine = variant == v
        share, share_se = routing.batch_means(mine.astype(float), BATCHES)
        shares[v] = {"planned": planned, "measured": share, "se": share_se}
        in_pool[v] = {"mean_service_s": float(service[mine].mean()) if mine.any() else None,
                      "planned_mean_service_s": layout.mean_service_s[layout.variants.index(v)]}
    out.update(shares=shares, in_pool_service=in_pool)
    return out


def _z(measured, se_measured, predicted, se_predicted=0.0):
    if predicted is None:
        return None
    se = math.hypot(se_measured, se_predicted or 0.0)
    return (measured - predicted) / se if se > 0 else None


def compare(plan_doc, measured):
    """Predicted (analytic, simulator) against measured, with z's for tail quality."""
    p, sim = plan_doc["plan"], plan_doc.get("simulated") or {}
    analytic = {"tail_quality": p["predicted_tail_quality"], "accuracy": p["accuracy"],
                "p99_s": p.get("predicted_p99_s"),
                "slo_violations": 1.0 - p["predicted_on_time"]
                if p.get("predicted_on_time") is not None else None,
                "predictor": p["predictor"]}
    simulated = ({"tail_quality": sim.get("tail_quality"), "tail_quality_se": sim.get("tail_quality_se"),
                  "accuracy": sim.get("accuracy"), "p99_s": sim.get("p99_s"),
                  "slo_violations": 1.0 - sim["on_time"] if sim.get("on_time") is not None else None,
                  "predictor": sim.get("predictor")} if sim else None)
    m = measured
    out = {"analytic": analytic, "simulated": simulated,
           "z_tail_quality_analytic": _z(m["tail_quality"], m["tail_quality_se"],
                                         analytic["tail_quality"]),
           "diff_tail_quality_analytic": m["tail_quality"] - analytic["tail_quality"]}
    if simulated:
        out["z_tail_quality_simulated"] = _z(m["tail_quality"], m["tail_quality_se"],
                                             simulated["tail_quality"],
                                             simulated["tail_quality_se"])
        out["diff_tail_quality_simulated"] = m["tail_quality"] - simulated["tail_quality"]
    return out


def verify_plan(plan_path, *, out, build_harnesses, queries=DEFAULT_QUERIES, seed=0, count=None,
                overwrite=False, releases_gil=True, log=print, experiment=None, executor="thread",
                process_builder=None, executor_reason=None):
    """Deploy ``plan_path``'s plan, run it under LoadGen, write and return ``OUT/verify.json``.

    ``build_harnesses(names)``: the harnesses of those variants, in that order (the CLI's;
    called after the plan is checked). ``count``: the dataset items to serve; by default
    those the variants were profiled on (``_plan.profiled_samples``). ``executor`` …: where
    the servers compute (``_plan_deploy.deploy_plan``)."""
    from .. import records

    doc = _plan.load_plan(plan_path)
    if doc["plan"]["mode"] == "pipeline":
        raise UserError(f"--verify {plan_path}: a pipeline plan; verify it with "
                        "workflow.verify_pipeline_plan (the pipeline SUT), as `tailq plan --verify` does")
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 3 * BATCHES:
        raise UserError(f"--queries {queries!r}: must be a whole number ≥ {3 * BATCHES} (the "
                        f"statistics use {BATCHES} batch means after the warm-up)")
    if os.path.exists(os.path.join(out, VERIFY_FILE)) and not overwrite:
        raise UserError(f"--out {out}: already holds {VERIFY_FILE}; give --overwrite or another --out")
    if count is None:
        count = _plan.profiled_samples(doc)  # score the items the accuracy was profiled on
    layout = _plan_deploy.pool_layout(doc["plan"])
    qps, slo_s = float(doc["plan"]["qps"]), float(doc["plan"]["slo_s"])
    session, harness = _plan_deploy.deploy_plan(
        layout, build_harnesses(list(layout.variants)), out=out, qps=qps, queries=queries,
        count=count, overwrite=overwrite, log=log, experiment=experiment,
        releases_gil=releases_gil, executor=executor, process_builder=process_builder,
        executor_reason=executor_reason)
    with session:
        index = _plan_deploy.verify_segment(session, layout, qps, seed, slo_s=slo_s)
    run = records.load_run(out)
    measured = measure_pass(run, index, harness, slo_s, layout)
    test = run.metadata["tests"][index]
    result = {"format": FORMAT, "version": VERSION, "plan_file": os.path.abspath(
                  os.path.join(plan_path, _plan.PLAN_FILE) if os.path.isdir(plan_path) else plan_path),
              "plan": doc["plan"], "layout": layout.as_dict(), "qps": qps, "slo_s": slo_s,
              "queries": queries, "count": count, "seed": seed, "pass": index,
              "executor": executor, "executor_reason": executor_reason,
              "warmup_share": _route.WARMUP,
              "loadgen_result": test.get("loadgen_result"),
              "handoff": (test.get("routing") or {}).get("handoff_ns"),
              "measured": measured, "predicted": compare(doc, measured)}
    _route._write(os.path.join(out, VERIFY_FILE), result)
    for line in verify_lines(result):
        log(line)
    return result


def _ms(v):
    return "—" if v is None else f"{v * 1e3:.3f} ms"


def verify_lines(doc):
    """What ``tailq plan --verify`` prints: predicted against measured, one quantity a line."""
    m, pr = doc["measured"], doc["predicted"]
    a, s = pr["analytic"], pr["simulated"] or {}
    lines = [f"plan verified under LoadGen Server at {doc['qps']:g} QPS, SLO "
             f"{doc['slo_s'] * 1e3:g} ms, {m['samples']} samples after the warm-up:",
             f"  {'':<16} {'measured':>20} {'analytic':>12} {'simulator':>12}",
             f"  {'tail quality':<16} {m['tail_quality']:>11.4f} ± {m['tail_quality_se']:.4f} "
             f"{a['tail_quality']:>12.4f} {s.get('tail_quality', float('nan')):>12.4f}",
             f"  {'accuracy':<16} {m['accuracy']:>11.4f} ± {m['accuracy_se']:.4f} "
             f"{a['accuracy']:>12.4f} {s.get('accuracy', float('nan')):>12.4f}",
             f"  {'p99 latency':<16} {_ms(m['p99_s']):>11} ± {m['p99_se_s'] * 1e3:.3f} "
             f"{_ms(a['p99_s']):>12} {_ms(s.get('p99_s')):>12}",
             f"  {'SLO violations':<16} {m['slo_violations']:>11.4f} ± {m['slo_violations_se']:.4f} "
             f"{_fmt(a['slo_violations']):>12} {_fmt(s.get('slo_violations')):>12}"]
    validity = (doc.get("loadgen_result") or {}).get("result_validity")
    if validity:
        lines.append(f"  LoadGen's own verdict, p99 against the SLO as its latency bound: {validity}")
    z_a, z_s = pr["z_tail_quality_analytic"], pr.get("z_tail_quality_simulated")
    lines.append(f"  tail quality z: analytic {_fmt(z_a, '.2f')}, simulator {_fmt(z_s, '.2f')}")
    for v, sh in m["shares"].items():
        svc = m["in_pool_service"][v]
        lines.append(f"  {v}: share {sh['measured']:.3f} ± {sh['se']:.3f} (planned "
                     f"{sh['planned']:.3f}), in-pool mean service {_ms(svc['mean_service_s'])} "
                     f"(planned {_ms(svc['planned_mean_service_s'])})")
    return lines


def _fmt(v, spec=".4f"):
    return "—" if v is None else format(v, spec)
