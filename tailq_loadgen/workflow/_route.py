"""``tailq route``: a family's variants on a pool of servers under LoadGen's Server scenario.

Per policy (and per target: the accuracy target a*, and the tail-quality target when given)
one LoadGen Server test runs through the pool SUT (``capture/_pool.py``), or — ``simulate``
— the routing room's simulator runs the same pool. Both are summarised by one function
(``routing.summarise``), so the two answers are the same record and can be held against
each other. Variants' service laws and accuracies come from captured profiles (``tailq
profile``), never typed in. The result is ``OUT/routing.json`` (``FORMAT``, ``VERSION``).

Reusable by issue 16 (``tailq plan --verify``, ``tailq adapt``): :func:`build_pool` deploys
a given assignment of variants to servers, :func:`run_pool_tests` runs any policy objects
(or a fixed split: a policy whose ``choose`` draws from it) for one Server test each.
"""

import dataclasses
import json
import math
import os

import numpy as np

from .._errors import UserError
from ._profile import load_profiles

ROUTING_FILE = "routing.json"
FORMAT = "tailq-routing"
VERSION = 1
DEFAULT_QUERIES = 2000
MIN_QUERIES = 100
WARMUP = 0.1  # share of jobs (by arrival) left out of every statistic, real and simulated
# Per family: does its variants' runtime release the GIL for most of a call, and why. True:
# a server computes in its own thread; False: in a worker process per server
# (capture/_pool_process.py). Digits: measured, benchmarks/RESULTS.md "Routing: servers in
# threads and in processes" — its small PyTorch models spend most of a call in Python.
_RELEASES_GIL = {
    "synthetic": (True, "time.sleep releases the GIL"),
    "synthetic-laws": (True, "time.sleep releases the GIL"),
    "digits": (False, "small PyTorch models hold the GIL for most of a call (Python-side work "
                      "dominates their few-µs kernels)"),
    "docstrings": (True, "PyTorch MiniLM: most of a call is matrix products, which release the GIL"),
}
EXECUTORS = ("auto", "threads", "processes")


@dataclasses.dataclass(frozen=True)
class RoutePlan:
    """Everything checked before anything runs: the pool, the targets, the policy names."""

    family: object
    pool: object
    profiles: tuple
    targets: tuple
    policies: tuple
    qps: float
    taus: tuple
    count: int


def parse_servers(text, family):
    """``"2,1,1"`` → [2, 1, 1], one count per variant of ``family`` (fastest first)."""
    try:
        servers = [int(v) for v in str(text).split(",")]
    except ValueError:
        servers = None
    if not servers or min(servers) < 1:
        raise UserError(f"--servers {text!r}: write one whole number ≥ 1 per variant, "
                        f"comma-separated, e.g. {','.join('1' for _ in family.variants)}")
    if len(servers) != len(family.variants):
        raise UserError(f"--servers {text!r}: {len(servers)} counts for the {len(family.variants)} "
                        f"variants of family {family.name} ({', '.join(family.variants)}); "
                        "give one per variant")
    return servers


def parse_taus(text):
    """``"10ms,20ms"`` → (0.01, 0.02) seconds; None or "" → ()."""
    from .. import routing

    if not text:
        return ()
    out = []
    for part in str(text).split(","):
        try:
            out.append(routing.parse_tq_target(f"1@{part.strip()}").tau)
        except routing.RoutingError:
            raise UserError(f"--tau {text!r}: write times with a unit, comma-separated, e.g. "
                            "10ms,20ms") from None
    return tuple(out)


def family_profiles(family, dirs):
    """The batch-1 profile of every variant of ``family``, in the family's order, from ``dirs``."""
    if not dirs:
        raise UserError(f"--profiles: give the directory of the family's profiles (capture them "
                        f"with `tailq profile --family {family.name} --out DIR`)")
    found = {}
    for d in dirs:
        for p in load_profiles(d):
            if p.batch_size == 1 and p.variant in family.variants:
                found.setdefault(p.variant, p)
    missing = [v for v in family.variants if v not in found]
    if missing:
        raise UserError(f"--profiles {' '.join(dirs)}: no batch-1 profile of {', '.join(missing)}; "
                        f"capture it with `tailq profile --family {family.name} --out DIR`")
    return tuple(found[v] for v in family.variants)


def build_pool(profiles, servers):
    """A ``routing.Pool``: variant k on ``servers[k]`` servers, its law and accuracy measured.

    Service times and correctness are taken as independent (the synthetic and digits variants'
    service time does not depend on the sample), so the accuracy is the profile's exact one."""
    from .. import routing
    from ._profile_records import routing_variant

    return routing.Pool(routing_variant(p, n, joint=False) for p, n in zip(profiles, servers))


def executor_choice(family_name, executor="auto"):
    """``(executor per variant, reason)``: "thread" or "process", from the family's runtime
    (``_RELEASES_GIL``) or as the user forced it."""
    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if executor != "auto":
        return executor[:-1] if executor == "threads" else "process", f"--executor {executor}"
    if family_name not in _RELEASES_GIL:
        raise UserError(f"--harness {family_name}: its runtime's GIL behaviour is unknown; give "
                        "--executor threads (it releases the GIL) or --executor processes")
    releases, why = _RELEASES_GIL[family_name]
    return ("thread" if releases else "process"), f"auto: {why}"


def plan_route(*, family, servers, policies, accuracy_target, qps, profiles, tq_target=None,
               taus=None, count=None, executor="auto"):
    """Check every input and build the pool; a UserError (exit 2) names the first bad one."""
    from .. import routing

    fam = family  # a harnesses.Family (name, variants), looked up by the CLI
    executor_choice(fam.name, executor)
    servers = parse_servers(servers, fam) if isinstance(servers, str) else list(servers)
    if len(servers) != len(fam.variants):
        raise UserError(f"--servers: {len(servers)} counts for the {len(fam.variants)} variants "
                        f"of family {fam.name}")
    if isinstance(qps, bool) or not isinstance(qps, (int, float)) or not math.isfinite(qps) \
            or qps <= 0:
        raise UserError(f"--qps {qps!r}: must be a positive number of queries per second")
    if accuracy_target is None:
        raise UserError("--accuracy-target: give the accuracy a* the pool must keep, e.g. 0.97")
    if not policies:
        raise UserError("--policy: give at least one routing policy")
    profs = family_profiles(fam, profiles)
    pool = build_pool(profs, servers)
    targets = [routing.Target(float(accuracy_target))]
    if tq_target:
        targets.append(routing.parse_tq_target(tq_target))
    for target in targets:
        routing.lp_bound(pool, float(qps), target)  # a* above every variant, or a load too high
        for name in policies:
            routing.make_policy(name, pool, target, load=float(qps), rng=0)
    taus = tuple(sorted(set(parse_taus(taus) if isinstance(taus, str) or taus is None else taus)
                        | {t.tau for t in targets if t.tau}))
    return RoutePlan(fam, pool, profs, tuple(targets), tuple(policies), float(qps), taus, count)


def _policy(plan, name, target, seed):
    from .. import routing
    return routing.make_policy(name, plan.pool, target, load=plan.qps, rng=seed)


# -- the real pool ------------------------------------------------------------------------
def deploy(name, hs, servers, *, out, qps, queries, releases_gil=True, count=None,
           overwrite=False, log=print, experiment=None, executor="thread", process_builder=None,
           executor_reason=None):
    """A CaptureSession whose SUT is a pool named ``name``: ``servers[k]`` servers of the
    harness ``hs[k]`` (built by the caller: the CLI builds harnesses, never this room).

    ``executor``: "thread" or "process", for every variant (or a list, one per variant);
    a process variant's workers build their backend with ``process_builder(harness name)``,
    a picklable function given by the caller. The caller runs tests with
    :func:`run_pool_test` and closes the session (a ``with``)."""
    from .. import routing
    from ..capture import CaptureSession
    from ..capture._pool import PoolBackend, PoolSUT

    # variants go by their harnesses' own names, as their profiles do
    backend = PoolBackend([h.name for h in hs], [h.backend for h in hs])
    # The first variant's harness lends its dataset, metric and output format: a family's
    # variants serve the same data with the same labels (harnesses/_registry.py: Family).
    harness = dataclasses.replace(hs[0], name=f"pool:{name}", model=f"pool-{name}",
                                  backend=backend)
    runtimes = [h.runtime for h in hs]
    executors = [executor] * len(hs) if isinstance(executor, str) else list(executor)
    builders = [process_builder(h.name) if e == "process" else None for h, e in zip(hs, executors)]
    if isinstance(releases_gil, bool):
        releases_gil = [releases_gil] * len(hs)

    def factory(backend, dataset, **watch):
        return PoolSUT(backend, dataset, servers, routing.PoolState, runtimes=runtimes,
                       releases_gil=list(releases_gil), executors=executors,
                       process_builders=builders, executor_reason=executor_reason, **watch)

    overrides = {"server_target_qps": float(qps), "min_duration_ms": 0,
                 "min_query_count": int(queries), "max_query_count": int(queries)}
    session = CaptureSession(harness, scenario="Server", out=out, first_mode="PerformanceOnly",
                             overrides=overrides, count=count, overwrite=overwrite, log=log,
                             experiment=experiment, sut_factory=factory)
    return session, hs[0]


def run_pool_test(session, policy, qps, overrides=None):
    """One LoadGen Server test through the pool, routed by ``policy``; returns its pass index.

    ``overrides``: LoadGen settings for this test only (``tailq adapt`` runs each segment at
    its own ``server_target_qps`` and query count in one session)."""
    index = session.passes
    session.sut.set_policy(policy, qps)
    session.run(["PerformanceOnly"], overrides)
    return index


def scored_pass(run, index, harness, total):
    """The pass's rows by issue time, with each row scored by the family's metric.

    A sample served several times (by different variants) is scored once per serving: the
    rows are scored in rounds, each round holding every sample at most once."""
    sel = np.flatnonzero(run["pass"] == index)
    sel = sel[np.argsort(run["wrapper_issue_ns"][sel], kind="stable")]
    idx, ok = run["sample_index"][sel], run["status"][sel] == "ok"
    spec = run.metadata.get("output") or {}
    if not spec.get("dtype") or spec.get("shape") is None:
        raise UserError(f"{run.path}: the variants' outputs differ in type or shape; a pool "
                        "needs one output format")
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    raw = run["output"][sel]
    correct = np.zeros(sel.size, dtype=bool)
    seen = {}
    rounds = np.array([_count(seen, i) for i in idx], dtype=np.int64)
    for r in range(int(rounds.max()) + 1 if rounds.size else 0):
        rows = np.flatnonzero((rounds == r) & ok)
        outputs = np.zeros((int(harness.dataset.get_item_count()),) + shape, dtype=dtype)
        for row in rows:
            outputs[idx[row]] = np.frombuffer(raw[row], dtype=dtype).reshape(shape)
        scores = np.asarray(harness.make_metric(outputs).scores)
        correct[rows] = scores[idx[rows]] >= 1.0
    return sel, correct


def _count(seen, i):
    n = seen.get(i, 0)
    seen[i] = n + 1
    return n


def measured_simulation(run, index, pool, policy, qps, harness, total):
    """The real test as a ``routing.Simulation``: its arrivals, waits and LoadGen latencies, so
    ``routing.summarise`` reports it exactly as it reports a simulated run.

    sojourn = LoadGen's latency; wait = the pool's (issue → service start); service = the rest
    (the backend's time plus the hand-offs and LoadGen's round trip)."""
    from .. import routing

    sel, correct = scored_pass(run, index, harness, total)
    latency = run["latency_ns"][sel].astype(np.float64) / 1e9
    wait = run["wait_ns"][sel].astype(np.float64) / 1e9
    arrival = (run["wrapper_issue_ns"][sel] - run["wrapper_issue_ns"][sel].min()).astype(np.float64) / 1e9
    names = list(pool.names)
    variant = np.array([names.index(v) for v in run["variant"][sel]], dtype=np.int64)
    server = pool.first_server[variant] + run["server"][sel].astype(np.int64)
    return routing.Simulation(pool=pool, policy=policy, load=qps, warmup=int(round(WARMUP * sel.size)),
                              arrival=arrival, start=arrival + wait, service=latency - wait,
                              server=server, variant=variant, correct=correct), sel


# -- one command --------------------------------------------------------------------------
def route(*, family, servers, policies, accuracy_target, qps, out, profiles, tq_target=None,
          taus=None, simulate=False, queries=DEFAULT_QUERIES, seed=0, count=None,
          overwrite=False, log=print, experiment=None, build_harnesses=None, executor="auto",
          process_builder=None):
    """Run (or simulate) every policy under every target; write and return ``OUT/routing.json``.

    ``family``: a ``harnesses.Family``; ``build_harnesses()``: its variants' harnesses, in its
    order (called only for a real run, after every input is checked). ``executor``: auto
    (by the family's runtime), threads or processes; ``process_builder(name)``: a picklable
    function that builds the registered harness ``name``'s backend in a worker process."""
    from .. import routing

    plan = plan_route(family=family, servers=servers, policies=policies,
                      accuracy_target=accuracy_target, qps=qps, profiles=profiles,
                      tq_target=tq_target, taus=taus, count=count, executor=executor)
    where, why = executor_choice(plan.family.name, executor)
    if where == "process" and process_builder is None and not simulate:
        raise UserError("servers in processes need a process_builder (the CLI gives one)")
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < MIN_QUERIES:
        raise UserError(f"--queries {queries!r}: must be a whole number ≥ {MIN_QUERIES} (the "
                        "statistics use 20 batch means of the jobs after the warm-up)")
    results = []
    if simulate:
        if os.path.exists(os.path.join(out, ROUTING_FILE)) and not overwrite:
            raise UserError(f"--out {out}: already holds {ROUTING_FILE}; give --overwrite or another --out")
        os.makedirs(out, exist_ok=True)
        for t_i, target in enumerate(plan.targets):
            for p_i, name in enumerate(plan.policies):
                policy = _policy(plan, name, target, [seed, t_i, p_i])
                sim = routing.simulate(plan.pool, policy, plan.qps, queries, rng=[seed, t_i, p_i, 1],
                                       warmup=WARMUP)
                results.append(_result(plan, target, sim.summary(plan.taus), None, None))
    else:
        if build_harnesses is None:
            raise UserError("a real pool run needs the variants' harnesses (or give --simulate)")
        session, harness = deploy(plan.family.name, build_harnesses(), plan.pool.servers.tolist(),
                                  out=out, qps=plan.qps,
                                  queries=queries, count=count, overwrite=overwrite, log=log,
                                  experiment=experiment, executor=where,
                                  releases_gil=where == "thread", process_builder=process_builder,
                                  executor_reason=why)
        with session:
            passes = []
            for t_i, target in enumerate(plan.targets):
                for p_i, name in enumerate(plan.policies):
                    policy = _policy(plan, name, target, [seed, t_i, p_i])
                    passes.append((target, policy, run_pool_test(session, policy, plan.qps)))
        from .. import records

        run = records.load_run(out)
        for target, policy, index in passes:
            sim, sel = measured_simulation(run, index, plan.pool, policy, plan.qps, harness,
                                           session.total)
            results.append(_result(plan, target, sim.summary(plan.taus), run, (index, sel)))
    doc = _document(plan, results, simulate, queries, seed)
    # where the servers' models computed (a real run): "thread" or "process", and why
    doc["executor"], doc["executor_reason"] = (None, None) if simulate else (where, why)
    _write(os.path.join(out, ROUTING_FILE), doc)
    for line in summary_lines(doc):
        log(line)
    return doc


def _result(plan, target, summary, run, where):
    from .. import routing

    d = summary.as_dict()
    d["target"] = target.as_dict()
    d["target_text"] = target.describe()
    # the accuracy against a*, whatever the policy routed on
    a_star = plan.targets[0].level
    d["accuracy_vs_a_star"] = {"a_star": a_star, "met": bool(d["accuracy"]["upper_bound"] >= a_star),
                               "realised": d["accuracy"]["realised"]}
    d["meets_target"] = bool(d["target_check"]["met"])
    try:
        d["lp_bound"] = routing.lp_bound(plan.pool, plan.qps, target).as_dict()
    except routing.LoadNotCarried:
        d["lp_bound"] = None
    if run is not None:
        index, sel = where
        test = run.metadata["tests"][index]
        d["pass"] = index
        d["loadgen_result"] = test.get("loadgen_result")
        d["dispatch"] = (test.get("routing") or {}).get("dispatch_ns_per_decision")
        d["handoff"] = (test.get("routing") or {}).get("handoff_ns")
        d["status_counts"] = test.get("status_counts")
        service = run["service_ns"][sel].astype(np.float64) / 1e9
        variant = run["variant"][sel]
        d["service_in_pool_vs_profile"] = {
            name: {"pool_mean_s": float(service[variant == name].mean()) if np.any(variant == name) else None,
                   "profile_mean_s": float(plan.pool.mean_service[k])}
            for k, name in enumerate(plan.pool.names)}
    return d


def _document(plan, results, simulate, queries, seed):
    return {"format": FORMAT, "version": VERSION, "mode": "simulate" if simulate else "loadgen",
            "family": plan.family.name, "variants": list(plan.pool.names),
            "servers": plan.pool.servers.tolist(), "qps": plan.qps, "queries": queries,
            "seed": seed, "warmup_share": WARMUP, "taus_s": list(plan.taus),
            "targets": [t.as_dict() for t in plan.targets],
            "accuracy_target": plan.targets[0].level,
            "pool": plan.pool.describe(),
            "profiles": [{"variant": p.variant, "mean_service_s": p.mean_service_ns / 1e9,
                          "accuracy": p.accuracy, "queries": int(p.service_ns.size)}
                         for p in plan.profiles],
            "results": results,
            "misses": [f"{r['policy']} ({r['target_text']})" for r in results if not r["meets_target"]]}


def summary_lines(doc):
    """What ``tailq route`` prints: a line per policy, and every miss said plainly."""
    lines = [f"{doc['mode']} routing of family {doc['family']} on servers "
             f"{','.join(map(str, doc['servers']))} at {doc['qps']:g} QPS:"]
    for r in doc["results"]:
        lp = r["lp_bound"]["mean_latency"] if r["lp_bound"] else float("nan")
        tq = ", ".join(f"TQ@{float(k) * 1e3:g}ms {v:.4f}" for k, v in r["tail_quality"].items())
        check = r["target_check"]
        verdict = "meets" if r["meets_target"] else "MISSES"
        lines.append(f"  {r['policy']:<16} {r['target_text']}: mean {r['mean_sojourn'] * 1e3:.3f} ms "
                     f"(LP bound {lp * 1e3:.3f} ms), p99 {r['p99_sojourn'] * 1e3:.3f} ms, accuracy "
                     f"{r['accuracy']['realised']:.4f}{', ' + tq if tq else ''}; {verdict} the target "
                     f"({check['quantity']} {check['realised']:.4f}, upper bound "
                     f"{check['upper_bound']:.4f} vs {check['target']:g})")
    for m in doc["misses"]:
        lines.append(f"warning: policy {m} missed its target at run time")
    return lines


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _write(path, doc):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_json_safe(doc), f, indent=1, allow_nan=False)
    os.replace(tmp, path)


def load_routing(path):
    """A ``routing.json`` (or the directory holding one), checked for format and version.

    Plain JSON, read as data only."""
    file = os.path.join(path, ROUTING_FILE) if os.path.isdir(path) else path
    try:
        with open(file, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise UserError(f"{file}: not a readable routing result ({exc}); run `tailq route` again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("version"), int):
        raise UserError(f"{file}: not a tailq routing result")
    if doc["version"] > VERSION:
        raise UserError(f"{file}: routing format version {doc['version']} is newer than this "
                        f"tailq reads ({VERSION}); upgrade tailq")
    return doc


def routing_of(run_dir):
    """The routing.json of a `tailq route` run directory, or None for other runs."""
    if not os.path.isfile(os.path.join(run_dir, ROUTING_FILE)):
        return None
    return load_routing(run_dir)


def routing_lines(doc):
    """`tailq show`'s routing section: the summary per policy and per-variant usage."""
    lines = ["routing:"] + ["  " + line for line in summary_lines(doc)]
    names = doc["variants"]
    lines.append("  per-variant usage, realised (the LP's at this load):")
    for r in doc["results"]:
        usage = ", ".join(f"{n} {s:.3f} ({lp:.3f})" if lp is not None else f"{n} {s:.3f}"
                          for n, s, lp in zip(names, r["shares"], r["lp_shares"]))
        lines.append(f"    {r['policy']:<16} {r['target_text']}: {usage}")
    return lines
