"""Routing among model variants under an accuracy target: policies against the LP bound.

Part (a), simulation — the figure type of Choudhury, Joshi & Wang (2024): mean latency
against load, 10%–95% of the accuracy-feasible load, for R-JIQ, POP and the baselines at
n = 10, 100 and 1,000 servers per type, with T_LP-LB(λ) as a line. The instance is
variants.md §A's prototype: μ = (2, 1, 0.5), a = (0.70, 0.80, 0.90), a* = 0.80, equal n per
type. Also: the prototype figures of variants.md §A reproduced, a tail-quality target, the
simulator's own cost (heap engine against SimPy, per-decision time) and the calibration of
the batch-means interval against Erlang C. Writes ``benchmarks/routing-simulation.png`` and
sections of ``benchmarks/RESULTS.md``.

Part (b), ``--part loadgen``: real LoadGen Server runs of the digits family through the pool
SUT (capture/_pool.py) at three loads, every policy under a* and under a tail-quality target,
against the LP bound and the simulator fed by the same profiles; the service time of each
variant in the pool against its profile taken alone (``--executor``: where the servers'
models compute; auto puts digits in worker processes).

Part ``--part executors``: the digits family on servers 1,1,1,1 (policy jsq) at 150 and 450
QPS, each variant's in-pool service time against its profile with the servers' models in
threads and in worker processes. ``--part`` chooses which parts run.

    python benchmarks/routing.py [--part simulation|loadgen|executors] [--jobs 200000] [--quick]
                                 [--profiles DIR] [--real-queries 3000] [--max-qps 1500]
                                 [--executor auto|threads|processes]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import routing as R  # noqa: E402
from tailq_loadgen.cli._route import process_builder  # noqa: E402

MU, ACC, A_STAR = (2.0, 1.0, 0.5), (0.70, 0.80, 0.90), 0.80
SIZES = (10, 100, 1000)
FRACTIONS = (0.10, 0.25, 0.40, 0.55, 0.70, 0.80, 0.90, 0.95)
POLICIES = ("rjiq", "pop", "random-lp", "most-accurate", "jsq", "fastest-idle", "single:type2")
SHORT = {"random-lp": "rand-lp", "most-accurate": "most-acc", "fastest-idle": "fast-idle",
         "single:type2": "single:.9"}


def prototype(n):
    return R.Pool.exponential(MU, ACC, n)


def simulate_one(pool, name, target, load, jobs, seed, **options):
    """One policy at one load: its summary, or None where it cannot run (unstable, infeasible)."""
    try:
        policy = R.make_policy(name, pool, target, load=load, rng=seed, **options)
    except R.LoadNotCarried:
        return None
    if isinstance(policy, R.Single) and load >= 0.97 * pool.capacity[policy.k]:
        return None  # one type at utilisation ≥ 0.97: no steady state to measure
    return R.simulate(pool, policy, load, jobs, rng=seed + 1).summary()


def _cell(s, bound):
    if s is None:
        return "—"
    text = f"{s.mean_sojourn:.3f} ({s.mean_sojourn / bound:.2f}×)"
    if not s.accuracy["met"]:
        text += f" ✗{s.accuracy['realised']:.3f}"
    return text


# -- part (a): simulation ------------------------------------------------------------------
def latency_against_load(jobs, sizes, fractions):
    target = R.Target(A_STAR)
    curves = {}
    sections = []
    for n in sizes:
        pool = prototype(n)
        full = R.max_feasible_load(pool, target)
        rows, per_policy = [], {p: [] for p in POLICIES}
        t0 = time.perf_counter()
        for i, f in enumerate(fractions):
            lam = f * full
            bound = R.lp_bound(pool, lam, target).mean_latency
            res = {p: simulate_one(pool, p, target, lam, jobs, seed=1000 * i + 7) for p in POLICIES}
            for p, s in res.items():
                per_policy[p].append(s)
            rows.append((f"{f:.2f}", f"{lam:.4g}", f"{bound:.3f}") + tuple(_cell(res[p], bound) for p in POLICIES))
            print(f"n={n} load {f:.2f}: bound {bound:.3f} " + " ".join(
                f"{p}={res[p].mean_sojourn:.3f}" for p in POLICIES if res[p]), flush=True)
        curves[n] = (full, per_policy)
        sections.append((n, rows, time.perf_counter() - t0))
    return curves, sections


def plot_curves(curves, fractions, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(2, len(curves), figsize=(5.2 * len(curves), 8.2), dpi=110,
                             sharex=True, squeeze=False)
    target = R.Target(A_STAR)
    for col, (n, (full, per_policy)) in enumerate(curves.items()):
        ax, rax = grid[0, col], grid[1, col]
        pool = prototype(n)
        xs = np.linspace(fractions[0], fractions[-1], 80)
        ax.plot(xs, [R.lp_bound(pool, x * full, target).mean_latency for x in xs], "k-", lw=2.2,
                label="T_LP-LB (bound)")
        rax.axhline(1.0, color="k", lw=2.2)
        for p, colour in zip(POLICIES, plt.cm.tab10.colors):
            pts = [(f, s) for f, s in zip(fractions, per_policy[p]) if s is not None]
            if not pts:
                continue
            f, s = zip(*pts)
            y = [x.mean_sojourn for x in s]
            ratio = [x.mean_sojourn / x.lp_mean_latency for x in s]
            ax.plot(f, y, "o-", color=colour, ms=4, lw=1.2, label=p)
            rax.plot(f, ratio, "o-", color=colour, ms=4, lw=1.2)
            miss = [(fi, yi, ri) for fi, yi, ri, si in zip(f, y, ratio, s) if not si.accuracy["met"]]
            if miss:
                mf, my, mr = zip(*miss)
                ax.plot(mf, my, "x", color=colour, ms=9, mew=2)
                rax.plot(mf, mr, "x", color=colour, ms=9, mew=2)
        ax.set_yscale("log")
        ax.set_title(f"n = {n} servers per type ({3 * n} in all)")
        rax.set_ylim(0.9, 1.6)
        rax.set_xlabel("load (share of the accuracy-feasible load)")
        for a in (ax, rax):
            a.grid(True, which="both", alpha=0.3)
    grid[0, 0].set_ylabel("mean latency (s), log scale; × = misses a* = 0.80")
    grid[1, 0].set_ylabel("mean latency / T_LP-LB (off-scale lines omitted)")
    grid[0, -1].legend(fontsize=8, loc="upper left")
    fig.suptitle("Routing under accuracy ≥ 0.80: μ = (2, 1, 0.5), a = (0.7, 0.8, 0.9), simulated")
    fig.tight_layout()
    fig.savefig(path)


def prototype_figures(jobs):
    """variants.md §A's prototype: n = 30/120/480 in all, loads 0.45 and 0.25 of capacity."""
    published = {(0.45, "rjiq δ=0"): (21.3, 3.29, 2.24), (0.45, "rjiq δ=0.05"): (4.06, 1.59, 1.18),
                 (0.45, "pop"): (1.108, 1.101, 1.094), (0.25, "pop"): (1.043, 1.015, 1.003),
                 (0.25, "rjiq δ=0.05"): (2.04, 1.18, 1.01)}
    target = R.Target(A_STAR)
    rows = []
    for rho in (0.45, 0.25):
        for label, name, opts in (("rjiq δ=0", "rjiq", {"headroom": 0.0}),
                                  ("rjiq δ=0.05", "rjiq", {"headroom": 0.05}), ("pop", "pop", {})):
            got = []
            for n in (10, 40, 160):
                pool = prototype(n)
                s = simulate_one(pool, name, target, rho * pool.total_capacity, jobs, seed=11, **opts)
                got.append(s)
            bound = got[0].lp_mean_latency
            pub = published.get((rho, label))
            rows.append((f"{rho:.2f}", label, f"{bound:.3f}",
                         " / ".join(f"{s.mean_sojourn:.3f} ± {s.mean_sojourn_se:.3f}" for s in got),
                         " / ".join(f"{v:g}" for v in pub) if pub else "—",
                         " / ".join(f"{s.accuracy['realised']:.4f}" for s in got)))
            print(rows[-1], flush=True)
    return rows


def pop_overflow(jobs, n=10):
    """POP near the accuracy-feasible load at small n, with and without its overflow stage,
    and in a pool of 4 + 2 servers (the docs' example) at 70% of that load."""
    pool = prototype(n)
    target = R.Target(A_STAR)
    full = R.max_feasible_load(pool, target)
    rows = []
    for f in (0.8, 0.9, 0.95):
        for label, name, opts in (("pop", "pop", {}), ("pop, no overflow", "pop", {"overflow": False}),
                                  ("rjiq", "rjiq", {})):
            s = simulate_one(pool, name, target, f * full, jobs, seed=31, **opts)
            rows.append((f"{f:.2f}", label, f"{s.lp_mean_latency:.3f}", f"{s.mean_sojourn:.3f}",
                         f"{s.planned_gain:.4f}", f"{s.accuracy['realised']:.4f}",
                         "yes" if s.accuracy["met"] else "**no**"))
            print(rows[-1], flush=True)
    rng = np.random.default_rng(0)  # docs/routing.md's example pool
    small = R.Variant("small", 4, R.Empirical(rng.gamma(4, 0.0005, 2000), rng.random(2000) < 0.90))
    large = R.Variant("large", 2, R.Empirical(rng.gamma(4, 0.0020, 2000), rng.random(2000) < 0.98))
    pool, target = R.Pool([small, large]), R.Target(0.95)
    lam = 0.7 * R.max_feasible_load(pool, target)
    for label, name, opts in (("pop", "pop", {}), ("pop, no overflow", "pop", {"overflow": False}),
                              ("rjiq", "rjiq", {})):
        s = simulate_one(pool, name, target, lam, jobs, seed=41, **opts)
        rows.append(("4+2 docs pool, 0.70, a* = 0.95", label, f"{s.lp_mean_latency * 1e3:.3f} ms",
                     f"{s.mean_sojourn * 1e3:.3f} ms", f"{s.planned_gain:.4f}",
                     f"{s.accuracy['realised']:.4f}", "yes" if s.accuracy["met"] else "**no**"))
        print(rows[-1], flush=True)
    return rows


def tail_quality_target(jobs, n=100):
    """Routing on q_k(τ) = P(correct ∧ service ≤ τ) instead of a_k; waiting is not in q."""
    pool = prototype(n)
    target = R.Target(0.70, tau=2.5)
    q = target.gain_vector(pool)
    full = R.max_feasible_load(pool, target)
    rows = []
    for f in (0.5, 0.9):
        lam = f * full
        bound = R.lp_bound(pool, lam, target)
        for p in ("rjiq", "pop", "most-accurate", "jsq"):
            s = simulate_one(pool, p, target, lam, jobs, seed=21)
            if s is None:
                continue
            chk = s.target_check
            rows.append((f"{f:.2f}", p, f"{bound.mean_latency:.3f}", f"{s.mean_sojourn:.3f}",
                         f"{s.planned_gain:.4f}", f"{chk['realised']:.4f}",
                         "yes" if chk["met"] else "**no**", f"{s.accuracy['realised']:.4f}",
                         " / ".join(f"{x:.2f}" for x in s.shares)))
            print(rows[-1], flush=True)
    return q, full / pool.total_capacity, rows


def _best_of(repeats, fn):
    """The shortest of ``repeats`` timings: other jobs on the machine only ever add time."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def simulator_cost(jobs, repeats=3):
    """Jobs simulated per second: heap engine and SimPy at n = 10 and 1,000 per type."""
    target = R.Target(A_STAR)
    rows = []
    base = None
    for engine, n in (("heap", 10), ("heap", 1000), ("simpy", 10), ("simpy", 1000)):
        pool = prototype(n)
        lam = 0.45 * pool.total_capacity
        m = jobs // 2 if engine == "heap" else jobs // 8

        def once():
            R.simulate(pool, R.make_policy("pop", pool, target, rng=1), lam, m, rng=2, engine=engine)
        rate = m / _best_of(repeats, once)
        base = base or rate
        rows.append((engine, n, 3 * n, f"{rate:,.0f}", f"{rate / base:.2f}"))
        print(rows[-1], flush=True)
    return rows


def decision_cost(decisions=100000, repeats=3):
    """Microseconds per choose() + assign() + release() on a half-busy pool of 3,000 servers."""
    pool = prototype(1000)
    target = R.Target(A_STAR)
    lam = 0.45 * pool.total_capacity
    rows = []
    for name in ("rjiq", "pop", "jsq", "random-lp", "most-accurate", "single:type2"):
        policy = R.make_policy(name, pool, target, load=lam, rng=3)
        state = R.PoolState(pool.servers)
        rng = np.random.default_rng(4)
        for s in rng.choice(state.servers, state.servers // 2, replace=False):
            state.assign(int(s))

        def once():
            for _ in range(decisions):
                s = policy.choose(state)
                state.assign(s)
                state.release(s)
        rows.append((name, f"{_best_of(repeats, once) / decisions * 1e6:.2f}"))
        print(rows[-1], flush=True)
    return rows


def batch_means_calibration(reps):
    """Coverage of the nominal-90% batch-means interval for the M/M/c mean wait (Erlang C)."""
    q = stats.t.ppf(0.95, R._stats.DEFAULT_BATCHES - 1)
    rows = []
    for c, rho, jobs in ((1, 0.5, 40000), (4, 0.7, 40000), (16, 0.8, 100000), (16, 0.8, 400000)):
        pool = R.Pool.exponential([1.0], [0.9], c)
        exact = R.erlang_c_wait(c, 1.0, rho * c)
        covered = []
        for r in range(reps):
            sim = R.simulate(pool, R.make_policy("central-queue", pool, R.Target(0.5)), rho * c, jobs,
                             rng=70000 + r)
            m, se = R.batch_means(sim.measured(sim.wait))
            covered.append(abs(m - exact) <= q * se)
        cov = float(np.mean(covered))
        rows.append((c, rho, f"{jobs:,}", reps, f"{cov:.3f}",
                     f"± {1.96 * np.sqrt(0.09 / reps):.3f}"))
        print(rows[-1], flush=True)
    return rows


def part_a_simulation(args):
    jobs = args.jobs
    sizes = SIZES if not args.quick else (10, 100)
    fractions = FRACTIONS if not args.quick else (0.25, 0.7, 0.95)
    t_start = time.perf_counter()
    curves, sections = latency_against_load(jobs, sizes, fractions)
    png = os.path.join(HERE, "routing-simulation.png")
    plot_curves(curves, fractions, png)
    proto = prototype_figures(jobs)
    overflow = pop_overflow(jobs)
    q, tq_full, tq_rows = tail_quality_target(jobs)
    cost = simulator_cost(jobs)
    decide = decision_cost()
    calib = batch_means_calibration(40 if args.quick else 100)
    summary_rows = []
    for n, (full, per_policy) in curves.items():
        for p in ("rjiq", "pop"):
            pts = [(f, x) for f, x in zip(fractions, per_policy[p]) if x is not None]
            body_r = [x.mean_sojourn / x.lp_mean_latency for f, x in pts if f <= 0.9 + 1e-9]
            edge = [x.mean_sojourn / x.lp_mean_latency for f, x in pts if f > 0.9 + 1e-9]
            misses = sum(1 for _, x in pts if not x.accuracy["met"])
            planned = min(x.planned_gain for _, x in pts)
            summary_rows.append((n, p, f"{min(body_r):.3f}", f"{np.median(body_r):.3f}",
                                 f"{max(body_r):.3f}", f"{edge[-1]:.3f}" if edge else "—",
                                 f"{planned:.4f}", misses))
    headers = ("load", "λ (/s)", "T_LP-LB") + tuple(SHORT.get(p, p) for p in POLICIES)
    body = [f"Machine: {machine_line()}; other engineers' jobs shared its 2 cores, which affects "
            f"only the timing rows. {jobs:,} Poisson arrivals per point, the first 10% dropped "
            "as warm-up; every policy at one load sees the same arrivals (common random numbers). "
            "Instance: variants.md §A's prototype, μ = (2, 1, 0.5)/s, a = (0.70, 0.80, 0.90), "
            "a* = 0.80, n servers of each type; the accuracy-feasible load is 4/7 = 57.1% of "
            "capacity. R-JIQ plans with headroom δ = 5% (shrunk only where the load forces it; "
            "random-lp likewise); POP η = 0.02. Cells: mean latency in s (ratio to the bound); "
            "✗ marks a realised accuracy that the batch-means check (α = 1e-4) calls below a*. "
            "A ratio a little below 1 is the sampling error of the realised service times (the "
            "mean latency's batch-means standard error is ≈ 0.3% here), not a policy beating "
            "the bound.",
            "", f"![latency against load](routing-simulation.png)", ""]
    for n, rows, secs in sections:
        body += [f"**n = {n} per type ({3 * n} servers)**, {secs:.0f} s of simulation:", "",
                 table(headers, rows), ""]
    body += ["**R-JIQ and POP against the bound** (ratio of mean latency to T_LP-LB over the loads "
             "up to 90%, and at 95%; lowest planned accuracy, i.e. the mean a_k of the types "
             "chosen, over all loads; points the check calls a miss):", "",
             table(("n per type", "policy", "min ≤ 90%", "median ≤ 90%", "max ≤ 90%", "at 95%",
                    "lowest planned accuracy", "accuracy misses"), summary_rows), ""]
    body += ["**variants.md §A prototype figures**, reproduced (n = 30 / 120 / 480 in all; load as "
             "a share of capacity; ± one batch-means standard error):", "",
             table(("load", "policy", "T_LP-LB", "mean T, ours", "mean T, variants.md",
                    "realised accuracy"), proto), ""]
    body += ["**POP's overflow stage** (prototype with n = 10 per type near the accuracy-feasible "
             "load, and docs/routing.md's pool of 4 small + 2 large servers): "
             "'planned' is the mean a_k of the types chosen; 'met' is the batch-means check.", "",
             table(("load", "policy", "T_LP-LB", "mean T", "planned accuracy", "realised accuracy",
                    "met"), overflow), ""]
    body += [f"**Tail-quality target** ≥ 0.70 correct within τ = 2.5 s (n = 100 per type): the "
             f"gains are q_k(τ) = a_k·P(service ≤ τ) = ({', '.join(f'{x:.3f}' for x in q)}) — the "
             f"middle type is the best on time, the most accurate one is the worst; feasible up "
             f"to {100 * tq_full:.1f}% of capacity. 'planned' is the mean q_k(τ) of the types "
             "chosen (service time only); 'realised' counts a job only if correct and its "
             "sojourn, waiting included, is ≤ τ.", "",
             table(("load", "policy", "T_LP-LB", "mean T", "planned q", "realised TQ", "met",
                    "accuracy", "shares"), tq_rows), ""]
    body += ["**Simulator cost** (jobs simulated per second, POP at load 0.45, best of 3; ratio to "
             "the heap engine at n = 10 in the same run; SimPy runs the same model and gives identical "
             "per-job times, tests/test_routing_sim.py):", "",
             table(("engine", "n per type", "servers", "jobs/s", "ratio"), cost), "",
             "**Decision cost** on 3,000 servers, half busy (µs per choose + assign + release, "
             "Python, best of 3):", "", table(("policy", "µs"), decide), ""]
    body += ["**Calibration of the batch-means interval** (20 batches, t quantile) for the M/M/c "
             "mean wait against Erlang C, nominal 90%:", "",
             table(("c", "ρ", "jobs", "runs", "coverage", "95% band of a correct 90%"), calib), ""]
    body += ["**Where this differs from the paper's claims, and why.** " + differences(summary_rows), ""]
    body.append(f"Total {time.perf_counter() - t_start:.0f} s.")
    return "\n".join(body), summary_rows


def differences(summary_rows):
    """The paper's two claims held against this run's ratios (text with the measured figures)."""
    by = {(r[0], r[1]): r for r in summary_rows}
    sizes = sorted({n for n, _ in by})

    def span(p):
        return "; ".join(f"n = {n}: {by[n, p][2]}–{by[n, p][4]}× up to 90% load, {by[n, p][5]}× at 95%"
                         for n in sizes)

    low = min(float(by[n, "pop"][6]) for n in sizes)
    return (f"R-JIQ approaches the bound as n grows ({span('rjiq')}), as the paper says, but at "
            "small n it is far from it even with 5% headroom: a job drawn for a type whose "
            "servers are all busy waits behind one random server. POP (our reading, with our "
            f"overflow stage) stays within a few percent of the bound without λ up to 90% of the "
            f"accuracy-feasible load at every n ({span('pop')}); its lowest chosen accuracy over "
            f"all points is {low:.4f}. At 95% with n = 10 per type POP reaches a* only by queueing "
            "at the accurate type, and its latency rises far above the bound (without the "
            "overflow stage it stays near the bound but misses a*, see the overflow table): the "
            "LP's feasible load is a fluid limit that a finite pool reaches only with long "
            "queues. jsq and fastest-idle run at half the bound because they ignore accuracy. "
            "The paper's POP rule is not public; these figures are for our reconstruction.")


# -- part (b): real LoadGen Server runs of the digits family through the pool SUT ----------
B_SERVERS, B_A_STAR, B_TQ = (1, 1, 1, 1), 0.975, "0.95@1ms"
B_POLICIES = ("rjiq", "pop", "jsq", "most-accurate")
B_FRACTIONS = (0.1, 0.3, 0.6)


def _digits_profiles(path, log):
    from tailq_loadgen import harnesses, workflow

    if path and os.path.isdir(path):
        return path
    path = path or os.path.join(tempfile.mkdtemp(prefix="tailq-routing-"), "profiles")
    log(f"profiling the digits family into {path} (batch 1, 1,000 queries each)")
    workflow.profile_family("digits", catalog=harnesses, out=path, queries=1000, resume=True,
                            log=lambda *a: None)
    return path


def part_b_loadgen(args):
    """The digits family on one server per variant under LoadGen's Server scenario, at three
    loads, every policy under a* and under the tail-quality target; the simulator fed by the
    same profiles beside each real figure."""
    from tailq_loadgen import harnesses, workflow
    from tailq_loadgen.workflow import _route

    t_start = time.perf_counter()
    log = print
    profiles = _digits_profiles(args.profiles, log)
    fam = harnesses.get_family("digits")
    plan = _route.plan_route(family=fam, servers=list(B_SERVERS), policies=list(B_POLICIES),
                             accuracy_target=B_A_STAR, tq_target=B_TQ, qps=1.0, profiles=[profiles])
    full = min(R.max_feasible_load(plan.pool, t) for t in plan.targets)
    cap = args.max_qps
    top = min(full, cap)
    loads = [round(f * top) for f in B_FRACTIONS]
    rows, pool_rows, pop_s = [], [], []
    scratch = args.scratch or tempfile.mkdtemp(prefix="tailq-routing-runs-")
    for load in loads:
        out = os.path.join(scratch, f"digits-{load}")
        common = dict(family=fam, servers=list(B_SERVERS), policies=list(B_POLICIES),
                      accuracy_target=B_A_STAR, tq_target=B_TQ, qps=float(load),
                      profiles=[profiles], queries=args.real_queries, taus="1ms,2ms",
                      seed=1, overwrite=True, log=lambda *a: None)
        t0 = time.perf_counter()
        real = workflow.route(out=out, build_harnesses=lambda: [harnesses.get_harness(n) for n in fam.variants],
                              executor=args.executor, process_builder=process_builder, **common)
        secs = time.perf_counter() - t0
        # the simulator at the same number of jobs: POP's index needs thousands of decisions
        # to settle on this family, so a longer simulation would not be the same experiment
        sim = workflow.route(out=out + "-sim", simulate=True, **common)
        log(f"load {load}/s: {secs:.0f} s of LoadGen tests")
        for r, s in zip(real["results"], sim["results"]):
            lp = r["lp_bound"]["mean_latency"] if r["lp_bound"] else float("nan")
            tq = r["tail_quality"]
            shares = "/".join(f"{x:.2f}" for x in r["shares"])
            lp_shares = "/".join(f"{x:.2f}" for x in r["lp_shares"])
            rows.append((f"{load}", r["policy"], "a*" if r["target"]["kind"] == "accuracy" else B_TQ,
                         f"{lp * 1e3:.3f}", f"{r['mean_sojourn'] * 1e3:.3f} ({r['mean_sojourn'] / lp:.1f}×)",
                         f"{s['mean_sojourn'] * 1e3:.3f}", f"{r['p99_sojourn'] * 1e3:.3f}",
                         f"{r['accuracy']['realised']:.4f}", f"{s['accuracy']['realised']:.4f}",
                         "✓" if r["meets_target"] else "✗ miss",
                         f"{tq['0.001']:.4f}", f"{tq['0.002']:.4f}", f"{shares} ({lp_shares})",
                         f"{r['handoff']['mean'] / 1e3:.0f}", f"{r['dispatch']['p50'] / 1e3:.1f}"))
            if r["policy"] == "pop":
                pop_s.append((load, r["target"]["kind"], r["policy_state"]["s"], s["policy_state"]["s"],
                              r["planned_gain"], s["planned_gain"], r["target"]["level"]))
            for name, v in r["service_in_pool_vs_profile"].items():
                if v["pool_mean_s"] is not None and r["target"]["kind"] == "accuracy":
                    pool_rows.append((f"{load}", r["policy"], name, f"{v['profile_mean_s'] * 1e3:.3f}",
                                      f"{v['pool_mean_s'] * 1e3:.3f}",
                                      f"{v['pool_mean_s'] / v['profile_mean_s']:.2f}×"))
    prof_line = ", ".join(f"{p['variant']} {p['mean_service_s'] * 1e3:.3f} ms / {p['accuracy']:.4f}"
                          for p in real["profiles"])
    body = [f"Machine: {machine_line()}; other engineers' jobs shared its 2 cores during the run. "
            f"Digits family on servers {','.join(map(str, B_SERVERS))} (each model computing in "
            f"{_where(real)}, PyTorch "
            f"with 1 intra-op thread), LoadGen Server scenario, {args.real_queries:,} queries per "
            f"policy and target, the first 10% left out; a* = {B_A_STAR}, tail-quality target "
            f"{B_TQ} (gain q_k(1 ms) from the profiles' service times). Profiles (batch 1, taken "
            f"alone; mean service / accuracy): {prof_line}. The accuracy-feasible load from the "
            f"profiles is {full:,.0f}/s; loads are {', '.join(f'{int(f * 100)}%' for f in B_FRACTIONS)} "
            f"of min(that, {cap:,}/s) — the cap is what one Python dispatcher and LoadGen on 2 "
            "cores carry, measured below, not a property of the models. Latencies in ms; "
            "'sim' is the simulator fed by the same profiles at the same load (20× the jobs); "
            "'hand-off' is the mean issue → service start of jobs that found their server idle (µs); "
            "'decide' the dispatcher's median time per decision (µs); shares are realised "
            "(LP's in brackets), variants in the family's order (linear/mlp/torch/wide).", "",
            table(("QPS", "policy", "target", "T_LP-LB", "mean (× bound)", "sim mean", "p99",
                   "accuracy", "sim accuracy", "target met", "TQ@1ms", "TQ@2ms", "shares (LP)", "hand-off µs",
                   "decide µs"), rows), "",
            "**Service time in the pool against the profile taken alone** (mean ms of `predict` "
            "in the pool; the profile's is LoadGen's latency of one query on an idle machine):", "",
            table(("QPS", "policy", "variant", "profile", "in the pool", "ratio"), pool_rows), "",
            "**Where this differs from the paper's claims, and why.** " + _b_differences(rows, pool_rows, pop_s, real.get("executor")), "",
            f"Total {time.perf_counter() - t_start:.0f} s."]
    return "\n".join(body), rows


def _where(doc):
    """Where a route run's servers computed, from its metadata's executor."""
    return {"thread": "its server thread", "process": "a worker process per server"}.get(
        doc.get("executor"), "its server thread")


def _b_differences(rows, pool_rows, pop_s, executor):
    """The measured part-(b) figures against the paper's claims, as text."""
    ratio = [float(r[4].split("(")[1].rstrip("×)")) for r in rows]
    by_variant = {}
    for r in pool_rows:
        by_variant.setdefault(r[2], []).append(float(r[5].rstrip("×")))
    slow = "; ".join(f"{v} {min(x):.1f}–{max(x):.1f}×" for v, x in by_variant.items())
    misses = [f"{r[1]} at {r[0]}/s ({r[2]})" for r in rows if r[9] != "✓"]
    pop = "; ".join(f"{load}/s {kind}: s = {a:.2f} real, {b:.2f} simulated, planned gain {g:.4f} / "
                    f"{h:.4f} against {lvl:g}" for load, kind, a, b, g, h, lvl in pop_s)
    return (f"Measured mean latency is {min(ratio):.1f}–{max(ratio):.1f}× the LP bound here, for "
            "every policy: on this pool the bound (a fluid limit from the profiles' service "
            "times, tens to hundreds of µs) is far below what the real pool adds per query — "
            "LoadGen's round trip, the dispatcher's hand-off (column 'hand-off') and, above all, "
            "service times that are longer in the pool than alone (in-pool ÷ profile: "
            f"{slow}). The digits models are so small that their PyTorch calls hold the GIL "
            "for most of their time; in server threads the four servers, the dispatcher and "
            "LoadGen's issuing take turns on it, and in worker processes (this run's executor: "
            f"{executor}) they still share 2 cores with LoadGen, the dispatcher and other "
            "engineers' jobs, so a woken server rarely finds a core idle (section 'Routing: "
            "servers in threads and in processes' measures both). The paper's regime — independent servers whose service time "
            "dominates — is not this one, so R-JIQ's and POP's distance to the bound measures "
            "the pool's overheads, not the policies; the simulator (fed by the same profiles) "
            "is what shows the policies' own behaviour (part a). POP's realised accuracy falls "
            "short of a* here (its check can still pass: the batch-means interval of a run "
            "with a trend is wide), in the real pool and the simulator alike, at the same "
            "3,000 decisions: its index s moves "
            "by η·(a* − a_k) per decision, and on this family a_k − a* is only 0.01–0.04, so "
            "with η = 0.02 it climbs ~10⁻⁴–10⁻³ per decision and has not reached the order that "
            f"meets a* when the test ends ({pop}); on the synthetic family (gaps 0.035–0.065 "
            "at a* = 0.75) it needs ~10⁴ decisions too, which is why tests/test_route_loadgen.py "
            "holds real runs to simulated runs of the same length (docs/routing.md, 'POP in "
            "short runs'). An η scaled to the gains' spread would fix that; the "
            "paper's POP rule is not public and this is our reading. Policies that missed "
            f"their target at run time: {', '.join(misses) if misses else 'none'}.")


# Each part: its RESULTS.md section title and the function that measures it and writes the body.
E_LOADS, E_POLICY = (150, 450), "jsq"


def part_executors(args):
    """Digits on servers 1,1,1,1: each variant's service time in the pool against its profile
    taken alone, with the servers' models in threads and in worker processes, at two loads."""
    from tailq_loadgen import harnesses, workflow

    profiles = _digits_profiles(args.profiles, print)
    fam = harnesses.get_family("digits")
    scratch = args.scratch or tempfile.mkdtemp(prefix="tailq-routing-exec-")
    rows, lat = [], {}
    for load in E_LOADS:
        for executor in ("threads", "processes"):
            t0 = time.perf_counter()
            doc = workflow.route(family=fam, servers=list(B_SERVERS), policies=[E_POLICY],
                                 accuracy_target=B_A_STAR, qps=float(load), profiles=[profiles],
                                 queries=args.real_queries, seed=1, overwrite=True,
                                 out=os.path.join(scratch, f"digits-{executor}-{load}"),
                                 build_harnesses=lambda: [harnesses.get_harness(n) for n in fam.variants],
                                 executor=executor, process_builder=process_builder, log=lambda *a: None)
            print(f"{load}/s {executor}: {time.perf_counter() - t0:.0f} s")
            (r,) = doc["results"]
            lat[load, executor] = r
            for name, v in r["service_in_pool_vs_profile"].items():
                if v["pool_mean_s"] is not None:
                    rows.append((load, executor, name, v["profile_mean_s"], v["pool_mean_s"]))
    table_rows = []
    for load in E_LOADS:
        for name in fam.variants:
            got = {e: (p, m) for (l, e, n, p, m) in rows if l == load and n == name}
            if len(got) < 2:
                continue
            prof = got["threads"][0]
            t, pr = got["threads"][1], got["processes"][1]
            table_rows.append((f"{load}", name, f"{prof * 1e3:.3f}", f"{t * 1e3:.3f} ({t / prof:.2f}×)",
                               f"{pr * 1e3:.3f} ({pr / prof:.2f}×)", f"{t / pr:.2f}"))
    lat_rows = [(f"{load}", e, f"{lat[load, e]['mean_sojourn'] * 1e3:.3f}",
                 f"{lat[load, e]['p99_sojourn'] * 1e3:.3f}", f"{lat[load, e]['handoff']['mean'] / 1e3:.0f}",
                 "/".join(f"{x:.2f}" for x in lat[load, e]["shares"]))
                for load in E_LOADS for e in ("threads", "processes")]
    body = [f"Machine: {machine_line()}; other engineers' jobs shared its 2 cores during the run. "
            f"Digits family on servers {','.join(map(str, B_SERVERS))}, policy {E_POLICY} (it uses "
            f"every variant), LoadGen Server at {' and '.join(map(str, E_LOADS))} QPS, "
            f"{args.real_queries:,} queries per test, the first 10% left out. `threads`: each "
            "server's model computes in its server thread; `processes`: in a worker process per "
            "server (capture/_pool_process.py; the service time is measured in the worker). "
            "Profile: LoadGen's latency of one query, the variant alone (batch 1).", "",
            "**Mean service time in the pool against the profile** (ms; ratio to the profile):", "",
            table(("QPS", "variant", "profile", "threads", "processes", "threads ÷ processes"),
                  table_rows), "",
            "**Latency** (ms; hand-off in µs; shares of jobs per variant):", "",
            table(("QPS", "executor", "mean", "p99", "hand-off", "shares"), lat_rows)]
    return "\n".join(body), None


PARTS = {"simulation": ("Routing (a): simulated latency against load (benchmarks/routing.py)",
                        part_a_simulation),
         "loadgen": ("Routing (b): the digits family in a real pool under LoadGen (benchmarks/routing.py)",
                     part_b_loadgen),
         "executors": ("Routing: servers in threads and in processes (benchmarks/routing.py)",
                       part_executors)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(PARTS) + ["all"], default="all")
    ap.add_argument("--jobs", type=int, default=200000)
    ap.add_argument("--quick", action="store_true", help="fewer sizes and loads (a smoke run)")
    ap.add_argument("--profiles", default=None, help="part b: the digits family's profiles "
                    "(`tailq profile --family digits --out DIR`); captured when absent")
    ap.add_argument("--real-queries", type=int, default=3000, help="part b: queries per LoadGen test")
    ap.add_argument("--max-qps", type=int, default=1500, help="part b: the highest load tried")
    ap.add_argument("--scratch", default=None,
                    help="part b: where its run directories go (default: a temporary directory)")
    ap.add_argument("--executor", default="auto", choices=("auto", "threads", "processes"),
                    help="part b: where the servers' models compute (auto: digits in processes)")
    args = ap.parse_args()
    for name, (title, part) in PARTS.items():
        if args.part in (name, "all"):
            body, _ = part(args)
            if not args.quick:
                write_section(title, body)
                print("written to benchmarks/RESULTS.md")
            else:
                print(body)


if __name__ == "__main__":
    main()
