"""Capacity at a latency SLO: LoadGen's Server scenario in ``FindPeakPerformance`` mode.

Per (variant, cores) the variant runs on the pool SUT as ``cores // threads`` servers (the way
a plan deploys it; ``_plan_deploy``; in threads or worker processes as ``--executor auto``
chooses), and LoadGen searches the highest Server QPS whose p99
latency stays ≤ the SLO. The result is a :class:`_profile.Capacity` added to the profile's
``profile.json`` (``capacity`` list), which the planner uses instead of its analytic capacity
(``planning.plan_variant_set``: measured points, fitted linearly in the cores).

LoadGen 6.0.17's FindPeakPerformance, as it behaves (and the traps it sets):

* it first checks the settings' ``server_target_qps`` as a *lower bound* — a failing one ends
  the search with "Initial lower bound does not satisfy performance constraints"; so the
  search starts at half the analytic capacity of the profile, and halves again (up to
  ``TRIES`` times) when LoadGen says the bound failed;
* from there it doubles the QPS (``server_find_peak_qps_boundary_step_size`` 1) until a test
  fails, then bisects to ``server_find_peak_qps_decimals_of_precision`` decimals (set to 0
  here: 1 QPS, half the tests of LoadGen's default 1);
* every inner test is a full Server test of ``min_query_count`` queries, so a search costs
  ~8–12 tests; a test must pass early stopping at p99 too (≥ 459 queries when none is late:
  ``queries`` is at least ``MIN_QUERIES``);
* the peak is reported only as a detail-log message ("FindPeakPerformance: Found peak
  performance field: Q"), which :func:`found_peak` reads (JSON lines, data only); LoadGen's
  trace restarts in each inner test and is not joined (the capture records wrapper latencies).
"""

import math
import os

from .._errors import UserError
from ._profile import Capacity, ProfileError, read_profile_info, write_profile_info

MIN_QUERIES = 500
TRIES = 4
_FOUND = "FindPeakPerformance: Found peak performance field:"
_LOWER_FAILED = "Initial lower bound does not satisfy"


def found_peak(detail_path):
    """(peak QPS or None, whether the initial lower bound failed) from a detail log."""
    from ..records._loadgen_logs import iter_detail_log

    peak, lower_failed = None, False
    for _, value, _ in iter_detail_log(detail_path):
        if not isinstance(value, str):
            continue
        if value.startswith(_FOUND):
            try:
                peak = float(value[len(_FOUND):].strip())
            except ValueError:
                peak = None
        elif _LOWER_FAILED in value:
            lower_failed = True
    return (peak if peak is not None and math.isfinite(peak) and peak > 0 else None), lower_failed


def start_qps(profile, servers, slo_s):
    """Half the analytic capacity of ``servers`` servers at the SLO (the search's lower bound)."""
    from .. import planning
    from ..planning._latency import batch_profiles
    from ._profile_records import planning_profiles

    rec = planning_profiles([profile])[0]
    bp = batch_profiles(rec, rec.service[0].threads, (1,))[1]
    cap = float(planning.capacity_at_slo(bp, [servers], slo_s)[0])
    if cap <= 0:
        raise ProfileError(f"--capacity-slo {slo_s * 1e3:g} ms: {profile.variant} does not meet it "
                           f"even unloaded (service p99 {bp.p99_s * 1e3:.4g} ms); raise the SLO")
    return max(1.0, 0.5 * cap)


def measure_capacity(harness, profile, *, cores, slo_s, out, queries=MIN_QUERIES, count=None,
                     log=print, executor="thread", process_builder=None, executor_reason=None):
    """Capacity of ``harness`` (the variant of ``profile``) on ``cores`` cores at ``slo_s``: a
    ``Capacity``; the FindPeakPerformance run is kept in ``out``."""
    from .. import records
    from . import _plan_deploy, _route

    threads = int(profile.threads or 1)
    if cores % threads:
        raise UserError(f"--capacity-cores {cores}: not a multiple of {profile.variant}'s "
                        f"{threads} thread(s) per server")
    if queries < MIN_QUERIES:
        raise UserError(f"capacity queries {queries}: LoadGen's early stopping at p99 needs "
                        f"≥ {MIN_QUERIES}")
    servers = cores // threads
    qps = start_qps(profile, servers, slo_s)
    layout = _plan_deploy.PoolLayout((harness.name,), (servers,), (threads,), (1.0,),
                                     (profile.accuracy,), (profile.mean_service_ns / 1e9,))
    session, _ = _route.deploy(f"capacity-{harness.name}", [harness], [servers], out=out,
                               qps=qps, queries=queries, count=count, overwrite=True, log=log,
                               executor=executor, process_builder=process_builder,
                               executor_reason=executor_reason)
    peak = None
    with session:
        for _ in range(TRIES):
            index = session.passes
            session.sut.set_policy(_plan_deploy.split_policy(layout), qps)
            session.run(["FindPeakPerformance"],
                        overrides={"server_target_qps": float(qps),
                                   "server_target_latency_ns": int(round(slo_s * 1e9)),
                                   "server_find_peak_qps_decimals_of_precision": 0})
            detail = os.path.join(records.loadgen_dir(out, index), "mlperf_log_detail.txt")
            peak, lower_failed = found_peak(detail)
            if peak is not None or not lower_failed:
                break
            log(f"capacity {harness.name} on {cores} core(s): {qps:.4g} QPS already misses the "
                f"SLO; searching from {qps / 2:.4g}")
            qps /= 2
    if peak is None:
        raise ProfileError(f"capacity of {harness.name} on {cores} core(s) at SLO "
                           f"{slo_s * 1e3:g} ms: LoadGen found no peak (see {out}); raise the SLO")
    return Capacity(slo_ns=int(round(slo_s * 1e9)), qps=peak, percentile=0.99, cores=int(cores))


def add_capacity(run_dir, capacity):
    """Add ``capacity`` to the profile's ``profile.json`` (replacing one at the same SLO and
    cores)."""
    info = read_profile_info(run_dir)
    kept = [c for c in info.get("capacity", [])
            if not (c.get("slo_ns") == capacity.slo_ns and c.get("cores") == capacity.cores)]
    info["capacity"] = kept + [capacity.as_dict()]
    write_profile_info(run_dir, info)


def executor_of(name, catalog, process_builder):
    """(executor, reason) of a variant's pool servers, chosen from its families as ``tailq
    route --executor auto`` chooses; threads when no process builder is given or the variant
    is in no family (its runtime unknown: the deployment's default)."""
    from ._route import executor_choice

    families = catalog.family_of(name)
    if process_builder is None or not families:
        return "thread", "default: threads"
    choices = {executor_choice(f, "auto") for f in families}
    if len({c[0] for c in choices}) != 1:
        raise UserError(f"harness {name}: its families ({', '.join(families)}) differ on where "
                        "its model computes")
    return sorted(choices)[0]


def capture_capacities(profiles, *, catalog, cores, slo_s, queries=MIN_QUERIES, count=None,
                       harness_args=None, log=print, process_builder=None):
    """For each batch-1 profile and each core count (a multiple of its threads), measure the
    capacity and add it to the profile's directory; returns ``{(variant, cores): Capacity}``.
    Servers run where the plan's deployment runs them (:func:`executor_of`; worker processes
    need ``process_builder``, which the CLI gives)."""
    out = {}
    for p in profiles:
        if p.batch_size != 1 or not p.source:
            continue
        threads = int(p.threads or 1)
        args = dict(harness_args or {})
        if p.threads is not None:
            args["intra_threads"] = p.threads
        harness = None
        for c in cores:
            if c % threads:
                continue
            harness = harness or catalog.get_harness(p.variant, **args)
            where = os.path.join(os.path.dirname(p.source),
                                 f"capacity-t{threads}-c{c}-slo{slo_s * 1e3:g}ms")
            log(f"capacity {p.variant}: {c} core(s) at SLO {slo_s * 1e3:g} ms → {where}")
            executor, why = executor_of(p.variant, catalog, process_builder)
            cap = measure_capacity(harness, p, cores=c, slo_s=slo_s, out=where, queries=queries,
                                   count=count, log=log, executor=executor,
                                   process_builder=process_builder, executor_reason=why)
            add_capacity(p.source, cap)
            log(f"capacity {p.variant}: {c} core(s): {cap.qps:.4g} QPS at p99 ≤ {slo_s * 1e3:g} ms")
            out[(p.variant, c)] = cap
    return out
