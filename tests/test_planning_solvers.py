"""MILP (HiGHS) against exact enumeration, brute force, and the plans' stated constraints."""

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import optimize

from _planning_instances import pipeline_instance, variant_set_instance
from tailq_loadgen import planning as P
from tailq_loadgen.planning import _latency, _variant_set

SEEDS = range(260)


def _plan_or_error(fn, kw, **extra):
    try:
        return fn(**kw, **extra)
    except P.PlanningError as exc:
        return exc


def _ipa_objective(seed):
    acc = "normalised" if seed % 2 else "pipeline"
    return P.IPAObjective.for_task("video" if seed % 3 == 0 else "nlp", accuracy=acc)


def _pipeline_key(plan):
    return [(c.stage, c.variant, c.threads, c.batch, c.replicas) for c in plan.choices]


def _same_optimum(a, b, key):
    if isinstance(a, Exception) or isinstance(b, Exception):
        assert type(a) is type(b), (a, b)
        return False
    assert key(a) == key(b)
    assert a.objective_value == pytest.approx(b.objective_value, rel=1e-12, abs=1e-12)
    return True


def test_milp_and_enumeration_agree_on_random_pipelines():
    """IPA mode: MILP with replicas as integer variables against enumeration with n = ⌈λ/h⌉,
    both accuracy versions, ties included (duplicated variants); ≥ 200 feasible instances."""
    feasible = 0
    for seed in SEEDS:
        kw = pipeline_instance(seed)
        obj = _ipa_objective(seed)
        a = _plan_or_error(P.plan_pipeline, kw, objective=obj, solver="milp")
        b = _plan_or_error(P.plan_pipeline, kw, objective=obj, solver="enumerate")
        feasible += _same_optimum(a, b, _pipeline_key)
    assert feasible >= 200


def test_milp_and_enumeration_agree_on_random_variant_sets():
    """InfAdapter mode: ≥ 200 feasible instances, reload cost and ties included."""
    feasible = 0
    for seed in SEEDS:
        kw = variant_set_instance(seed)
        a = _plan_or_error(P.plan_variant_set, kw, solver="milp")
        b = _plan_or_error(P.plan_variant_set, kw, solver="enumerate")
        feasible += _same_optimum(a, b, lambda p: [(c.variant, c.cores) for c in p.choices])
    assert feasible >= 200


def _brute_force_pipeline(kw, objective):
    """Every (variant, threads, batch) per stage with n = ⌈λ/h⌉, first best in the canonical
    order — a plain loop, to check the enumeration's vectorising and dominance pruning."""
    qps, slo = kw["qps"], kw["slo_s"]
    stages = sorted({p.stage for p in kw["profiles"]}, key=lambda s: int(s[1:]))
    per_stage = []
    for s in stages:
        profs = [p for p in kw["profiles"] if p.stage == s]
        terms = P.rank_normalised([p.accuracy for p in profs], [p.name for p in profs])
        opts = []
        for vi, p in enumerate(profs):
            for t in p.threads_profiled:
                for b, bp in sorted(_latency.batch_profiles(p, t, kw["batch_sizes"]).items()):
                    n = max(1, math.ceil(qps / bp.throughput_qps * (1 - 1e-9)))
                    opts.append(dict(vi=vi, p=p, t=t, b=b, n=n, lat=bp.p99_s + (b - 1) / qps,
                                     term=terms[vi]))
        opts.sort(key=lambda o: (o["n"] * o["t"], o["b"], o["vi"], o["t"]))
        per_stage.append(opts)
    best, best_combo = -math.inf, None
    values = []
    for combo in itertools.product(*per_stage):
        cores = sum(o["n"] * o["t"] for o in combo)
        if sum(o["lat"] for o in combo) > slo * (1 + 1e-9) or any(o["n"] > kw["max_replicas"] for o in combo):
            continue
        if kw["max_cores"] is not None and cores > kw["max_cores"]:
            continue
        cost = sum(objective.beta * o["n"] * o["t"] + objective.gamma * o["b"] for o in combo)
        acc = (sum(o["term"] for o in combo) if objective.accuracy == "normalised"
               else math.prod(o["p"].accuracy for o in combo))
        values.append((objective.alpha * acc - cost, combo))
    if not values:
        return None
    best = max(v for v, _ in values)
    for v, combo in values:
        if v >= best - 1e-9 * max(1, abs(best)):
            return best, [(o["p"].name, o["t"], o["b"], o["n"]) for o in combo]


def test_enumeration_matches_a_plain_brute_force():
    checked = 0
    for seed in range(300, 360):
        kw = pipeline_instance(seed, stages=2, variants=2)
        obj = _ipa_objective(seed)
        ref = _brute_force_pipeline(kw, obj)
        got = _plan_or_error(P.plan_pipeline, kw, objective=obj, solver="enumerate")
        if ref is None:
            assert isinstance(got, P.CapacityError | P.SLOInfeasibleError)
            continue
        checked += 1
        assert got.objective_value == pytest.approx(ref[0], rel=1e-12)
        assert [(c.variant, c.threads, c.batch, c.replicas) for c in got.choices] == ref[1]
    assert checked >= 40


def test_ties_are_broken_the_same_way_every_time():
    """Two identical variants: the first in the given order wins, in both solvers, every time."""
    kw = variant_set_instance(7, variants=2, budget=8)
    twin = P.VariantProfile("v0-twin", kw["profiles"][0].service, accuracy=kw["profiles"][0].accuracy,
                            capacity=kw["profiles"][0].capacity, load_time_s=kw["profiles"][0].load_time_s)
    cap = 0.8 * P.linear_capacity(twin.capacity, [8])[0]
    kw = dict(kw, profiles=[kw["profiles"][0], twin], current={}, qps=0.3 * cap)
    picks = {tuple((c.variant, c.cores) for c in P.plan_variant_set(**kw, solver=s).choices)
             for s in ("milp", "enumerate") for _ in range(3)}
    assert len(picks) == 1
    assert all(not v.endswith("twin") or any(u == "v0" for u, _ in next(iter(picks)))
               for v, _ in next(iter(picks)))


def _check_pipeline_constraints(plan, kw):
    """Recompute every stated constraint from the profiles themselves (not the plan's numbers)."""
    by_name = {p.name: p for p in kw["profiles"]}
    total_latency, cores = 0.0, 0
    for c in plan.choices:
        bp = _latency.batch_profiles(by_name[c.variant], c.threads, (c.batch,))[c.batch]
        total_latency += bp.p99_s + (c.batch - 1) / kw["qps"]
        assert c.replicas * c.batch / bp.mean_s >= kw["qps"] * (1 - 1e-9)
        assert 1 <= c.replicas <= kw["max_replicas"]
        assert c.batch in kw["batch_sizes"]
        cores += c.replicas * c.threads
    if plan.objective != "tq":
        assert total_latency <= kw["slo_s"] * (1 + 1e-9)
    if kw["max_cores"] is not None:
        assert cores <= kw["max_cores"]
    assert cores == plan.cores
    assert len(plan.choices) == len({p.stage for p in kw["profiles"]})


def _check_variant_set_constraints(plan, kw):
    by_name = {p.name: p for p in kw["profiles"]}
    lo = 1 if kw.get("min_cores", 2) == 1 else 2
    assert sum(c.cores for c in plan.choices) <= kw["max_cores"]
    total_capacity = 0.0
    for c in plan.choices:
        assert lo <= c.cores <= kw["max_cores"]
        cap = 0.8 * _variant_set.linear_capacity(by_name[c.variant].capacity, [c.cores])[0]
        assert c.capacity_qps == pytest.approx(cap, rel=1e-12)
        assert c.qps <= cap * (1 + 1e-9)
        total_capacity += cap
    assert total_capacity >= kw["qps"] * (1 - 1e-9)
    assert sum(c.share for c in plan.choices) == pytest.approx(1.0, rel=1e-9)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), solver=st.sampled_from(["milp", "enumerate"]))
def test_a_pipeline_plan_never_violates_its_constraints(seed, solver):
    kw = pipeline_instance(seed)
    plan = _plan_or_error(P.plan_pipeline, kw, objective=_ipa_objective(seed), solver=solver)
    if isinstance(plan, Exception):
        return
    assert plan.feasible
    _check_pipeline_constraints(plan, kw)
    json.loads(json.dumps(plan.as_dict(), allow_nan=False))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), solver=st.sampled_from(["milp", "enumerate"]),
       split=st.sampled_from(["greedy", "lp"]))
def test_a_variant_set_plan_never_violates_its_constraints(seed, solver, split):
    kw = variant_set_instance(seed)
    plan = _plan_or_error(P.plan_variant_set, kw, solver=solver, split=split)
    if isinstance(plan, Exception):
        return
    assert plan.feasible
    _check_variant_set_constraints(plan, kw)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1))
def test_tail_quality_plans_keep_their_constraints_too(seed):
    kw = pipeline_instance(seed, stages=2, variants=2, batch_cap=2)
    kw["max_cores"] = kw["max_cores"] or 400
    plan = _plan_or_error(P.plan_pipeline, kw, objective=P.TailQualityObjective(), solver="enumerate")
    if not isinstance(plan, Exception):
        assert plan.feasible and plan.objective == "tq"
        _check_pipeline_constraints(plan, kw)
        assert all(c.utilisation < 1 for c in plan.choices)
        assert 0 <= plan.predicted_tail_quality <= plan.accuracy
    kw = variant_set_instance(seed)
    plan = _plan_or_error(P.plan_variant_set, kw, objective=P.TailQualityObjective(), solver="enumerate")
    if not isinstance(plan, Exception):
        assert plan.feasible
        _check_variant_set_constraints(plan, kw)


def test_greedy_split_is_the_lp_split_under_the_paper_objective():
    """InfAdapter's greedy from the most accurate down is the LP optimum of the split with the
    accuracy as gain (a fractional knapsack); checked against scipy's linprog."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        k = int(rng.integers(1, 6))
        caps = rng.uniform(0, 100, k) * (rng.random(k) < 0.8)
        acc = rng.uniform(0.5, 1.0, k)
        qps = float(rng.uniform(0.1, 1.0) * caps.sum()) if caps.sum() > 0 else 0.0
        if qps <= 0:
            continue
        order = sorted(range(k), key=lambda m: (-acc[m], m))
        x = _variant_set._greedy_split(caps[None, :], order, qps)[0]
        lp = optimize.linprog(-acc, A_eq=np.ones((1, k)), b_eq=[qps], bounds=list(zip([0] * k, caps)),
                              method="highs")
        assert acc @ x == pytest.approx(-lp.fun, rel=1e-9)
        # InfAdapter's code: l_i = min(tp_i, λ − Σ over more accurate variants of tp_j)
        left = qps
        for m in order:
            assert x[m] == pytest.approx(min(caps[m], max(left, 0.0)))
            left -= caps[m]


def test_lp_split_fills_by_tail_quality_gain():
    kw = variant_set_instance(11, variants=3, budget=10)
    kw["qps"] = 0.3 * sum(0.8 * P.linear_capacity(p.capacity, [3])[0] for p in kw["profiles"])
    greedy = P.plan_variant_set(**kw, objective=P.TailQualityObjective(), split="greedy", solver="enumerate")
    lp = P.plan_variant_set(**kw, objective=P.TailQualityObjective(), split="lp", solver="enumerate")
    assert dict(lp.constants)["split"] == "lp" and dict(greedy.constants)["split"] == "greedy"
    assert lp.feasible and greedy.feasible


def test_reduction_to_ceil_replicas_holds_in_the_milp():
    """The MILP chooses replicas itself; at its optimum they are ⌈λ/h⌉ (our reading of IPA)."""
    for seed in range(40):
        kw = pipeline_instance(seed)
        plan = _plan_or_error(P.plan_pipeline, kw, objective=_ipa_objective(seed), solver="milp")
        if isinstance(plan, Exception):
            continue
        for c in plan.choices:
            assert c.replicas == max(1, math.ceil(kw["qps"] / c.throughput_qps * (1 - 1e-9)))


def test_every_plan_reports_its_decision():
    kw = pipeline_instance(3)
    for solver in ("milp", "enumerate"):
        plan = P.plan_pipeline(**kw, objective=P.IPAObjective(), solver=solver)
        d = plan.as_dict()
        assert d["solver"] == solver and d["decision_time_s"] > 0 and d["candidates"] > 0
        assert d["objective"] == "ipa-normalised"
        assert d["constants"] == {"alpha": 10.0, "beta": 0.5, "gamma": 1e-6, "accuracy": "normalised"}
        for field in ("predicted_tail_quality", "accuracy", "predicted_p99_s", "cores", "predictor"):
            assert field in d
        assert d["format"] == P.PLAN_FORMAT
