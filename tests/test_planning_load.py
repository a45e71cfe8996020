"""Load predictors, the re-planning policy and the load patterns, on synthetic traces."""

import numpy as np
import pandas as pd
import pytest

from tailq_loadgen import planning as P

TRACE = [100, 120, 90, 300, 310, 80, 70, 75, 72, 71, 69, 400, 60]


def test_reactive_is_the_last_value_and_max_the_window_max():
    reactive = P.LoadPredictor("reactive", margin=0.0)
    window = P.LoadPredictor("max", window=3, margin=0.0)
    for i in range(1, len(TRACE)):
        assert reactive.predict(TRACE[:i]) == TRACE[i - 1]
        assert window.predict(TRACE[:i]) == max(TRACE[max(0, i - 3):i])
        assert window.predict(TRACE[:i]) >= reactive.predict(TRACE[:i])


@pytest.mark.parametrize("span", [1, 3, 10, 25.5])
def test_ewma_is_pandas_ewm_mean(span):
    ewma = P.LoadPredictor("ewma", span=span, margin=0.0)
    for i in range(1, len(TRACE) + 1):
        expected = pd.Series(TRACE[:i], dtype=float).ewm(span=span).mean().iloc[-1]
        assert ewma.predict(TRACE[:i]) == pytest.approx(expected, rel=1e-12)
        assert min(TRACE[:i]) <= ewma.predict(TRACE[:i]) <= max(TRACE[:i])


def test_margin_and_percentile():
    assert P.LoadPredictor("reactive").predict([100.0]) == pytest.approx(110.0)   # InfAdapter's +10%
    vpa = P.LoadPredictor("percentile", window=4, percentile=90, margin=0.15)
    assert vpa.predict(TRACE) == pytest.approx(np.percentile(TRACE[-4:], 90) * 1.15)
    assert vpa.name == "p90-4+15%" and P.LoadPredictor().name == "ewma-10+10%"
    with pytest.raises(P.PlanningError):
        P.LoadPredictor("lstm")
    with pytest.raises(P.PlanningError):
        P.LoadPredictor("reactive").predict([])


def test_policy_scales_up_at_once_and_down_after_four_held_decisions():
    policy = P.ReplanPolicy()            # InfAdapter: stabilisation interval 4
    state = P.PolicyState(100.0)
    decisions = []
    for predicted in [150, 90, 90, 90, 90, 90, 80, 200, 50]:
        d, state = policy.step(state, predicted)
        decisions.append((d.replan, d.planned_qps, d.reason))
    assert decisions == [(True, 150, "up"), (False, 150, "held"), (False, 150, "held"),
                         (False, 150, "held"), (False, 150, "held"), (True, 90, "down"),
                         (False, 90, "held"), (True, 200, "up"), (False, 200, "held")]
    every = P.ReplanPolicy(stabilisation=0)     # IPA re-plans at every decision
    d, _ = every.step(P.PolicyState(100.0), 50.0)
    assert d.replan and d.planned_qps == 50.0


def test_a_higher_load_resets_the_held_count():
    policy = P.ReplanPolicy(stabilisation=2)
    state = P.PolicyState(100.0)
    out = []
    for predicted in [90, 90, 120, 90, 90, 90]:
        d, state = policy.step(state, predicted)
        out.append(d.reason)
    assert out == ["held", "held", "up", "held", "held", "down"]


def test_adaptation_schedule_calls_the_planner_once_per_replan():
    calls = []

    def make_plan(qps):
        calls.append(qps)
        return f"plan@{qps:.0f}"

    steps = P.adaptation_schedule(TRACE, P.LoadPredictor("reactive", margin=0.1), P.ReplanPolicy(),
                                  make_plan=make_plan)
    assert len(steps) == len(TRACE) and steps[0].reason == "initial"
    assert len(calls) == sum(s.replanned for s in steps)
    for s in steps[1:]:
        assert s.predicted_qps == pytest.approx(TRACE[s.segment - 1] * 1.1)
        assert s.plan == f"plan@{s.planned_qps:.0f}"
    assert steps[1].planned_qps == pytest.approx(110.0)
    assert steps[4].reason == "up" and steps[4].planned_qps == pytest.approx(330.0)


@pytest.mark.parametrize("name", P.LOAD_PATTERNS)
def test_load_patterns_are_seeded_and_scaled(name):
    a = P.load_pattern(name, 200.0, segments=24, seed=3)
    assert a == P.load_pattern(name, 200.0, segments=24, seed=3)
    assert len(a.qps) == 24
    q = np.array(a.qps)
    assert np.all(q >= 0.05 * 200) and np.all(q <= 0.95 * 200)
    half = np.array(P.load_pattern(name, 100.0, segments=24, seed=3).qps)
    assert np.allclose(half * 2, q)


def test_load_pattern_shapes():
    low = np.array(P.load_pattern("steady-low", 100.0, seed=1).qps)
    high = np.array(P.load_pattern("steady-high", 100.0, seed=1).qps)
    flu = np.array(P.load_pattern("fluctuating", 100.0, seed=1).qps)
    burst = np.array(P.load_pattern("bursty", 100.0, seed=1).qps)
    assert low.max() < 35 and high.min() > 75
    assert flu.max() - flu.min() > 45
    assert (burst > 80).sum() >= 3 and np.median(burst) < 35
    with pytest.raises(P.PlanningError):
        P.load_pattern("spiky", 100.0)
