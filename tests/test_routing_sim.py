"""The pool simulator: checked against exact queueing results and a SimPy engine; every policy
built to meet the target meets it within sampling error; the checks themselves calibrated."""

import numpy as np
import pytest
from scipy import stats

from tailq_loadgen import routing as R

MU, ACC, TARGET = (2.0, 1.0, 0.5), (0.7, 0.8, 0.9), 0.8
ALPHA = 1e-4  # a correct simulator or policy fails an assertion below < 1 in 10,000 runs


def pool(n=20):
    return R.Pool.exponential(MU, ACC, n)


def run(name, p, load, jobs, seed=1, target=None, **options):
    target = target or R.Target(TARGET)
    pol = R.make_policy(name, p, target, load=load, rng=seed, **options)
    return R.simulate(p, pol, load, jobs, rng=seed + 1000)


def within(estimate, se, exact, batches=R._stats.DEFAULT_BATCHES):
    return abs(estimate - exact) <= stats.t.ppf(1 - ALPHA / 2, batches - 1) * se


# -- the simulator itself ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["pop", "rjiq", "central-queue", "random-lp"])
def test_heap_and_simpy_engines_give_the_same_jobs(name):
    p = pool(5)
    lam = 0.45 * p.total_capacity
    a = run(name, p, lam, 20000)
    pol = R.make_policy(name, p, R.Target(TARGET), load=lam, rng=1)
    b = R.simulate(p, pol, lam, 20000, rng=1001, engine="simpy")
    assert np.array_equal(a.server, b.server) and np.array_equal(a.correct, b.correct)
    assert np.array_equal(a.service, b.service) and np.allclose(a.start, b.start, rtol=1e-12)


def test_every_server_serves_its_queue_first_come_first_served():
    sim = run("rjiq", pool(3), 0.45 * pool(3).total_capacity, 20000)
    assert np.all(sim.start >= sim.arrival) and np.all(sim.service > 0)
    for s in np.unique(sim.server):
        mine = np.flatnonzero(sim.server == s)  # arrival order
        prev_finish = np.concatenate(([0.0], sim.finish[mine][:-1]))
        assert np.array_equal(sim.start[mine], np.maximum(sim.arrival[mine], prev_finish))


@pytest.mark.parametrize("servers, rho", [(1, 0.5), (4, 0.7), (16, 0.8)])
def test_central_queue_on_one_type_is_erlang_c(servers, rho):
    # One type, late binding: exactly M/M/c. Mean wait and P(wait > 0) against Erlang C.
    p = R.Pool.exponential([1.0], [0.9], servers)
    lam = rho * servers
    sim = R.simulate(p, R.make_policy("central-queue", p, R.Target(0.5)), lam, 400000, rng=servers)
    wait = sim.measured(sim.wait)
    exact = R.erlang_c_wait(servers, 1.0, lam)
    assert within(*R.batch_means(wait), exact), (R.batch_means(wait), exact)
    erlang_c = exact * (servers - lam)  # C(c, a) = W_q·(cμ − λ)
    assert within(*R.batch_means(wait > 0), erlang_c)


def test_random_routing_makes_each_server_mm1():
    # Poisson splitting: each of c servers sees Poisson(λ/c) arrivals, an M/M/1 queue.
    p = R.Pool.exponential([2.0], [0.9], 5)
    rho = 0.6
    sim = run("random-lp", p, rho * p.total_capacity, 300000, target=R.Target(0.5), headroom=0.0)
    assert within(*R.batch_means(sim.measured(sim.wait)), rho / (2.0 * (1 - rho)))


def test_erlang_c_formula():
    assert R.erlang_c_wait(1, 1.0, 0.5) == pytest.approx(1.0)  # M/M/1: ρ/(μ(1 − ρ))
    # M/M/2, λ = 1, μ = 1: C = 1/3, W_q = C/(2 − 1)
    assert R.erlang_c_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert np.isfinite(R.erlang_c_wait(2000, 1.0, 1990.0))
    with pytest.raises(ValueError):
        R.erlang_c_wait(2, 1.0, 2.0)


@pytest.mark.slow
def test_batch_means_interval_covers_erlang_c_at_its_nominal_rate():
    # The calibration of the check used above: 200 short runs, nominal 90% coverage.
    p = R.Pool.exponential([1.0], [0.9], 2)
    exact = R.erlang_c_wait(2, 1.0, 1.2)
    q = stats.t.ppf(0.95, R._stats.DEFAULT_BATCHES - 1)
    covered = []
    for r in range(200):
        sim = R.simulate(p, R.make_policy("central-queue", p, R.Target(0.5)), 1.2, 40000, rng=5000 + r)
        m, se = R.batch_means(sim.measured(sim.wait))
        covered.append(abs(m - exact) <= q * se)
    # binomial sd 0.021 at 90%: 4 sd either side (measured: 0.90 over 300 runs)
    assert 0.815 <= np.mean(covered) <= 0.985, np.mean(covered)


# -- meeting the target ---------------------------------------------------------------
@pytest.mark.parametrize("frac", [0.25, 0.6, 0.9])
@pytest.mark.parametrize("name", ["rjiq", "pop", "random-lp", "most-accurate"])
def test_policies_built_for_the_target_meet_it(name, frac):
    p = pool()
    lam = frac * R.max_feasible_load(p, R.Target(TARGET))
    s = run(name, p, lam, 200000).summary()
    assert s.accuracy["met"], s.accuracy
    assert s.target_check == s.accuracy
    assert s.planned_gain >= TARGET - 0.003  # ≈ 17 sd of rjiq's type draw
    assert s.mean_sojourn >= s.lp_mean_latency * 0.98 or name == "pop"
    assert sum(s.shares) == pytest.approx(1.0)


def test_single_variant_meets_the_target_it_is_accurate_enough_for():
    p = pool()
    s = run("single:type2", p, 0.8 * p.capacity[2], 200000).summary()
    assert s.accuracy["met"] and s.shares == (0.0, 0.0, 1.0)


@pytest.mark.parametrize("name", ["jsq", "fastest-idle", "single:type0"])
def test_accuracy_blind_baselines_are_called_misses(name):
    p = pool()
    s = run(name, p, 0.6 * R.max_feasible_load(p, R.Target(TARGET)), 200000).summary()
    assert not s.accuracy["met"] and s.accuracy["upper_bound"] < TARGET


def test_pop_tracks_the_bound_without_knowing_the_load():
    # variants.md's prototype: load 0.45 of capacity, n = 160 per type; bound 1.091.
    p = pool(160)
    s = run("pop", p, 0.45 * p.total_capacity, 300000).summary()
    assert s.lp_mean_latency == pytest.approx(1.0913, abs=1e-4)
    assert s.mean_sojourn < 1.03 * s.lp_mean_latency  # measured 1.089 ± 0.003
    assert s.policy_state["s"] == pytest.approx(1.575, abs=0.25)  # LP's order position 1.575


def test_scales_to_thousands_of_servers():
    p = pool(1000)  # 3,000 servers
    lam = 0.45 * p.total_capacity
    s = run("pop", p, lam, 150000).summary()
    assert s.jobs == 135000 and s.mean_sojourn < 1.05 * s.lp_mean_latency


# -- the check: calibrated, and it fails a wrong answer --------------------------------
def _markov_flags(rng, n, switch=0.01, accs=(0.7, 0.9)):
    """Correctness of jobs whose type switches rarely (POP-like correlation), mean 0.8."""
    state = np.cumsum(rng.random(n) < switch) % 2
    return rng.random(n) < np.where(state == 0, accs[0], accs[1])


@pytest.mark.parametrize("kind", ["iid", "correlated"])
def test_quality_check_calls_a_right_answer_a_miss_at_its_nominal_rate(kind):
    rng = np.random.default_rng(42 if kind == "iid" else 43)
    misses = 0
    for _ in range(4000):
        flags = rng.random(20000) < 0.8 if kind == "iid" else _markov_flags(rng, 20000)
        misses += not R.quality_check(flags, 0.8, alpha=0.05).met
    # binomial sd 0.0034 at 5%: 4 sd either side (measured 0.049 and 0.0505)
    assert 0.036 <= misses / 4000 <= 0.064


def test_quality_check_calls_a_wrong_answer_a_miss():
    rng = np.random.default_rng(44)
    for _ in range(20):  # truth 0.79 against a target of 0.80: 11 sd at 200k jobs
        assert not R.quality_check(rng.random(200000) < 0.79, 0.8).met


# -- tail-quality targets and measured profiles ------------------------------------------
def test_tail_quality_target_counts_waiting_that_q_from_service_times_ignores():
    p = pool()
    target = R.Target(0.6, tau=1.5)
    q = target.gain_vector(p)
    lam = 0.8 * R.max_feasible_load(p, target)
    sim = run("rjiq", p, lam, 200000, target=target)
    s = sim.summary(taus=(0.5,))
    assert set(s.tail_quality) == {0.5, 1.5}
    soj, ok = sim.measured(sim.sojourn), sim.measured(sim.correct)
    svc = sim.measured(sim.service)
    assert s.tail_quality[1.5] == pytest.approx(np.mean(ok & (soj <= 1.5)))
    # Waiting only ever makes a job later: realised TQ ≤ the service-time-only share.
    assert s.tail_quality[1.5] <= np.mean(ok & (svc <= 1.5))
    assert s.planned_gain == pytest.approx(np.dot(np.bincount(sim.measured(sim.variant), minlength=3), q) / s.jobs)
    assert s.target_check["quantity"] == "tail quality within 1500 ms"
    assert s.target_check["realised"] == pytest.approx(s.tail_quality[1.5])


def test_measured_profiles_drive_the_simulation_jointly():
    rng = np.random.default_rng(9)
    times = rng.gamma(4.0, 0.0025, 500)  # ~10 ms, like a measured variant
    correct = times < np.quantile(times, 0.9)  # the slowest answers are the wrong ones
    fast = R.Variant("fast", 4, R.Empirical(times / 2, correct))
    slow = R.Variant("slow", 4, R.Empirical(times, np.ones(500, bool)))
    p = R.Pool([fast, slow])
    assert fast.accuracy == pytest.approx(0.9) and slow.accuracy == 1.0
    sim = run("pop", p, 0.5 * p.total_capacity, 50000, target=R.Target(0.95))
    svc = sim.service
    pairs = set(zip((times / 2).tolist(), correct.tolist())) | set(zip(times.tolist(), [True] * 500))
    assert set(zip(svc.tolist(), sim.correct.tolist())) <= pairs
    assert sim.summary().accuracy["met"]


@pytest.mark.parametrize("bad, words", [
    (lambda p, pol: R.simulate(p, pol, p.total_capacity, 1000), "capacity"),
    (lambda p, pol: R.simulate(p, pol, -1.0, 1000), "arrival rate"),
    (lambda p, pol: R.simulate(p, pol, 1.0, 10), "jobs"),
    (lambda p, pol: R.simulate(p, pol, 1.0, 1000, warmup=1.0), "warm-up"),
    (lambda p, pol: R.simulate(p, pol, 1.0, 1000, engine="ns3"), "engine"),
    (lambda p, pol: R.simulate(pool(2), pol, 1.0, 1000) if False else
        R.simulate(R.Pool.exponential([1.0], [0.9], 1), pol, 0.5, 1000), "another pool"),
])
def test_simulate_rejects_bad_input(bad, words):
    p = pool(2)
    with pytest.raises(R.RoutingError, match=words):
        bad(p, R.make_policy("pop", p, R.Target(TARGET)))


def test_pop_overflow_stage_reaches_the_target_near_the_feasible_load():
    # n = 10 per type at 95% of the (fluid) accuracy-feasible load: in O_m the accurate
    # servers are all busy too often, priority-JIQ hands jobs to idle worse ones, and POP's
    # chosen accuracy stays below a* (measured 0.7958). The overflow stage queues at the best
    # type instead and reaches a*, at a large latency cost (benchmarks/routing.py).
    p = pool(10)
    lam = 0.95 * R.max_feasible_load(p, R.Target(TARGET))
    plain = run("pop", p, lam, 200000, overflow=False).summary()
    over = run("pop", p, lam, 200000).summary()  # overflow is the default
    assert plain.planned_gain < TARGET - 0.002 and plain.policy_state["s"] <= 3.0
    assert over.planned_gain > TARGET - 0.001 and over.accuracy["met"]
    assert over.mean_sojourn > plain.mean_sojourn


# POP's first 1,200 decisions (issue 15), on the prototype, the synthetic family's pool and a
# digits-like one (benchmarks/routing.py, "POP's step rules", which also calibrates this):
# over 1,000 seeds each the default rule's shortfall of the mean chosen gain after 1,200
# decisions is 0.00045–0.00064 on average, sd ≤ 0.0002, at most 0.0012, so a 0.004 tolerance
# sits ≥ 14 sd out; the raw rule's shortfall is 0.022–0.044 and fails it in every seed. The
# realised accuracy is held to a* by a one-sided binomial z > −4 (a* itself misses at
# ≈ 3e-5; the default rule's small lag moves its mean z by −0.09 to −0.13; lowest of 3,000
# seeds −3.51). The check failed 0 of 3,000 right answers and 3,000 of 3,000 raw-rule runs.
SHORT_POOLS = {
    "prototype n=10": (R.Pool.exponential(MU, ACC, 10), R.Target(TARGET), 0.55 * 20.0),  # 55% of feasible
    "synthetic 2,1,1": (R.Pool.exponential((500.0, 250.0, 125.0), ACC, (2, 1, 1)), R.Target(0.75), 200.0),
    "digits-like": (R.Pool.exponential(tuple(1e3 / m for m in (0.027, 0.035, 0.102, 0.240)),
                                       (0.936, 0.964, 0.981, 0.988), (1, 1, 1, 1)), R.Target(0.975), 450.0),
}
SHORT_TOLERANCE = 0.004


def _short_run(key, seed, **options):
    p, target, lam = SHORT_POOLS[key]
    assert lam < R.max_feasible_load(p, target)
    pol = R.make_policy("pop", p, target, rng=[seed, 0], **options)  # no load: POP is λ-free
    sim = R.simulate(p, pol, lam, 1200, rng=[seed, 1], warmup=0.0)
    shortfall = target.level - target.gain_vector(p)[sim.variant].mean()
    z = (sim.correct.mean() - target.level) / np.sqrt(target.level * (1 - target.level) / 1200)
    return shortfall, z


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("key", sorted(SHORT_POOLS))
def test_pop_meets_the_target_within_1200_decisions(key, seed):
    shortfall, z = _short_run(key, seed)
    assert shortfall < SHORT_TOLERANCE and z > -4.0


@pytest.mark.parametrize("key", sorted(SHORT_POOLS))
def test_pops_raw_step_rule_is_still_in_its_transient_at_1200_decisions(key):
    # The wrong answer the test above must catch: the earlier rule (η = 0.02 in accuracy units).
    shortfall, _ = _short_run(key, 1, step="raw")
    assert shortfall > 2 * SHORT_TOLERANCE


def test_a_policy_for_other_server_counts_is_refused():
    pol = R.make_policy("pop", pool(2), R.Target(TARGET))
    with pytest.raises(R.RoutingError, match="another pool"):
        R.simulate(pool(3), pol, 1.0, 1000)
    R.simulate(pool(2), pol, 1.0, 1000)  # an equal pool built again is the same pool
