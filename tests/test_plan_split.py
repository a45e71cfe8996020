"""The plan's split policy (routing.Split) and the pool layout of a variant-set plan."""

import numpy as np
import pytest

from tailq_loadgen import planning, routing
from tailq_loadgen._errors import UserError
from tailq_loadgen.workflow import _plan_deploy as pd


def _pool(servers=(2, 3, 1)):
    return routing.Pool(routing.Variant(f"v{k}", n, routing.Exponential(0.002 * (k + 1)), 0.7 + 0.1 * k)
                        for k, n in enumerate(servers))


@pytest.mark.parametrize("phase", [None, 0, 1, 2])
def test_wrr_keeps_every_count_within_two_of_its_share(phase):
    pool = _pool()
    shares = [0.52, 0.31, 0.17]
    pol = routing.Split(pool, shares, phase=phase)
    state = routing.PoolState(pool.servers)
    counts = np.zeros(3)
    for i in range(1, 3001):
        s = pol.choose(state)
        counts[state.type_of[s]] += 1
        assert np.all(np.abs(counts - i * np.array(shares)) <= 2.0)
    assert pol.chosen == counts.astype(int).tolist()


def test_only_active_servers_and_least_loaded_first():
    pool = _pool((3, 2, 1))
    pol = routing.Split(pool, [1.0, 0.0, 0.0], active=[2, 0, 0])
    state = routing.PoolState(pool.servers)
    seen = []
    for _ in range(6):  # never server 2 (inactive); fills 0 and 1 alternately, fewest jobs first
        s = pol.choose(state)
        state.assign(s)
        seen.append(s)
    assert set(seen) == {0, 1}
    assert state.load[:3] == [3, 3, 0]
    state.release(1)
    assert pol.choose(state) == 1  # the one with fewer jobs


def test_bad_split_is_refused():
    pool = _pool()
    with pytest.raises(routing.RoutingError, match="sum to"):
        routing.Split(pool, [0.5, 0.2, 0.2])
    with pytest.raises(routing.RoutingError, match="no active server"):
        routing.Split(pool, [0.5, 0.5, 0.0], active=[2, 0, 1])
    with pytest.raises(routing.RoutingError, match="0…3"):
        routing.Split(pool, [0.5, 0.5, 0.0], active=[2, 4, 1])


def test_the_simulator_runs_the_split_and_realises_its_shares():
    pool = _pool((2, 2, 1))
    pol = routing.Split(pool, [0.5, 0.3, 0.2], phase=3)
    sim = routing.simulate(pool, pol, 200.0, 4000, rng=5, warmup=0.1)
    shares = np.bincount(sim.variant, minlength=3) / sim.variant.size
    assert np.allclose(shares, [0.5, 0.3, 0.2], atol=2 / 4000)
    summary = sim.summary(taus=(0.02,))
    assert summary.policy == "split" and 0 < summary.tail_quality[0.02] <= 1


def _plan(qps=80.0, slo=0.05, cores=2):
    rng = np.random.default_rng(0)
    profs = [planning.VariantProfile(f"synth-{k}", (planning.ServiceSamples(1, 1, rng.exponential(m, 400)),),
                                     accuracy=a)
             for k, (m, a) in enumerate([(0.002, 0.7), (0.004, 0.8), (0.008, 0.9)])]
    return planning.plan_variant_set(profs, qps=qps, slo_s=slo, max_cores=cores, min_cores=1,
                                     solver="enumerate")


def test_layout_of_a_plan_and_of_its_json():
    plan = _plan()
    lay = pd.pool_layout(plan)
    assert lay == pd.pool_layout(plan.as_dict())
    assert lay.variants == tuple(c.variant for c in plan.choices)
    assert lay.servers == tuple(c.cores // c.threads for c in plan.choices)
    assert abs(sum(lay.shares) - 1) < 1e-9 and lay.cores == plan.cores
    for c, m in zip(plan.choices, lay.mean_service_s):
        assert m == pytest.approx(c.utilisation * c.servers / c.qps)


def test_union_layout_and_segments():
    a = pd.PoolLayout(("x", "y"), (1, 1), (1, 1), (0.5, 0.5), (0.7, 0.9), (0.002, 0.008))
    b = pd.PoolLayout(("y", "z"), (2, 1), (1, 1), (0.8, 0.2), (0.9, 0.8), (0.008, 0.004))
    u = pd.union_layout([a, b])
    assert u.variants == ("x", "y", "z") and u.servers == (1, 2, 1)
    active, shares = pd.segment_of(u, b)
    assert active == [0, 2, 1] and shares == [0.0, 0.8, 0.2]
    pol = pd.split_policy(u, active=active, shares=shares, seed=1)
    state = routing.PoolState(u.servers)
    assert all(pol.choose(state) != 0 for _ in range(100))  # x gets nothing in b's segment


def test_layout_refuses_pipeline_plans_and_bad_fields():
    with pytest.raises(UserError, match="variant-set"):
        pd.pool_layout({"mode": "pipeline", "choices": []})
    with pytest.raises(UserError, match="lacks"):
        pd.pool_layout({"mode": "variant-set", "choices": [{"variant": "a"}]})
    with pytest.raises(UserError, match="sum"):
        pd.PoolLayout(("a",), (1,), (1,), (0.5,), (0.9,), (0.01,))
