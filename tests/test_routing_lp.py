"""The routing LP (variants.md §A): HiGHS against exact vertex enumeration, its structure,
the order sweep POP stands on, and the errors bad input gets."""

import numpy as np
import pytest

from tailq_loadgen import UserError
from tailq_loadgen import routing as R

# The prototype instance of variants.md §A: rates, accuracies, target.
MU, ACC, TARGET = (2.0, 1.0, 0.5), (0.7, 0.8, 0.9), 0.8


def prototype(n=10):
    return R.Pool.exponential(MU, ACC, n)


def random_instance(rng):
    K = int(rng.integers(2, 7))
    tau = rng.uniform(0.1, 3.0, K)
    gain = rng.uniform(0.5, 1.0, K)
    cap = rng.uniform(0.1, 5.0, K)
    level = rng.uniform(gain.min(), gain.max())
    load = rng.uniform(0.05, 1.0) * cap.sum()
    return load, tau, gain, cap, level


def test_prototype_figures():
    pool = prototype()
    t = R.Target(TARGET)
    assert R.max_feasible_load(pool, t) / pool.total_capacity == pytest.approx(4 / 7)  # 57.1%
    b = R.lp_bound(pool, 0.45 * pool.total_capacity, t)
    assert b.mean_latency == pytest.approx(1.71875 / 1.575)  # 1.0913
    assert b.utilisation[1] == pytest.approx(1.0)  # the LP plans the middle type at capacity
    assert sum(b.rates) == pytest.approx(b.load)
    assert np.dot(b.shares, ACC) == pytest.approx(TARGET)
    assert R.lp_bound(pool, 0.25 * pool.total_capacity, t).mean_latency == pytest.approx(1.0)


def test_highs_and_vertex_enumeration_agree_on_random_instances():
    rng = np.random.default_rng(20240615)
    feasible = infeasible = 0
    for _ in range(700):
        load, tau, gain, cap, level = random_instance(rng)
        highs = R.solve_lp_arrays(load, tau, gain, cap, level)
        vert = R.lp_bound_by_vertices(load, tau, gain, cap, level)
        assert (highs is None) == (vert is None)
        assert (highs is None) == (load > R.max_feasible_load_arrays(gain, cap, level))
        if highs is None:
            infeasible += 1
            continue
        feasible += 1
        x, value, _ = highs
        assert value == pytest.approx(vert[0], rel=1e-9)
        assert x.sum() == pytest.approx(load, rel=1e-9)
        assert gain @ x >= level * load * (1 - 1e-9)
        assert np.all(x <= cap * (1 + 1e-9))
    assert feasible >= 500 and infeasible > 0


def test_order_sweep_is_lp_exact():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(700):
        load, tau, gain, cap, level = random_instance(rng)
        highs = R.solve_lp_arrays(load, tau, gain, cap, level)
        x = R.lp_by_order_sweep(load, tau, gain, cap, level)
        assert (highs is None) == (x is None)
        if x is None:
            continue
        checked += 1
        assert tau @ x / load == pytest.approx(highs[1], rel=1e-9)
        assert x.sum() == pytest.approx(load, rel=1e-9) and gain @ x >= level * load * (1 - 1e-9)
    assert checked >= 500


def test_optimum_fills_by_tau_minus_nu_gain_and_mixes_at_most_two_types():
    rng = np.random.default_rng(11)
    for _ in range(300):
        load, tau, gain, cap, level = random_instance(rng)
        found = R.solve_lp_arrays(load, tau, gain, cap, level)
        if found is None:
            continue
        x, _, nu = found
        assert nu >= -1e-9
        tol = 1e-7 * max(load, 1.0)
        partial = (x > tol) & (x < cap - tol)
        assert partial.sum() <= 2
        key = tau - nu * gain
        for i in range(tau.size):
            for j in range(tau.size):
                if key[i] < key[j] - 1e-7:  # i strictly before j in the fill order
                    assert not (x[i] < cap[i] - tol and x[j] > tol), (key, x, cap)
        if nu > 1e-9:  # the gain constraint binds: the mix hits the target exactly
            assert gain @ x == pytest.approx(level * load, rel=1e-7)


def test_bound_rises_with_load_and_total_cost_is_convex():
    pool, t = prototype(), R.Target(TARGET)
    lams = np.linspace(0.02, 1.0, 50) * R.max_feasible_load(pool, t)
    T = np.array([R.lp_bound(pool, lam, t).mean_latency for lam in lams])
    assert np.all(np.diff(T) >= -1e-12)
    cost = lams * T
    assert np.all(np.diff(cost, 2) >= -1e-9)  # parametric LP in the right-hand side


def test_optimal_split_is_not_monotone_in_load():
    # variants.md §A: no fixed greedy order is LP-optimal at every λ (119 of its 500). The
    # sweep gives the LP's optimum (test above; unique for random instances, a.s.) fast.
    rng = np.random.default_rng(5)
    falling = total = 0
    for _ in range(500):
        K = int(rng.integers(2, 6))
        tau, gain, cap = rng.uniform(0.1, 3, K), rng.uniform(0.5, 1, K), rng.uniform(0.2, 3, K)
        level = rng.uniform(gain.min(), gain.max())
        top = R.max_feasible_load_arrays(gain, cap, level)
        total += 1
        X = np.array([R.lp_by_order_sweep(lam, tau, gain, cap, level)
                      for lam in np.linspace(0.01, 1, 60) * top])
        falling += bool(np.any(np.diff(X, axis=0) < -1e-7))
    assert 50 <= falling <= 200, falling  # 110 of 500 with this seed


def test_priority_orders_run_from_fastest_to_best_one_swap_at_a_time():
    tau, gain = 1 / np.array(MU), np.array(ACC)
    orders, nus = R.priority_orders(tau, gain)
    assert orders == ((0, 1, 2), (1, 0, 2), (1, 2, 0), (2, 1, 0))
    assert nus == pytest.approx((5.0, 7.5, 10.0))
    rng = np.random.default_rng(3)
    for _ in range(200):
        K = int(rng.integers(2, 7))
        tau, gain = rng.uniform(0.1, 3, K), rng.uniform(0.5, 1, K)
        orders, nus = R.priority_orders(tau, gain)
        assert list(orders[0]) == list(np.argsort(tau))
        assert list(orders[-1]) == list(np.argsort(-gain))
        pairs = sum(1 for i in range(K) for j in range(K) if gain[i] > gain[j] and tau[i] > tau[j])
        assert len(nus) == pairs and len(orders) == pairs + 1  # distinct breakpoints (a.s.)
        for a, b in zip(orders, orders[1:]):
            diff = [p for p in range(K) if a[p] != b[p]]
            assert len(diff) == 2 and diff[1] == diff[0] + 1  # one adjacent swap
            i, j = a[diff[0]], a[diff[1]]
            assert gain[j] > gain[i] and tau[j] > tau[i]  # the better, slower type moves up


def test_order_position_locates_the_optimum_between_two_orders():
    pool, t = prototype(), R.Target(TARGET)
    b = R.lp_bound(pool, 0.45 * pool.total_capacity, t)
    orders, _ = R.priority_orders(pool.mean_service, pool.accuracy)
    lo = int(b.order_position)
    mix = ((1 - (b.order_position - lo)) * R.waterfill(orders[lo], b.load, pool.capacity)
           + (b.order_position - lo) * R.waterfill(orders[lo + 1], b.load, pool.capacity))
    assert mix == pytest.approx(np.array(b.rates))


def test_headroom_scales_capacities():
    pool, t = prototype(), R.Target(TARGET)
    full = R.max_feasible_load(pool, t)
    assert R.max_feasible_load(pool, t, headroom=0.05) == pytest.approx(0.95 * full)
    b = R.lp_bound(pool, 0.45 * pool.total_capacity, t, headroom=0.05)
    assert max(b.utilisation) <= 0.95 + 1e-12 and b.headroom == 0.05


def test_tail_quality_target_is_the_same_lp_with_q_as_gain():
    pool = prototype()
    t = R.Target(0.6, tau=1.5)
    q = t.gain_vector(pool)
    assert q == pytest.approx(np.array(ACC) * (1 - np.exp(-1.5 * np.array(MU))))
    b = R.lp_bound(pool, 5.0, t)
    x = R.solve_lp_arrays(5.0, pool.mean_service, q, pool.capacity, 0.6)[0]
    assert np.array(b.rates) == pytest.approx(x)
    own = R.Target(0.6, gains=tuple(q))  # a user's own q_k(τ): same answer
    assert R.lp_bound(pool, 5.0, own).mean_latency == pytest.approx(b.mean_latency)


# -- bad input: one line naming the input, a ValueError the CLI maps to exit 2 -------------
def _one_line(exc):
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, ValueError) and isinstance(exc.value, UserError)
    assert exc.value.exit_code == 2
    return text


def test_target_above_every_variant():
    with pytest.raises(R.TargetUnreachable) as exc:
        R.lp_bound(prototype(), 1.0, R.Target(0.95))
    text = _one_line(exc)
    assert "accuracy target 0.95" in text and "type2 0.9000" in text and "lower the target" in text


def test_load_the_pool_cannot_carry_at_the_target():
    pool = prototype()
    with pytest.raises(R.LoadNotCarried) as exc:
        R.lp_bound(pool, 0.6 * pool.total_capacity, R.Target(TARGET))
    text = _one_line(exc)
    assert "57.1% of capacity" in text and "arrival rate 21/s" in text
    assert exc.value.max_load == pytest.approx(20.0)
    with pytest.raises(R.LoadNotCarried) as exc:
        R.lp_bound(pool, 40.0, R.Target(TARGET))
    assert "exceeds the pool's capacity 35/s" in _one_line(exc)


@pytest.mark.parametrize("bad, words", [
    (lambda: R.lp_bound(prototype(), -1, R.Target(0.8)), "arrival rate"),
    (lambda: R.Target(1.5), "quality target"),
    (lambda: R.Target(0.9, tau=0), "τ"),
    (lambda: R.lp_bound(prototype(), 1, R.Target(0.8), headroom=1.0), "headroom"),
    (lambda: R.Pool.exponential([1, 2], [0.9], 1), "2 rates"),
    (lambda: R.Pool.exponential([1, -2], [0.9, 0.8], 1), "rate of type1"),
    (lambda: R.Variant("a", 0, R.Exponential(1.0), 0.9), "servers"),
    (lambda: R.Variant("a", 1, R.Exponential(1.0)), "accuracy"),
    (lambda: R.Variant("a", 1, R.Exponential(1.0), 1.2), "accuracy"),
    (lambda: R.Pool([R.Variant("a", 1, R.Exponential(1.0), 0.9)] * 2), "unique"),
    (lambda: R.Empirical([]), "service times"),
    (lambda: R.Empirical([1.0, 2.0], [True]), "correctness flags"),
    (lambda: R.parse_tq_target("0.95"), "LEVEL@TIME"),
    (lambda: R.Target(0.9, gains=(0.5,)).gain_vector(prototype()), "1 gains for 3"),
])
def test_bad_input_is_one_line(bad, words):
    with pytest.raises(R.RoutingError) as exc:
        bad()
    assert words in _one_line(exc)


def test_parse_tq_target():
    t = R.parse_tq_target("0.95@20ms")
    assert (t.level, t.tau, t.kind) == (0.95, pytest.approx(0.020), "tail-quality")
    assert R.parse_tq_target(" 0.9 @ 1.5s ").tau == 1.5
    assert R.parse_tq_target("0.9@500us").tau == pytest.approx(5e-4)
    assert t.describe() == "tail-quality target 0.95 within 20 ms"


def test_empirical_law_keeps_correctness_with_its_time():
    times = np.array([0.001, 0.002, 0.010, 0.020])
    correct = np.array([True, True, False, True])
    v = R.Variant("m", 2, R.Empirical(times, correct))
    assert v.accuracy == 0.75
    assert v.tail_quality(0.005) == 0.5  # joint, not 0.75 × 0.5
    assert v.tail_quality(0.015) == 0.5
    t, c = v.draw(np.random.default_rng(0), 1000)
    assert set(zip(t.tolist(), c.tolist())) <= set(zip(times.tolist(), correct.tolist()))
    ind = R.Variant("i", 1, R.Exponential(0.01), 0.9)
    assert ind.tail_quality(0.01) == pytest.approx(0.9 * (1 - np.exp(-1)))
