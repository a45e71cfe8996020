"""POP's real-vs-simulated "gap" (docs/routing.md, "POP in short runs"), by measurement.

One real LoadGen Server run of the synthetic family (servers 2,1,1, 200 QPS, a* 0.75) per
policy, with the policy's index s and idle servers recorded at every decision; then, per
policy: the real shares, per-variant wait and service; simulations from the profiles of the
same policy seed (5 seeds × 20,000 jobs); and a replay of the real arrivals and real per-variant service times through the
simulator with the same policy seed; last, the simulator alone at 1,200, 2,000 and 40,000
jobs (100, 100 and 5 seeds), which is the docs' table. Prints only (a diagnosis, not a speed
target):

    Q=2000 POLS=pop,rjiq .venv/bin/python benchmarks/routing_pop_gap.py
"""
import dataclasses
import os
import time

import numpy as np

from tailq_loadgen import harnesses, records, routing, workflow
from tailq_loadgen.capture import CaptureSession
from tailq_loadgen.capture._pool import PoolBackend, PoolSUT
from tailq_loadgen.routing import _simulate
from tailq_loadgen.workflow import _route

QPS, A_STAR, COUNT = 200.0, 0.75, 200
QUERIES = int(os.environ.get("Q", 2000))
POLS = os.environ.get("POLS", "pop,rjiq").split(",")
BASE = os.environ.get("OUT", "/tmp/tailq-pop-gap")
PROF = f"{BASE}/profiles"
os.makedirs(BASE, exist_ok=True)
if not os.path.isdir(PROF):
    workflow.profile_family("synthetic", catalog=harnesses, out=PROF, count=COUNT, queries=500,
                            log=lambda *a: None)
fam = harnesses.get_family("synthetic")
plan = _route.plan_route(family=fam, servers="2,1,1", policies=POLS, accuracy_target=A_STAR,
                         qps=QPS, profiles=[PROF])
pool = plan.pool
print("profile means ms", pool.mean_service * 1e3, "acc", pool.accuracy)


class RecState(routing.PoolState):
    log = None

    def assign(self, s):
        super().assign(s)
        RecState.log.append((time.perf_counter_ns(), "a", s))

    def release(self, s):
        super().release(s)
        RecState.log.append((time.perf_counter_ns(), "r", s))


class Rec:
    def __init__(self, p):
        self.p, self.trace = p, []
        self.name = p.name

    def choose(self, state):
        before = getattr(self.p, "s", None)
        idle = tuple(state.idle_count(k) for k in range(state.types))
        srv = self.p.choose(state)
        self.trace.append((time.perf_counter_ns(), before, idle, tuple(state.load), srv))
        return srv

    def snapshot(self):
        return self.p.snapshot()

    def describe(self):
        return self.p.describe()


hs = [harnesses.get_harness(n) for n in fam.variants]
backend = PoolBackend([h.name for h in hs], [h.backend for h in hs])
harness = dataclasses.replace(hs[0], name="pool:synthetic", model="pool-synthetic", backend=backend)


def factory(backend, dataset, **watch):
    return PoolSUT(backend, dataset, [2, 1, 1], RecState, **watch)


out = f"{BASE}/run"
session = CaptureSession(harness, scenario="Server", out=out, first_mode="PerformanceOnly",
                         overrides={"server_target_qps": QPS, "min_duration_ms": 0,
                                    "min_query_count": QUERIES, "max_query_count": QUERIES},
                         count=COUNT, overwrite=True, log=lambda *a: None, sut_factory=factory)
recs = {}
with session:
    for i, name in enumerate(POLS):
        RecState.log = []
        p = Rec(routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[0, 0, i]))
        recs[name] = p
        session.sut.set_policy(p, QPS)
        session.run(["PerformanceOnly"])
run = records.load_run(out)


class Replay:
    def __init__(self, seq):
        self.seq, self.i = seq, 0

    def next(self):
        v = self.seq[self.i % len(self.seq)]
        self.i += 1
        return v, True


for i, name in enumerate(POLS):
    sel = np.flatnonzero(run["pass"] == i)
    sel = sel[np.argsort(run["wrapper_issue_ns"][sel], kind="stable")]
    lat = run["latency_ns"][sel] / 1e6
    wait = run["wait_ns"][sel] / 1e6
    svc = run["service_ns"][sel] / 1e6
    var = np.array([pool.names.index(v) for v in run["variant"][sel]])
    srv = pool.first_server[var] + run["server"][sel]
    arr = (run["wrapper_issue_ns"][sel] - run["wrapper_issue_ns"][sel].min()) / 1e9
    w = int(round(0.1 * sel.size))
    # occupancy: the gap from one start to the next on the same server, when the next waited
    start = run["wrapper_issue_ns"][sel] / 1e6 + wait
    occ_extra = []
    for s in range(pool.servers.sum()):
        js = np.flatnonzero(srv == s)
        js = js[np.argsort(start[js])]
        for a, b in zip(js[:-1], js[1:]):
            if wait[b] > 0.3 and start[b] - start[a] < svc[a] + 2:  # b queued behind a
                occ_extra.append(start[b] - start[a] - svc[a])
    occ_extra = np.array(occ_extra)
    trace = recs[name].trace
    ss = np.array([t[1] if t[1] is not None else np.nan for t in trace])
    print(f"== {name} real: mean lat {lat[w:].mean():.3f} ms wait {wait[w:].mean():.3f} "
          f"svc {svc[w:].mean():.3f} lat-wait-svc {(lat - wait - svc)[w:].mean():.3f}")
    print("   shares", np.bincount(var[w:], minlength=3) / var[w:].size,
          "per-var wait", [round(wait[w:][var[w:] == k].mean(), 3) for k in range(3)],
          "per-var svc", [round(svc[w:][var[w:] == k].mean(), 3) for k in range(3)],
          "occupancy beyond service ms (queued successors)", np.round([occ_extra.mean(), np.median(occ_extra)], 4) if occ_extra.size else None)
    print("   s trajectory: mean", np.nanmean(ss[w:]), "final", recs[name].p.snapshot())
    print("   idle-at-decision (mean per type)", np.mean([t[2] for t in trace][w:], axis=0))
    # simulation from profiles, same policy seed
    pol = routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[0, 0, i])
    sims = []
    for seed in range(5):
        pol = routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[0, 0, i])
        sm = routing.simulate(pool, pol, QPS, 20000, rng=[seed, 1], warmup=0.1)
        sims.append(sm)
    ms = np.mean([sm.summary().mean_sojourn for sm in sims]) * 1e3
    sm = sims[0]
    print(f"   sim(profiles): mean {ms:.3f} wait {sm.measured(sm.wait).mean() * 1e3:.3f} shares",
          np.round(sm.summary().shares, 4), "per-var wait",
          [round(sm.measured(sm.wait)[sm.measured(sm.variant) == k].mean() * 1e3, 3) for k in range(3)])
    # replay: real arrivals, each type's real service times in the real order, same policy seed
    for label, extra in (("replay svc", 0.0), ("replay svc+rest", None)):
        seqs = []
        for k in range(3):
            m = var == k
            order = np.argsort(start[m])
            base = svc[m][order]
            add = (lat - wait - svc)[m][order] if extra is None else 0.0
            seqs.append(Replay(((base + add) / 1e3).tolist()))
        pol = routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[0, 0, i])
        st = routing.PoolState(pool.servers)
        strace = []
        orig = pol.choose

        def ch(state, orig=orig, pol=pol):
            strace.append(getattr(pol, "s", np.nan))
            return orig(state)
        pol.choose = ch
        b, sv, sr, _ = _simulate._run_heap(arr.tolist(), st, pol, seqs)
        soj = np.array(b) + np.array(sv) - arr
        # LoadGen's latency = sojourn + the round trip not in service: add it back for replay svc
        rest = (lat - wait - svc)[w:].mean() if extra == 0.0 else 0.0
        vr = np.asarray(st.type_of)[np.array(sr)]
        print(f"   {label}: mean {soj[w:].mean() * 1e3 + rest:.3f} shares",
              np.round(np.bincount(vr[w:], minlength=3) / (vr.size - w), 4),
              "same server as real", np.mean(np.array(sr) == srv).round(3),
              "s mean", np.nanmean(np.array(strace)[w:]).round(3))

print("== the simulator alone, by run length (POP's transient)")
for name in POLS:
    for jobs, reps in ((1200, 100), (2000, 100), (40000, 5)):
        ms, sh, acc = [], [], []
        for seed in range(reps):
            pol = routing.make_policy(name, pool, routing.Target(A_STAR), load=QPS, rng=[seed, 0])
            sm = routing.simulate(pool, pol, QPS, jobs, rng=[seed, 1], warmup=0.1).summary()
            ms.append(sm.mean_sojourn)
            sh.append(sm.shares)
            acc.append(sm.accuracy["realised"])
        print(f"   {name} {jobs:>6} jobs × {reps:>3}: mean {np.mean(ms) * 1e3:.3f} ms (sd {np.std(ms) * 1e3:.3f}) "
              f"shares {np.round(np.mean(sh, 0), 3)} accuracy {np.mean(acc):.4f}")
