"""Routing policies and the pool state they read: correctness of the O(1) state, determinism,
snapshots, the plan each policy reports, and its input errors."""

import json

import numpy as np
import pytest

from tailq_loadgen import routing as R

MU, ACC = (2.0, 1.0, 0.5), (0.7, 0.8, 0.9)


def pool(n=10):
    return R.Pool.exponential(MU, ACC, n)


def test_pool_state_matches_brute_force():
    rng = np.random.default_rng(0)
    servers = [3, 1, 5]
    st = R.PoolState(servers)
    load = [0] * sum(servers)
    first = [0, 3, 4]
    for _ in range(5000):
        s = int(rng.integers(len(load)))
        if load[s] and rng.random() < 0.5:
            st.release(s)
            load[s] -= 1
        else:
            st.assign(s)
            load[s] += 1
        assert st.load == load and st.jobs == sum(load)
        for k, n in enumerate(servers):
            mine = load[first[k]:first[k] + n]
            assert st.idle_count(k) == mine.count(0)
            idle = st.idle_server(k)
            assert (idle == -1) if 0 not in mine else load[idle] == 0 and st.type_of[idle] == k
            assert st.min_jobs(k) == min(mine)
            q = st.shortest_queue(k)
            assert st.type_of[q] == k and load[q] == min(mine)
    assert json.dumps(st.snapshot())
    with pytest.raises(ValueError):
        R.PoolState([1]).release(0)


def test_random_server_covers_its_type():
    st = R.PoolState([2, 3])
    assert [st.random_server(1, u) for u in (0.0, 0.34, 0.67, 0.999)] == [2, 3, 4, 4]


def _decisions(policy, steps=3000, seed=0):
    """Decisions against a state whose servers finish jobs at random."""
    rng = np.random.default_rng(seed)
    st = R.PoolState(policy.pool.servers)
    out = []
    for _ in range(steps):
        busy = [s for s, l in enumerate(st.load) if l]
        for s in busy:
            if rng.random() < 0.3:
                st.release(s)
        s = policy.choose(st)
        out.append(s)
        if s != R.HOLD:
            st.assign(s)
    return out


@pytest.mark.parametrize("name", ["rjiq", "pop", "jsq", "random-lp", "fastest-idle",
                                  "most-accurate", "central-queue", "single:type2"])
def test_policies_are_deterministic_given_their_rng_and_snapshot_plain_data(name):
    p, t = pool(), R.Target(0.8)
    lam = 0.45 * p.total_capacity
    a = _decisions(R.make_policy(name, p, t, load=lam, rng=5))
    b = R.make_policy(name, p, t, load=lam, rng=5)
    assert a == _decisions(b)
    assert json.loads(json.dumps(b.snapshot()))["policy"] == name
    assert json.dumps(b.describe())
    assert sum(b.snapshot()["chosen_per_type"]) == sum(1 for s in a if s != R.HOLD)


def test_rjiq_plans_with_headroom_and_reports_it():
    p, t = pool(), R.Target(0.8)
    full = R.max_feasible_load(p, t)
    pol = R.make_policy("rjiq", p, t, load=0.45 * p.total_capacity, rng=0)
    d = pol.describe()
    assert d["headroom_requested"] == d["headroom_used"] == 0.05
    assert max(pol.plan.utilisation) <= 0.95 + 1e-12
    assert np.dot(d["lp_shares"], ACC) == pytest.approx(0.8)
    # Near the accuracy-feasible load the headroom shrinks only as far as the load forces.
    high = R.make_policy("rjiq", p, t, load=0.98 * full, rng=0)
    assert high.headroom == pytest.approx(0.02)
    assert max(high.plan.utilisation) == pytest.approx(0.98)
    zero = R.make_policy("rjiq", p, t, load=0.45 * p.total_capacity, headroom=0.0, rng=0)
    assert max(zero.plan.utilisation) == pytest.approx(1.0)  # the trap variants.md describes


def test_rjiq_routes_with_the_lp_probabilities():
    p, t = pool(50), R.Target(0.8)
    pol = R.make_policy("rjiq", p, t, load=0.45 * p.total_capacity, rng=1)
    st = R.PoolState(p.servers)
    for _ in range(40000):
        pol.choose(st)  # nobody ever finishes: the type draw alone decides
    shares = np.array(pol.snapshot()["chosen_per_type"]) / 40000
    # binomial sd ≤ 0.0025; 6 sd apart fails a correct draw < 1e-8
    assert shares == pytest.approx(np.array(pol.plan.shares), abs=0.015)


@pytest.mark.parametrize("rule", ["scaled", "raw"])
def test_pop_index_obeys_its_update_rule(rule):
    p, t = pool(), R.Target(0.8)
    pol = R.make_policy("pop", p, t, rng=2, step=rule)
    assert pol.m == 3 and pol.orders[0] == (0, 1, 2) and pol.orders[-1] == (2, 1, 0)
    st = R.PoolState(p.servers)
    rng = np.random.default_rng(3)
    for i in range(5000):
        before = pol.s
        s = pol.choose(st)
        st.assign(s)
        g = ACC[st.type_of[s]]
        if rule == "raw":  # the earlier rule: η = 0.02 in accuracy units, constant
            step = 0.02 * (0.8 - g)
        else:  # scaled by D = max|a_k − a*| = 0.1; η_i = max(0.005, 0.2·500/(500 + i))
            step = max(0.005, 0.2 * 500 / (500 + i)) * (0.8 - g) / 0.1
        assert pol.s == pytest.approx(min(max(before + step, 0.0), 3.0), abs=1e-12)
        for busy in [b for b, l in enumerate(st.load) if l and rng.random() < 0.4]:
            st.release(busy)
    # s climbed off O_0 (fastest first, accuracy 0.7 < 0.8) towards the better orders.
    assert pol.s > 0.5
    assert pol.describe()["step"] == rule


def test_pop_steps_are_scale_free_and_need_no_load():
    # The same pool with gains in other units (halved) makes the same decisions: the
    # scaled step sees only (g* − g_k)/max|g_j − g*|. And POP takes no load at all.
    p = pool(3)
    a = R.make_policy("pop", p, R.Target(0.8), rng=5)
    b = R.make_policy("pop", p, R.Target(0.4, gains=(0.35, 0.4, 0.45)), rng=5)
    st_a, st_b = R.PoolState(p.servers), R.PoolState(p.servers)
    rng = np.random.default_rng(6)
    for _ in range(3000):
        sa, sb = a.choose(st_a), b.choose(st_b)
        assert sa == sb and a.s == pytest.approx(b.s, abs=1e-9)
        st_a.assign(sa), st_b.assign(sb)
        for busy in [x for x, l in enumerate(st_a.load) if l and rng.random() < 0.4]:
            st_a.release(busy), st_b.release(busy)
    import inspect
    assert "load" not in inspect.signature(R.POP).parameters
    assert (R.make_policy("pop", p, R.Target(0.8), load=1.0, rng=5).describe()
            == R.make_policy("pop", p, R.Target(0.8), load=9.0, rng=5).describe())


def test_priority_policies_prefer_idle_servers_in_their_order():
    p, t = pool(2), R.Target(0.8)
    fast = R.make_policy("fastest-idle", p, t)
    best = R.make_policy("most-accurate", p, t)
    st = R.PoolState(p.servers)
    assert st.type_of[fast.choose(st)] == 0 and st.type_of[best.choose(st)] == 2
    for s in range(2):  # type 0 busy
        st.assign(s)
    assert st.type_of[fast.choose(st)] == 1
    for s in range(6):
        if st.load[s] == 0:
            st.assign(s)
    assert st.type_of[fast.choose(st)] == 0  # nobody idle: the top type's shortest queue
    assert st.type_of[best.choose(st)] == 2


def test_jsq_and_central_queue():
    p, t = pool(1), R.Target(0.8)
    st = R.PoolState(p.servers)
    jsq, cq = R.make_policy("jsq", p, t), R.make_policy("central-queue", p, t)
    assert jsq.choose(st) == 0 and cq.choose(st) == 0  # the fastest idle
    for s in range(3):
        st.assign(s)
    st.assign(0)
    assert jsq.choose(st) == 1  # shortest queue, tie to the faster type
    assert cq.choose(st) == R.HOLD and cq.holds


def test_make_policy_errors():
    p, t = pool(), R.Target(0.8)
    with pytest.raises(R.UnknownPolicy, match="unknown policy 'fifo': choose one of rjiq, pop"):
        R.make_policy("fifo", p, t)
    with pytest.raises(R.UnknownPolicy, match="no variant 'big'"):
        R.make_policy("single:big", p, t)
    with pytest.raises(R.RoutingError, match="needs the arrival rate"):
        R.make_policy("rjiq", p, t)
    with pytest.raises(R.RoutingError, match="takes no option eta"):
        R.make_policy("rjiq", p, t, load=1.0, eta=0.1)
    with pytest.raises(R.LoadNotCarried, match="at most 20/s"):
        R.make_policy("rjiq", p, t, load=25.0)
    with pytest.raises(R.TargetUnreachable):
        R.make_policy("pop", p, R.Target(0.95))
    with pytest.raises(R.RoutingError, match="fallback"):
        R.make_policy("rjiq", p, t, load=1.0, fallback="jiq")
    with pytest.raises(R.RoutingError, match="step η"):
        R.make_policy("pop", p, t, eta=0)
    with pytest.raises(R.RoutingError, match="pop step rule 'fast': choose scaled or raw"):
        R.make_policy("pop", p, t, step="fast")
    with pytest.raises(R.RoutingError, match="eta_start and decay"):
        R.make_policy("pop", p, t, eta_start=0.5, decay=0)
    assert R.make_policy("single:type0", p, t).meets_target is False
    assert R.make_policy("single:type2", p, t).meets_target is True
