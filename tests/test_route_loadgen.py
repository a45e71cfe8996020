"""The pool under a real LoadGen Server test against the simulator fed by the same profiles.

Synthetic family (sleep-based, releases the GIL), 200 samples, servers 2,1,1, 200 QPS, a* =
0.75: one `tailq route` of three policies, 1,200 queries each (≈ 6 s each), against long
simulations. The mean-latency comparison

    z = (real mean − real hand-off − simulated mean) / √(se_real² + se_sim² + se_profile²)

has three sources of error, each estimated: the real run's and the simulation's batch-means
standard errors, and the profile's (the simulator resamples ~700 measured service times per
variant, whose mean is itself uncertain: a bootstrap of the profiles gives it). The real pool
hands each job from LoadGen's thread to the dispatcher and on to a server thread; that cost
(measured per test: the wait of the jobs that found their server idle, `handoff_ns`) delays
every job of a busy period and is not in the simulator, so it is taken off. `time.sleep`'s
overshoot is in the profiles (they are LoadGen latencies of the same sleeps), so it needs no
allowance. |z| ≤ 5 (a normal variable passes with probability 1 − 6·10⁻⁷; the batch means'
t with 19 degrees of freedom with 1 − 1.2·10⁻⁴, and the profile term only widens the
denominator's degrees of freedom). ``test_latency_check_is_calibrated`` shows by simulation
that z's spread is honest and that a pool 40% slower than its profiles fails.
"""

import numpy as np
import pytest
from scipy import stats

from tailq_loadgen import harnesses, records, routing, workflow
from tailq_loadgen.workflow import _route

from conftest import run_tailq

QPS, A_STAR, QUERIES, COUNT, SERVERS = 200.0, 0.75, 1200, 200, "2,1,1"
POLICIES = ("rjiq", "jsq", "pop")
Z = 5.0
SIM_JOBS = 40000


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    base = tmp_path_factory.mktemp("route-loadgen")
    profiles = str(base / "profiles")
    workflow.profile_family("synthetic", catalog=harnesses, out=profiles, count=COUNT, queries=500,
                            log=lambda *a: None)
    out = str(base / "run")
    fam = harnesses.get_family("synthetic")
    doc = workflow.route(family=fam, build_harnesses=lambda: [harnesses.get_harness(n) for n in fam.variants],
                         servers=SERVERS, policies=list(POLICIES),
                         accuracy_target=A_STAR, qps=QPS, profiles=[profiles], queries=QUERIES,
                         count=COUNT, out=out, seed=11, taus="10ms", log=lambda *a: None)
    plan = _route.plan_route(family=fam, servers=SERVERS, policies=list(POLICIES),
                             accuracy_target=A_STAR, qps=QPS, profiles=[profiles])
    return doc, plan, out


def _simulated(pool, name, seed, jobs):
    policy = routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[seed, 0])
    return routing.simulate(pool, policy, QPS, jobs, rng=[seed, 1], warmup=_route.WARMUP).summary()


def _profile_se(pool, name, seed, boots, jobs):
    """The simulated mean's spread over bootstrap copies of the measured service times."""
    rng = np.random.default_rng([seed, 2])
    means = []
    for b in range(boots):
        variants = [routing.Variant(v.name, v.servers,
                                    routing.Empirical(rng.choice(v.service.times, v.service.times.size)),
                                    v.accuracy) for v in pool.variants]
        means.append(_simulated(routing.Pool(variants), name, seed * 1000 + b, jobs).mean_sojourn)
    return float(np.std(means, ddof=1))


def reference(pool, name, seed, sim_jobs=SIM_JOBS, boots=20, boot_jobs=5000):
    """The simulated mean latency and its standard error, the profile's uncertainty included."""
    sim = _simulated(pool, name, seed, sim_jobs)
    return sim.mean_sojourn, float(np.hypot(sim.mean_sojourn_se, _profile_se(pool, name, seed, boots, boot_jobs)))


def latency_z(real_mean, real_se, handoff, ref):
    mean, se = ref
    return (real_mean - handoff - mean) / np.hypot(real_se, se)


def _result(doc, name):
    (r,) = [r for r in doc["results"] if r["policy"] == name]
    return r


@pytest.mark.parametrize("name", ["rjiq", "jsq"])
def test_real_and_simulated_mean_latency_agree(real, name):
    doc, plan, _ = real
    r = _result(doc, name)
    handoff = r["handoff"]["mean"] / 1e9
    assert 0 < handoff < 1e-3  # the pool's own cost: well under a millisecond
    z = latency_z(r["mean_sojourn"], r["mean_sojourn_se"], handoff, reference(plan.pool, name, 5))
    assert abs(z) <= Z, (name, r["mean_sojourn"], z)


@pytest.mark.parametrize("name", POLICIES)
def test_real_and_simulated_accuracy_agree(real, name):
    doc, plan, _ = real
    r = _result(doc, name)
    sim = _simulated(plan.pool, name, 6, SIM_JOBS)
    se = np.hypot(r["accuracy"]["standard_error"], sim.accuracy["standard_error"])
    assert abs(r["accuracy"]["realised"] - sim.accuracy["realised"]) <= Z * se


@pytest.mark.parametrize("name", ["rjiq", "pop"])
def test_a_policy_that_meets_a_star_in_simulation_meets_it_in_the_pool(real, name):
    doc, plan, _ = real
    sim = _simulated(plan.pool, name, 7, SIM_JOBS)
    assert sim.accuracy["met"]
    acc = _result(doc, name)["accuracy"]
    # a policy exactly at a* is called a miss with probability 2·10⁻⁵ (one-sided t, 19 df)
    upper = acc["realised"] + stats.t.ppf(1 - 2e-5, acc["batches"] - 1) * acc["standard_error"]
    assert upper >= A_STAR, acc


def test_the_real_runs_routing_json(real):
    doc, plan, out = real
    assert doc["mode"] == "loadgen" and doc["version"] == _route.VERSION
    assert workflow.load_routing(out)["results"][0]["policy"] == "rjiq"
    run = records.load_run(out)
    assert run.metadata["pool"]["servers"] == 4 and len(run.metadata["tests"]) == 3
    for k, r in enumerate(doc["results"]):
        assert r["pass"] == k and r["status_counts"] == {"ok": QUERIES}
        assert r["dispatch"]["p50"] > 0 and r["handoff"]["jobs"] > 0
        assert abs(sum(r["shares"]) - 1) < 1e-9 and r["lp_bound"]["mean_latency"] > 0
        assert r["jobs"] == QUERIES - round(_route.WARMUP * QUERIES)
        assert set(r["tail_quality"]) == {"0.01"}
        service = r["service_in_pool_vs_profile"]
        used = [v for v in service.values() if v["pool_mean_s"] is not None]
        assert used and all(v["profile_mean_s"] > 0 for v in used)
    sel = run["pass"] == 0
    assert set(run["variant"][sel]) <= set(plan.pool.names)
    shown = run_tailq("show", out)
    assert shown.returncode == 0, shown.stderr
    assert "routing:" in shown.stdout and "per-variant usage" in shown.stdout
    assert all(f"  {name} " in shown.stdout for name in POLICIES)


def test_latency_check_is_calibrated():
    """Right answer: a 'real' run simulated from the exact exponential laws, against the
    simulator fed by 700 draws of each law (a profile), over 40 seeds: |z| > 2 about as often
    as a normal variable (≤ 10 of 40: P < 10⁻⁵ for an honest z). Wrong answer: the same runs
    40% slower than the profiles are caught (|z| > 5) in most seeds."""
    means_ms, acc = (2.0, 4.0, 8.0), (0.705, 0.785, 0.815)
    servers = (2, 1, 1)
    truth = routing.Pool(routing.Variant(f"v{k}", n, routing.Exponential(m / 1e3), a)
                         for k, (n, m, a) in enumerate(zip(servers, means_ms, acc)))
    zs, wrong = [], []
    for seed in range(40):
        rng = np.random.default_rng([seed, 9])
        profiled = routing.Pool(routing.Variant(v.name, v.servers,
                                                routing.Empirical(rng.exponential(v.mean_service, 700)),
                                                v.accuracy) for v in truth.variants)
        r = _simulated(truth, "jsq", 10_000 + seed, QUERIES)
        ref = reference(profiled, "jsq", seed, sim_jobs=20000, boots=10, boot_jobs=4000)
        zs.append(latency_z(r.mean_sojourn, r.mean_sojourn_se, 0.0, ref))
        wrong.append(latency_z(1.4 * r.mean_sojourn, 1.4 * r.mean_sojourn_se, 0.0, ref))
    zs, wrong = np.abs(zs), np.abs(wrong)
    assert np.sum(zs > 2) <= 10 and zs.max() <= Z, zs
    assert np.sum(wrong > Z) >= 30, wrong
