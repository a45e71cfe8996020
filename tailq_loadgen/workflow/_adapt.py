"""``tailq adapt``: a load pattern as consecutive constant-QPS LoadGen Server tests on one pool,
re-planned between segments from a load predictor (issue 16, item 4; docs/planning.md,
"Adapting to load").

LoadGen issues constant-rate Poisson traffic and cannot replay a trace, so a pattern
(``planning.load_pattern``: bursty, steady-low, steady-high, fluctuating) runs as one Server
test per segment, all in one capture session. The pool holds the union of every configuration
the planner may choose (each variant the baseline allows, at the whole core budget); between
segments only the active servers and the load split change (``_plan_deploy``'s split policy).

What the planner sees: before segment i, the arrival rates *measured* in segments 0…i−1
(issued queries over the span of their issue times, from the run's records), never the
pattern's values; segment 0 is planned for the pattern's first value, as if measured before
the run. The predictor's forecast goes through InfAdapter's re-planning rule
(``planning.ReplanPolicy``: up at once, down after 4 held decisions). A forecast above what the
baseline's configurations can carry at the SLO is planned at that most (``clipped``): an
autoscaler at its limit, whose violations the run then measures.

Configurations (``BASELINES``; docs/planning.md, "InfAdapter mode"):

* ``none`` — the planner: a set of variants, cores per variant, the load split
  (``plan_variant_set``) under ``--objective`` (``tq`` or ``infadapter``);
* ``fixed-light`` / ``fixed-heavy`` — the least / most accurate variant alone, its cores scaled
  (IPA's FA2-low / FA2-high);
* ``rim`` — one variant at the whole budget, switched between segments (RIM-like);
* ``vpa`` — one variant whose cores follow recent demand: ``LoadPredictor('percentile',
  percentile=90, margin=0.15)`` over the last 5 segments, whatever ``--predictor`` says. The
  variant is the most accurate one whose capacity at the whole budget carries the pattern's
  peak (a user sizing VPA for their peak), else the one that carries the most.

Cores are the planner's: a variant's c cores are c single-threaded servers (threads 1; the
families routed here are batch-1, one thread per server). On a budget of a few cores InfAdapter's
minimum of 2 cores per variant (for a budget of 20) leaves no set at all, so the minimum is 1.

The result is ``OUT/adapt.json`` (``format`` ``FORMAT``, ``schema_version`` ``VERSION``;
plain JSON, through records' derived-result writer). Format history: 1 — first version.
"""

import dataclasses
import math
import os

import numpy as np

from .._errors import UserError
from ._plan import check_positive, parse_time

ADAPT_FILE = "adapt.json"
FORMAT = "tailq-adapt"
VERSION = 1
BASELINES = ("none", "fixed-light", "fixed-heavy", "rim", "vpa")
OBJECTIVES = ("tq", "infadapter")
PREDICTORS = ("reactive", "max", "ewma")
DEFAULT_SEGMENTS = 12
DEFAULT_SEGMENT_S = 10.0
MIN_SEGMENT_QUERIES = 20
MIN_CORES = 1
THREADS = 1
VPA_PREDICTOR = {"method": "percentile", "percentile": 90.0, "margin": 0.15}
_TINY_QPS = 1e-9  # the load a capacity query plans for (capacity does not depend on it)


@dataclasses.dataclass(frozen=True)
class AdaptSetup:
    """Everything checked (and every capacity computed) before anything runs."""

    family: str
    profiles: tuple            # the family's batch-1 profiles (workflow.Profile), family order
    planning: tuple            # planning.VariantProfile, same order
    pattern: object            # planning.LoadPattern (its qps: the offered load per segment)
    slo_s: float
    cores: int
    objective: object          # planning.TailQualityObjective or InfAdapterObjective
    predictor: object          # planning.LoadPredictor this configuration plans from
    policy: object             # planning.ReplanPolicy
    baseline: str
    variants: tuple            # the variants this configuration may plan with, family order
    capacity: dict             # {variant: (qps at 1 … cores cores)} at the SLO, headroom applied
    budget_capacity_qps: float  # the most any set within the budget carries (the pattern's scale)
    max_qps: float             # the most this configuration's plans carry
    segment_s: float
    seed: int

    @property
    def servers(self):
        """The pool: servers per variant of ``variants`` (the union of every plan's)."""
        return tuple(self.cores // THREADS for _ in self.variants)

    def queries(self, qps):
        return max(MIN_SEGMENT_QUERIES, int(round(qps * self.segment_s)))


def _choice(value, allowed, flag):
    if value not in allowed:
        raise UserError(f"{flag} {value!r}: unknown; choose one of {', '.join(allowed)}")
    return value


def family_of_profiles(profiles, catalog):
    """The one registered family that every profile's variant belongs to."""
    names = {p.family for p in profiles if p.family}
    if not names:
        for p in profiles:
            names |= set(catalog.family_of(p.variant))
    families = [n for n in sorted(names)
                if all(p.variant in catalog.get_family(n).variants for p in profiles)]
    if not families:
        raise UserError(f"--profiles: the variants {', '.join(sorted({p.variant for p in profiles}))} "
                        "are not all of one registered family; give one family's profiles")
    return catalog.get_family(families[0])


def load_family_profiles(dirs, catalog):
    """(family, its batch-1 profiles in the family's order) from ``tailq profile`` directories."""
    from ._profile import load_profiles
    from ._route import family_profiles

    if not dirs:
        raise UserError("--profiles: give the directory of the family's profiles (capture them "
                        "with `tailq profile --family NAME --out DIR`)")
    found = [p for d in dirs for p in load_profiles(d)]
    if not found:
        raise UserError(f"--profiles {' '.join(dirs)}: holds no profile")
    family = family_of_profiles(found, catalog)
    return family, family_profiles(family, dirs)


def capacity_table(planning_profiles, slo_s, cores):
    """{variant: (capacity at 1 … ``cores`` cores)} at the SLO with the planner's headroom, as
    ``plan_variant_set`` counts it (measured points fitted, else analytic); 0 where the
    variant cannot meet the SLO."""
    from .. import planning as P

    out = {}
    for p in planning_profiles:
        caps = []
        for c in range(1, cores + 1):
            try:
                plan = P.plan_variant_set(planning_profiles, qps=_TINY_QPS, slo_s=slo_s,
                                          max_cores=c, core_choices=(c,), variants=[p.name],
                                          threads=THREADS, solver="enumerate")
                caps.append(float(plan.choices[0].capacity_qps))
            except (P.SLOInfeasibleError, P.CapacityError):
                caps.append(0.0)
        out[p.name] = tuple(caps)
    return out


def best_capacity(capacity, variants, cores, max_variants=None, exact_cores=False):
    """The most QPS a set of ``variants`` carries within ``cores`` (each variant at most once;
    ``exact_cores``: a variant runs at exactly ``cores``, as RIM does)."""
    if exact_cores or max_variants == 1:
        pick = (lambda caps: caps[cores - 1]) if exact_cores else max
        return max(float(pick(capacity[v])) for v in variants)
    best = np.zeros(cores + 1)  # best[b]: most QPS within b cores, over the variants so far
    for v in variants:
        caps = np.concatenate([[0.0], capacity[v]])
        new = best.copy()
        for b in range(1, cores + 1):
            new[b] = max(new[b], max(best[b - c] + caps[c] for c in range(1, b + 1)))
        best = new
    return float(best[cores])


def _baseline_variants(baseline, planning_profiles, capacity, cores, peak_qps):
    names = [p.name for p in planning_profiles]
    acc = {p.name: p.accuracy for p in planning_profiles}
    if baseline in ("none", "rim"):
        return tuple(names)
    if baseline == "fixed-light":  # least accurate; ties: the family's earlier (faster) variant
        return (min(names, key=lambda n: (acc[n], names.index(n))),)
    if baseline == "fixed-heavy":
        return (max(names, key=lambda n: (acc[n], -names.index(n))),)
    carries = [n for n in names if capacity[n][cores - 1] >= peak_qps]
    if carries:
        return (max(carries, key=lambda n: (acc[n], -names.index(n))),)
    return (max(names, key=lambda n: (capacity[n][cores - 1], -names.index(n))),)


def check_adapt(*, profiles, pattern, slo, cores, catalog, predictor="ewma", baseline="none",
                objective="tq", segments=DEFAULT_SEGMENTS, segment_s=DEFAULT_SEGMENT_S,
                peak_qps=None, stabilisation=4, seed=0):
    """Check every input, read the profiles, compute the capacities and the pattern; a
    UserError (exit 2) names the first bad one. ``profiles``: ``tailq profile`` directories."""
    from .. import planning as P
    from ._profile_records import planning_profiles

    pattern_name = _choice(pattern, P.LOAD_PATTERNS, "--pattern")
    predictor = _choice(predictor, PREDICTORS, "--predictor")
    baseline = _choice(baseline, BASELINES, "--baseline")
    objective = _choice(objective, OBJECTIVES, "--objective")
    slo_s = parse_time("--slo", slo) if isinstance(slo, str) else check_positive("--slo", slo)
    cores = check_positive("--cores", cores, integer=True)
    segments = check_positive("--segments", segments, integer=True)
    if segments < 2:
        raise UserError(f"--segments {segments}: a pattern needs at least 2 segments")
    segment_s = check_positive("--segment-s", segment_s)
    if peak_qps is not None:
        peak_qps = check_positive("--peak-qps", peak_qps)
    family, profs = load_family_profiles(profiles, catalog)
    plan_profs = planning_profiles(profs)
    capacity = capacity_table(plan_profs, slo_s, cores)
    names = [p.name for p in plan_profs]
    budget = best_capacity(capacity, names, cores)
    if budget <= 0:
        fastest = min(profs, key=lambda p: p.percentile_ns(0.99))
        raise UserError(f"--slo {slo}: no variant of family {family.name} meets it at any core "
                        f"count (the fastest, {fastest.variant}, serves in "
                        f"{fastest.percentile_ns(0.99) / 1e6:.3g} ms at p99); raise the SLO")
    shape = P.load_pattern(pattern_name, 1.0, segments=segments, segment_s=segment_s, seed=seed)
    if peak_qps is None:
        scale = budget
    else:
        if peak_qps > budget * (1 + 1e-9):
            raise UserError(f"--peak-qps {peak_qps:g}: the pattern's peak is above {budget:.4g} QPS, "
                            f"the most any configuration of family {family.name} carries within "
                            f"SLO {slo_s * 1e3:g} ms even with every one of the {cores} cores "
                            "(80% headroom); lower the peak or give more --cores")
        scale = peak_qps / max(shape.qps)
    load = P.load_pattern(pattern_name, scale, segments=segments, segment_s=segment_s, seed=seed)
    variants = _baseline_variants(baseline, plan_profs, capacity, cores, max(load.qps))
    if baseline == "rim":
        most = best_capacity(capacity, variants, cores, exact_cores=True)
    else:
        most = best_capacity(capacity, variants, cores)
    if baseline == "vpa":
        pred = P.LoadPredictor(**VPA_PREDICTOR)
    else:
        pred = P.LoadPredictor(predictor)
    obj = P.TailQualityObjective() if objective == "tq" else P.InfAdapterObjective()
    return AdaptSetup(family=family.name, profiles=profs, planning=plan_profs, pattern=load,
                      slo_s=slo_s, cores=cores, objective=obj, predictor=pred,
                      policy=P.ReplanPolicy(stabilisation), baseline=baseline,
                      variants=variants, capacity=capacity, budget_capacity_qps=budget,
                      max_qps=most, segment_s=segment_s, seed=int(seed))


def plan_segment(setup, qps, current=None):
    """(plan, clipped): the plan for a load of ``qps`` under the configuration, at most what its
    configurations carry (``clipped`` when the load was above that)."""
    from .. import planning as P

    target = min(float(qps), setup.max_qps * (1 - 1e-9))
    kw = dict(qps=target, slo_s=setup.slo_s, max_cores=setup.cores, min_cores=MIN_CORES,
              threads=THREADS, objective=setup.objective, solver="enumerate",
              current=dict(current or {}), variants=list(setup.variants))
    if setup.baseline == "rim":
        kw.update(core_choices=(setup.cores,), max_variants=1)
    return P.plan_variant_set(setup.planning, **kw), target < float(qps)


@dataclasses.dataclass(frozen=True)
class SegmentRun:
    """What one segment's LoadGen test measured, per query in issue order."""

    pass_index: int
    issue_s: np.ndarray        # issue times, seconds from the first
    latency_s: np.ndarray      # LoadGen's latency
    ok: np.ndarray             # completed without error
    correct: np.ndarray        # answered correctly (scored by the family's metric)
    variant: tuple             # the variant that served each query

    @property
    def arrival_qps(self):
        """Issued queries over the span of their issue times ((n − 1)/span, the rate of a
        Poisson stream's n arrivals); what the planner sees."""
        n = self.issue_s.size
        span = float(self.issue_s.max() - self.issue_s.min()) if n else 0.0
        return (n - 1) / span if n > 1 and span > 0 else 0.0


def segment_stats(run, slo_s):
    """The measured figures of one segment: tail quality at the SLO (correct and within it),
    accuracy (correct, no time limit), p99 latency (LoadGen's percentile convention), the share
    of queries that violate the SLO (late or failed)."""
    from .. import tailquality

    lat, ok, correct = run.latency_s, run.ok, run.correct
    on_time = ok & (lat <= slo_s)
    n = int(lat.size)
    shares = {}
    for v in run.variant:
        shares[v] = shares.get(v, 0) + 1
    return {"queries": n, "measured_qps": run.arrival_qps,
            "tail_quality": float(np.mean(correct & on_time)) if n else None,
            "accuracy": float(np.mean(correct)) if n else None,
            "p99_s": float(tailquality.loadgen_percentile(np.where(ok, lat, np.inf), 0.99)) if n else None,
            "slo_violations": float(np.mean(~on_time)) if n else None,
            "served": {v: c / n for v, c in sorted(shares.items())}}


def _decision(plan, clipped):
    return {"variants": [c.variant for c in plan.choices],
            "cores": {c.variant: c.cores for c in plan.choices},
            "shares": {c.variant: c.share for c in plan.choices},
            "planned_qps": plan.qps, "clipped": bool(clipped),
            "objective_value": plan.objective_value,
            "predicted_tail_quality": plan.predicted_tail_quality,
            "predicted_accuracy": plan.accuracy, "predicted_p99_s": plan.predicted_p99_s,
            "decision_time_s": plan.decision_time_s, "build_time_s": plan.build_time_s}


def run_adaptation(setup, run_segment, on_segment=None):
    """The adaptation loop. ``run_segment(plan, qps, queries, seed)`` runs one segment at the
    offered ``qps`` under ``plan`` and returns its :class:`SegmentRun`; ``on_segment(record)``
    hears each segment's record as it is made. Returns the records (plain dicts)."""
    from .. import planning as P

    history, steps = [], []
    state, plan, current, made = None, None, {}, None
    for i, offered in enumerate(setup.pattern.qps):
        if i == 0:
            predicted, decision = None, P.Decision(True, float(offered), "initial")
            state = P.PolicyState(float(offered))
        else:
            predicted = setup.predictor.predict(history)
            decision, state = setup.policy.step(state, predicted)
        if decision.replan:
            plan, clipped = plan_segment(setup, decision.planned_qps, current)
            current = {c.variant: c.cores for c in plan.choices}
            made = _decision(plan, clipped)
        measured = run_segment(plan, float(offered), setup.queries(offered), [setup.seed, i])
        history.append(measured.arrival_qps)
        step = {"segment": i, "offered_qps": float(offered), "predicted_qps": predicted,
                "replanned": bool(decision.replan), "reason": decision.reason,
                "decision": made, "cores": int(plan.cores), "pass": measured.pass_index}
        step.update(segment_stats(measured, setup.slo_s))
        steps.append(step)
        if on_segment is not None:
            on_segment(step)
    return steps


def overall(steps, setup):
    """The run's totals: query-weighted shares, segment-averaged cores (segments are equally
    long), segments whose p99 is above the SLO, re-plans and total decision time."""
    if not steps:
        return None
    q = np.array([s["queries"] for s in steps], dtype=np.float64)

    def weighted(key):
        return float(np.sum(q * np.array([s[key] for s in steps])) / q.sum())

    return {"queries": int(q.sum()), "tail_quality": weighted("tail_quality"),
            "accuracy": weighted("accuracy"), "slo_violations": weighted("slo_violations"),
            "segments_p99_over_slo": int(sum(s["p99_s"] > setup.slo_s for s in steps)),
            "average_cores": float(np.mean([s["cores"] for s in steps])),
            "replans": int(sum(s["replanned"] for s in steps)),
            "clipped_plans": int(sum(s["replanned"] and s["decision"]["clipped"] for s in steps)),
            "decision_time_s": float(sum(s["decision"]["decision_time_s"]
                                         for s in steps if s["replanned"]))}


def document(setup, steps, complete=True, count=None):
    return {"format": FORMAT, "schema_version": VERSION, "complete": bool(complete),
            "family": setup.family,
            "pattern": setup.pattern.name, "baseline": setup.baseline,
            "objective": setup.objective.name, "objective_constants": setup.objective.constants(),
            "predictor": setup.predictor.as_dict(),
            "replan_policy": {"stabilisation": setup.policy.stabilisation},
            "slo_s": setup.slo_s, "cores": setup.cores, "min_cores": MIN_CORES,
            "threads": THREADS, "segment_s": setup.segment_s, "seed": setup.seed,
            "dataset_items": count,
            "variants": list(setup.variants),
            "accuracy": {p.name: p.accuracy for p in setup.planning},
            "pool_servers": dict(zip(setup.variants, setup.servers)),
            "capacity_qps": {v: list(c) for v, c in setup.capacity.items()},
            "budget_capacity_qps": setup.budget_capacity_qps,
            "configuration_max_qps": setup.max_qps,
            "pattern_qps": list(setup.pattern.qps),
            "measured_qps_note": "the planner saw only measured arrival rates of past segments "
                                 "((issued − 1) / issue-time span); segment 0 was planned for "
                                 "the pattern's first value",
            "segments": steps, "overall": overall(steps, setup)}


# -- the real pool ------------------------------------------------------------------------
def union_layout(setup):
    """The pool deployed once: every variant the configuration may plan with, at the whole
    budget (``setup.servers``); segments switch its active servers and shares."""
    from ._plan_deploy import PoolLayout

    n = len(setup.variants)
    by_name = {p.variant: p for p in setup.profiles}
    acc = {p.name: p.accuracy for p in setup.planning}
    return PoolLayout(setup.variants, setup.servers, (THREADS,) * n, (1.0 / n,) * n,
                      tuple(acc[v] for v in setup.variants),
                      tuple(by_name[v].mean_service_ns / 1e9 for v in setup.variants))


def segment_overrides(qps, queries, slo_s):
    """LoadGen settings of one segment's Server test: its load, exactly ``queries`` queries,
    and the SLO as LoadGen's latency bound (so its own verdict judges the p99 against it)."""
    return {"server_target_qps": float(qps), "min_duration_ms": 0,
            "min_query_count": int(queries), "max_query_count": int(queries),
            "server_target_latency_ns": int(round(slo_s * 1e9))}


def pool_segment_runner(session, union, harness, out, slo_s):
    """``run_segment`` for :func:`run_adaptation` on a deployed pool: one LoadGen Server test
    per segment, routed by the plan's split on its active servers, read back from the run."""
    from .. import records
    from . import _plan_deploy, _route

    def run(plan, qps, queries, seed):
        active, shares = _plan_deploy.segment_of(union, _plan_deploy.pool_layout(plan))
        policy = _plan_deploy.split_policy(union, active=active, shares=shares, seed=seed)
        index = _route.run_pool_test(session, policy, qps,
                                     overrides=segment_overrides(qps, queries, slo_s))
        rec = records.load_run(out)
        sel, correct = _route.scored_pass(rec, index, harness, session.total)
        issue = rec["wrapper_issue_ns"][sel]
        return SegmentRun(pass_index=index,
                          issue_s=(issue - issue.min()).astype(np.float64) / 1e9 if sel.size
                          else np.zeros(0),
                          latency_s=rec["latency_ns"][sel].astype(np.float64) / 1e9,
                          ok=rec["status"][sel] == "ok", correct=correct,
                          variant=tuple(str(v) for v in rec["variant"][sel]))
    return run


def adapt(*, profiles, pattern, slo, cores, out, catalog, build_harnesses, predictor="ewma",
          baseline="none", objective="tq", segments=DEFAULT_SEGMENTS,
          segment_s=DEFAULT_SEGMENT_S, peak_qps=None, stabilisation=4, seed=0, count=None,
          overwrite=False, log=print, experiment=None):
    """Run a load pattern on one pool, re-planned between segments; write and return
    ``OUT/adapt.json``. ``build_harnesses(names)``: the named variants' harnesses, in that
    order (called after every input is checked). ``count``: the dataset items served; by
    default those the profiles were taken on (a variant's accuracy over the first N items is
    not its accuracy over the whole dataset). ``adapt.json`` is rewritten after every
    segment (``complete`` false until the last), so a run cut short keeps what it measured."""
    setup = check_adapt(profiles=profiles, pattern=pattern, slo=slo, cores=cores, catalog=catalog,
                        predictor=predictor, baseline=baseline, objective=objective,
                        segments=segments, segment_s=segment_s, peak_qps=peak_qps,
                        stabilisation=stabilisation, seed=seed)
    if os.path.exists(os.path.join(out, ADAPT_FILE)) and not overwrite:
        raise UserError(f"--out {out}: already holds {ADAPT_FILE}; give --overwrite or another --out")
    from . import _plan_deploy, _route

    union = union_layout(setup)
    if count is None:  # serve the items the accuracies were profiled on (not the whole dataset)
        count = min(int(p.correct.size) for p in setup.profiles)
    first = setup.pattern.qps[0]
    session, harness = _plan_deploy.deploy_plan(
        union, build_harnesses(list(setup.variants)), out=out, qps=first,
        queries=setup.queries(first), count=count, overwrite=overwrite, log=log,
        experiment=experiment, releases_gil=setup.family in _route._RELEASES_GIL)
    steps = []

    def keep(step):
        steps.append(step)
        write_adapt(out, document(setup, steps, complete=False, count=count))
        log(segment_line(step))

    log(header_line(setup))
    with session:
        run_adaptation(setup, pool_segment_runner(session, union, harness, out, setup.slo_s), keep)
    doc = document(setup, steps, count=count)
    write_adapt(out, doc)
    for line in summary_lines(doc)[len(steps) + 1:]:
        log(line)
    return doc


# -- what is printed --------------------------------------------------------------------------
def _plan_text(decision):
    return "+".join(f"{v}×{decision['cores'][v]}({decision['shares'][v]:.2f})"
                    for v in decision["variants"])


def segment_line(s):
    pred = "—" if s["predicted_qps"] is None else f"{s['predicted_qps']:.1f}"
    act = "re-plan" if s["replanned"] else "hold"
    return (f"  seg {s['segment']:>2}: offered {s['offered_qps']:7.1f} measured "
            f"{s['measured_qps']:7.1f} predicted {pred:>7} QPS, {act:<7} "
            f"{_plan_text(s['decision'])}{' (clipped)' if s['decision']['clipped'] else ''}, "
            f"cores {s['cores']}: TQ {s['tail_quality']:.4f}, accuracy {s['accuracy']:.4f}, "
            f"p99 {_ms(s['p99_s'])}, SLO violations {s['slo_violations']:.2%}")


def _ms(seconds):
    # a p99 among failed queries is infinite (null in adapt.json)
    return "∞" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1e3:.2f} ms"


def header_line(setup):
    return (f"adapt: family {setup.family}, pattern {setup.pattern.name}, baseline "
            f"{setup.baseline}, objective {setup.objective.name}, predictor "
            f"{setup.predictor.name}, SLO {setup.slo_s * 1e3:g} ms, {setup.cores} cores, "
            f"{len(setup.pattern.qps)} segments of {setup.segment_s:g} s:")


def summary_lines(doc):
    """The table ``tailq adapt`` prints (and ``tailq show`` repeats): a line per segment, the
    totals, and every clipped plan said plainly."""
    o = doc["overall"]
    head = (f"adapt: family {doc['family']}, pattern {doc['pattern']}, baseline {doc['baseline']}, "
            f"objective {doc['objective']}, predictor {doc['predictor']['name']}, SLO "
            f"{doc['slo_s'] * 1e3:g} ms, {doc['cores']} cores, {len(doc['pattern_qps'])} segments "
            f"of {doc['segment_s']:g} s:")
    lines = [head] + [segment_line(s) for s in doc["segments"]]
    if o is None:
        return lines + ["  no segment completed"]
    if not doc.get("complete", True):
        lines.append(f"warning: the run stopped after {len(doc['segments'])} segment(s)")
    lines.append(f"  overall: TQ {o['tail_quality']:.4f}, accuracy {o['accuracy']:.4f}, SLO "
                 f"violations {o['slo_violations']:.2%} ({o['segments_p99_over_slo']} of "
                 f"{len(doc['segments'])} segments with p99 above the SLO), average cores "
                 f"{o['average_cores']:.2f}, {o['replans']} plans "
                 f"({o['decision_time_s'] * 1e3:.1f} ms deciding)")
    if o["clipped_plans"]:
        lines.append(f"warning: {o['clipped_plans']} plan(s) were for a load above what this "
                     "configuration carries at the SLO; they ran at its most")
    return lines


def write_adapt(out, doc):
    """``OUT/adapt.json``, atomically (records' derived-result writer: strict JSON)."""
    from .. import records

    body = {k: v for k, v in doc.items() if k not in ("format", "schema_version")}
    return records.write_result(out, ADAPT_FILE, FORMAT, VERSION, body)


def load_adapt(path):
    """An ``adapt.json`` (or the directory holding one), checked for format and version.
    Plain JSON, read as data only."""
    from .. import records

    file = os.path.join(path, ADAPT_FILE) if os.path.isdir(path) else path
    return records.read_result(file, FORMAT, VERSION, missing="run `tailq adapt` first")


def adapt_of(run_dir):
    """The adapt.json of a `tailq adapt` run directory, or None for other runs."""
    if not os.path.isfile(os.path.join(run_dir, ADAPT_FILE)):
        return None
    return load_adapt(run_dir)


def adapt_lines(doc):
    """`tailq show`'s adaptation section."""
    return ["adaptation:"] + ["  " + line for line in summary_lines(doc)]
