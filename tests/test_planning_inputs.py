"""Profile records, the batch-size fill, and bad input: one-line errors that name it."""

import json

import numpy as np
import pytest

from tailq_loadgen import UserError, planning as P
from tailq_loadgen.planning import _latency


def _svc(b, mean, t=1, n=200):
    return P.ServiceSamples(b, t, np.full(n, mean) * np.linspace(0.9, 1.1, n))


def _pipeline():
    return [P.VariantProfile("enc-small", [_svc(1, 0.002), _svc(2, 0.003), _svc(4, 0.005)], accuracy=0.8, stage="enc"),
            P.VariantProfile("enc-large", [_svc(1, 0.006), _svc(4, 0.015)], accuracy=0.9, stage="enc"),
            P.VariantProfile("cls-small", [_svc(1, 0.001), _svc(4, 0.002)], accuracy=0.85, stage="cls"),
            P.VariantProfile("cls-large", [_svc(1, 0.004), _svc(4, 0.009)], accuracy=0.95, stage="cls")]


def _variant_set():
    return [P.VariantProfile("small", [_svc(1, 0.002)], accuracy=0.7, load_time_s=2.0),
            P.VariantProfile("large", [_svc(1, 0.008)], accuracy=0.9, load_time_s=5.0)]


def _one_line(exc, *words):
    msg = str(exc.value)
    assert "\n" not in msg and msg
    for w in words:
        assert w in msg, (w, msg)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, UserError)
    assert exc.value.exit_code == 2


def test_profiles_validate_and_freeze():
    with pytest.raises(P.ProfileError) as e:
        P.ServiceSamples(1, 1, [])
    _one_line(e, "batch 1")
    with pytest.raises(P.ProfileError) as e:
        P.ServiceSamples(2, 1, [0.1, -1.0])
    _one_line(e, "batch 2", "positive")
    with pytest.raises(P.ProfileError) as e:
        P.ServiceSamples(0, 1, [0.1])
    _one_line(e, "batch")
    with pytest.raises(P.ProfileError) as e:
        P.VariantProfile("v", [_svc(1, 0.01)], accuracy=1.5)
    _one_line(e, "'v'", "accuracy")
    with pytest.raises(P.ProfileError) as e:
        P.VariantProfile("v", [_svc(1, 0.01)])
    _one_line(e, "'v'", "accuracy")
    with pytest.raises(P.ProfileError) as e:
        P.VariantProfile("v", [_svc(1, 0.01), _svc(1, 0.02)], accuracy=0.5)
    _one_line(e, "'v'", "same (batch, threads)")
    with pytest.raises(P.ProfileError) as e:
        P.VariantProfile("v", [_svc(1, 0.01)], accuracy=0.5, correct=[True, True])
    _one_line(e, "'v'", "differs")
    p = P.VariantProfile("v", [_svc(1, 0.01)], correct=[True, False, True, True])
    assert p.accuracy == 0.75
    assert P.VariantProfile("v", [_svc(1, 0.01)], correct=[0.5, 1.0]).accuracy == 0.75
    with pytest.raises(P.ProfileError) as e:
        P.VariantProfile("v", [_svc(1, 0.01)], correct=[0.5, 2.0])
    _one_line(e, "'v'", "[0, 1]")
    assert not p.correct.flags.writeable and not p.service[0].seconds.flags.writeable
    with pytest.raises(AttributeError):
        p.accuracy = 0.9
    assert p.service_quality(1.0) == 0.75 and p.service_quality(0.0) == 0.0


def test_quadratic_fill_of_unprofiled_batch_sizes():
    """IPA's fill: a quadratic in b through the profiled p99s; only inside the profiled range."""
    f = lambda b: 0.001 + 0.0005 * b + 0.0001 * b * b  # noqa: E731
    prof = P.VariantProfile("v", [P.ServiceSamples(b, 1, np.full(50, f(b))) for b in (1, 3, 4, 8)], accuracy=0.9)
    got = _latency.batch_profiles(prof, 1, (1, 2, 4, 6, 16))
    assert sorted(got) == [1, 2, 4, 6]                    # 16 lies outside the profiled range
    for b in (2, 6):
        assert got[b].fitted and got[b].p99_s == pytest.approx(f(b), rel=1e-9)
        assert got[b].mean_s == pytest.approx(f(b), rel=1e-9)
        assert got[b].samples.mean() == pytest.approx(f(b), rel=1e-9)
    assert not got[4].fitted and got[4].p99_s == pytest.approx(f(4))


def test_no_profile_for_a_variant():
    with pytest.raises(P.MissingProfileError) as e:
        P.plan_pipeline(_pipeline(), qps=100, slo_s=0.05, variants=["enc-small", "cls-tiny"])
    _one_line(e, "'cls-tiny'", "no profile")
    with pytest.raises(P.MissingProfileError) as e:
        P.plan_pipeline(_pipeline(), qps=100, slo_s=0.05, stages=["enc", "rerank"])
    _one_line(e, "'rerank'")
    with pytest.raises(P.MissingProfileError) as e:
        P.plan_pipeline(_pipeline(), qps=100, slo_s=0.05, batch_sizes=(16, 32))
    _one_line(e, "stage", "batch sizes")
    with pytest.raises(P.MissingProfileError) as e:
        P.plan_variant_set(_variant_set(), qps=100, slo_s=0.05, max_cores=4, threads=2)
    _one_line(e, "'small'", "thread")
    with pytest.raises(P.MissingProfileError) as e:
        P.plan_variant_set(_variant_set(), qps=100, slo_s=0.05, max_cores=4, variants=["medium"])
    _one_line(e, "'medium'")


def test_an_slo_no_configuration_meets():
    with pytest.raises(P.SLOInfeasibleError) as e:
        P.plan_pipeline(_pipeline(), qps=100, slo_s=0.002)
    _one_line(e, "SLO 2 ms", "fastest")
    with pytest.raises(P.SLOInfeasibleError) as e:
        P.plan_variant_set(_variant_set(), qps=100, slo_s=0.0015, max_cores=4)
    _one_line(e, "SLO 1.5 ms", "'small'")


def test_a_load_above_capacity():
    with pytest.raises(P.CapacityError) as e:
        P.plan_pipeline(_pipeline(), qps=1e6, slo_s=0.05, max_replicas=100)
    _one_line(e, "1e+06 QPS", "capacity")
    with pytest.raises(P.CapacityError) as e:
        P.plan_pipeline(_pipeline(), qps=2000, slo_s=0.05, max_cores=3)
    _one_line(e, "2000 QPS", "cores")
    with pytest.raises(P.CapacityError) as e:
        P.plan_variant_set(_variant_set(), qps=5000, slo_s=0.05, max_cores=4)
    _one_line(e, "5000 QPS", "4 cores")


def test_bad_arguments_name_themselves():
    cases = [
        (lambda: P.plan_pipeline(_pipeline(), qps=-1, slo_s=0.05), "qps"),
        (lambda: P.plan_pipeline(_pipeline(), qps=10, slo_s=0), "slo_s"),
        (lambda: P.plan_pipeline(_pipeline(), qps=10, slo_s=0.05, solver="gurobi"), "gurobi"),
        (lambda: P.plan_pipeline(_pipeline(), qps=10, slo_s=0.05, objective=P.InfAdapterObjective()), "infadapter"),
        (lambda: P.plan_pipeline(_pipeline(), qps=10, slo_s=0.05, objective=P.TailQualityObjective()), "enumerate"),
        (lambda: P.plan_pipeline(_pipeline(), qps=10, slo_s=0.05, batch_sizes=(0, 1)), "batch_sizes"),
        (lambda: P.plan_variant_set(_variant_set(), qps=10, slo_s=0.05, headroom=1.5), "headroom"),
        (lambda: P.plan_variant_set(_variant_set(), qps=10, slo_s=0.05, split="random"), "split"),
        (lambda: P.plan_variant_set(_variant_set(), qps=10, slo_s=0.05, objective=P.IPAObjective()), "ipa-normalised"),
        (lambda: P.plan_variant_set(_pipeline(), qps=10, slo_s=0.05), "one stage"),
        (lambda: P.plan_variant_set(_variant_set(), qps=10, slo_s=0.05, current={"small": -2}), "current"),
        (lambda: P.IPAObjective(accuracy="mean"), "mean"),
        (lambda: P.IPAObjective.for_task("robotics"), "robotics"),
        (lambda: P.InfAdapterObjective(alpha=-1), "alpha"),
    ]
    for call, word in cases:
        with pytest.raises(P.PlanningError) as e:
            call()
        _one_line(e, word)


def test_plan_as_dict_is_json_and_complete():
    plan = P.plan_pipeline(_pipeline(), qps=200, slo_s=0.05, objective=P.IPAObjective("pipeline"))
    d = json.loads(json.dumps(plan.as_dict(), allow_nan=False))
    assert d["mode"] == "pipeline" and d["objective"] == "ipa-pipeline" and d["feasible"]
    assert [c["stage"] for c in d["choices"]] == ["enc", "cls"]
    assert d["accuracy"] == pytest.approx(np.prod([c["accuracy"] for c in d["choices"]]))
    assert all(c["met"] for c in d["constraints"])
    plan = P.plan_variant_set(_variant_set(), qps=200, slo_s=0.05, max_cores=6, min_cores=1)
    d = json.loads(json.dumps(plan.as_dict(), allow_nan=False))
    assert d["mode"] == "variant-set" and d["objective"] == "infadapter"
    assert d["constants"]["alpha"] == 0.05 and d["constants"]["beta"] == 0.001
    assert sum(c["share"] for c in d["choices"]) == pytest.approx(1.0)


def test_ipa_task_constants_and_rank_normalisation():
    assert P.IPAObjective.for_task("video").constants() == {"alpha": 2.0, "beta": 1.0, "gamma": 1e-6,
                                                            "accuracy": "normalised"}
    assert P.IPAObjective.for_task("nlp", "pipeline").name == "ipa-pipeline"
    assert P.rank_normalised([0.7, 0.9, 0.8], ["a", "b", "c"]) == [0.0, 1.0, 0.5]
    assert P.rank_normalised([0.7], ["a"]) == [1.0]
    assert P.rank_normalised([0.8, 0.8], ["b", "a"]) == [1.0, 0.0]


def test_reload_cost_keeps_a_deployed_variant():
    """InfAdapter's β·reload cost: with a variant already deployed at the chosen size, a plan that
    keeps it pays nothing; β large enough makes the planner keep the current deployment."""
    profs = _variant_set()
    fresh = P.plan_variant_set(profs, qps=100, slo_s=0.05, max_cores=8, min_cores=1)
    keep = {c.variant: c.cores for c in fresh.choices}
    again = P.plan_variant_set(profs, qps=100, slo_s=0.05, max_cores=8, min_cores=1, current=keep)
    assert {c.variant: c.cores for c in again.choices} == keep
    assert again.objective_value >= fresh.objective_value
    sticky = P.plan_variant_set(profs, qps=100, slo_s=0.05, max_cores=8, min_cores=1,
                                current={"small": 3}, objective=P.InfAdapterObjective(beta=10.0))
    assert {c.variant: c.cores for c in sticky.choices} == {"small": 3}


def test_single_variant_baselines():
    profs = _variant_set()
    ms = P.plan_variant_set(profs, qps=300, slo_s=0.05, max_cores=8, min_cores=1, max_variants=1)
    assert len(ms.choices) == 1
    fixed = P.plan_variant_set(profs, qps=300, slo_s=0.05, max_cores=8, min_cores=1, variants=["large"])
    assert [c.variant for c in fixed.choices] == ["large"]
    # the fewest cores that carry the load
    fewer = fixed.choices[0].cores - 1
    cap = P.capacity_at_slo(_latency.batch_profiles(profs[1], 1, (1,))[1], fewer, 0.05) * 0.8
    assert cap < 300
