"""``tailq plan``: captured profiles → planning records → a Plan → ``plan.json``; and back.

``make_plan`` loads ``tailq profile`` directories (``_profile.load_profiles``), turns them into
the planning room's records (``_profile_records.planning_profiles``), plans in InfAdapter mode
(one stage: ``planning.plan_variant_set``) or IPA mode (profiles of ≥ 2 stages:
``planning.plan_pipeline``), and — variant sets — runs the routing simulator on the plan's
pool layout with the profiles' measured service times and the plan's split policy, as a second
prediction of tail quality and p99 beside the analytic one.

**In-pool profiles** (``service_from``): in a threaded pool on a small machine the variants'
service times are not their solo profiles' (the GIL is shared; issue 15 measured 1.2–87× for
the digits models), so a plan from solo profiles predicts a pool that does not exist.
``in_pool_profiles`` replaces each variant's service-time sample by what it took *inside* a
pool run (``tailq plan --verify`` or ``tailq route`` directory): per row of that variant,
LoadGen's latency minus the pool's wait — the same quantity a solo profile measures (LoadGen
latency on an idle server) — keeping the solo profile's per-sample correctness.

``plan.json`` (``FORMAT`` "tailq-plan", ``VERSION``; history: 1 — first version) holds
``plan`` (``Plan.as_dict()``, its own ``format``), ``request`` (what was asked), ``profiles``
(the directories, and per variant what was used), ``layout`` (variant sets: the pool to
deploy), ``simulated`` (the simulator's prediction) and ``created``. :func:`load_plan` reads
it as JSON only and checks every field the deployment uses before anything runs.
"""

import datetime
import json
import math
import os

import numpy as np

from .._errors import UserError
from ._profile import load_profiles

PLAN_FILE = "plan.json"
FORMAT = "tailq-plan"
VERSION = 1
MODES = ("auto", "variant-set", "pipeline")
OBJECTIVES = ("tq", "infadapter", "ipa")
SOLVERS = ("milp", "enumerate")
SIM_JOBS = 20000


def parse_time(flag, text):
    """``"50ms"`` → 0.05 seconds; a one-line error naming ``flag`` otherwise."""
    from .. import routing

    try:
        return routing.parse_tq_target(f"1@{str(text).strip()}").tau
    except routing.RoutingError:
        raise UserError(f"{flag} {text!r}: write a positive time with a unit, e.g. 50ms") from None


# -- profiles ------------------------------------------------------------------------------
def collect_profiles(dirs):
    """Every profile under ``dirs`` (``tailq profile --out`` directories or single profiles)."""
    if not dirs:
        raise UserError("--profiles: give at least one `tailq profile --out` directory")
    out = []
    for d in dirs:
        out.extend(load_profiles(d))
    if not out:
        raise UserError(f"--profiles {' '.join(dirs)}: no profile found; capture them with "
                        "`tailq profile`")
    return tuple(out)


def in_pool_service(run_dir, passes=None):
    """``{variant: service_ns array}`` from a pool run: per row, LoadGen's latency minus the
    pool's wait (issue → start of service), rows with status ok, the first ``WARMUP`` share of
    each pass (by issue time) left out as the pool's statistics leave it out."""
    from .. import records
    from ._route import WARMUP

    run = records.load_run(run_dir)  # a one-line UserError for what is not a readable run
    all_passes = sorted(set(int(p) for p in np.unique(run["pass"])))
    chosen = all_passes if passes is None else [int(p) for p in passes]
    out = {}
    for p in chosen:
        sel = np.flatnonzero(run["pass"] == p)
        sel = sel[np.argsort(run["wrapper_issue_ns"][sel], kind="stable")]
        sel = sel[int(round(WARMUP * sel.size)):]
        # pool rows only: a variant, a wait, and LoadGen's latency (not a partial pass)
        sel = sel[(run["status"][sel] == "ok") & (run["latency_ns"][sel] > 0)
                  & (run["wait_ns"][sel] >= 0)]
        variant = run["variant"][sel]
        named = np.array([v is not None for v in variant], dtype=bool)
        sel, variant = sel[named], variant[named]
        service = run["latency_ns"][sel].astype(np.int64) - run["wait_ns"][sel].astype(np.int64)
        for v in sorted(set(variant.tolist())):
            s = service[variant == v]
            out.setdefault(str(v), []).append(s[s > 0])
    if not out:
        raise UserError(f"--service-from {run_dir}: no pool rows (variant, wait) in it; give a "
                        "`tailq plan --verify` or `tailq route` run directory")
    return {v: np.concatenate(parts) for v, parts in out.items()}


def in_pool_profiles(profiles, service):
    """``profiles`` with each batch-1 profile's service times replaced by ``service[variant]``
    (in-pool, ns); the variants not in ``service`` are refused (a plan mixing solo and
    in-pool times would compare unlike things)."""
    import dataclasses

    out = []
    missing = sorted({p.variant for p in profiles if p.batch_size == 1} - set(service))
    if missing:
        raise UserError(f"--service-from: the pool run served no query of {', '.join(missing)}; "
                        "run a pool that uses every variant (e.g. `tailq plan --verify` of a plan "
                        "that splits among them), or leave those variants' profiles out")
    for p in profiles:
        if p.batch_size != 1:
            continue
        s = np.asarray(service[p.variant], dtype=np.int64)
        if s.size < 20:
            raise UserError(f"--service-from: only {s.size} in-pool service times of {p.variant}; "
                            "give a longer pool run")
        # the joint draws: every row's latency with a sample drawn uniformly (correctness is
        # the solo profile's per sample; service time and sample are independent in the pool)
        idx = np.arange(s.size) % p.correct.size
        out.append(dataclasses.replace(p, service_ns=s, compute_ns=s, sample_index=idx,
                                       sample_latency_ns=s, source=f"{p.source} (in-pool service)"))
    return tuple(out)


# -- planning --------------------------------------------------------------------------------
def _objective(name, mode):
    from .. import planning

    if name not in OBJECTIVES:
        raise UserError(f"--objective {name!r}: choose one of {', '.join(OBJECTIVES)}")
    if mode == "variant-set":
        if name == "ipa":
            raise UserError("--objective ipa: IPA's objective plans a pipeline (profiles of ≥ 2 "
                            "stages); a variant set takes infadapter or tq")
        return planning.TailQualityObjective() if name == "tq" else planning.InfAdapterObjective()
    if name == "infadapter":
        raise UserError("--objective infadapter: InfAdapter's objective plans one stage; a "
                        "pipeline takes ipa or tq")
    return planning.TailQualityObjective() if name == "tq" else planning.IPAObjective()


def _stages(profiles):
    """{stage: [profiles]}: the profile's ``stage`` where it carries one (stage-tagged
    profiles), else one stage "main"."""
    out = {}
    for p in profiles:
        out.setdefault(getattr(p, "stage", None) or "main", []).append(p)
    return out


def _registered_pipeline(catalog, stages):
    """(stage order, {combination: measured accuracy}) of the registered pipeline holding the
    profiled stages, or (None, None): the order profiled, the product of the stages."""
    if catalog is None:
        return None, None
    found = catalog.pipeline_for_stages(
        {stage: list(dict.fromkeys(p.variant for p in group)) for stage, group in stages.items()})
    return found if found is not None else (None, None)


def _planning_records(profiles):
    from ._profile_records import planning_profiles

    recs = []
    for stage, group in _stages(profiles).items():
        recs.extend(planning_profiles(group, stage=stage))
    return tuple(recs)


def check_positive(flag, value, integer=False):
    """``value`` as a positive number (a whole one with ``integer``); a one-line error naming
    ``flag`` otherwise."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and value > 0 and (not integer or float(value).is_integer()))
    if not ok:
        kind = "a whole number ≥ 1" if integer else "a positive number"
        raise UserError(f"{flag} {value!r}: must be {kind}")
    return int(value) if integer else float(value)


def make_plan(*, profiles, slo_s, qps, cores, objective=None, solver=None, mode="auto",
              min_cores=1, threads=1, variants=None, service_from=None, sim_jobs=SIM_JOBS,
              seed=0, catalog=None):
    """Plan from captured profiles; returns the ``plan.json`` document (nothing written).

    ``min_cores`` defaults to 1: InfAdapter's 2 assumes a 20-core budget, and on a 2-core
    machine 2 would leave room for one variant only. ``objective``: the mode's paper objective
    (infadapter, ipa) by default; ``solver``: milp, or enumerate for ``tq`` in a variant set
    (its objective is not linear). ``catalog`` (the CLI hands in the harness registry): for a
    pipeline, the registered pipeline holding the profiled stages gives the stages' order and
    the end-to-end accuracy of every combination, measured (stage errors are not independent);
    without one, the stages go in the order profiled and the accuracy is their product (IPA's).
    Any planning error becomes a one-line UserError."""
    from .. import planning

    if mode not in MODES:
        raise UserError(f"--mode {mode!r}: choose one of {', '.join(MODES)}")
    slo_s = check_positive("--slo", slo_s)
    qps = check_positive("--qps", qps)
    cores = check_positive("--cores", cores, integer=True)
    min_cores = check_positive("--min-cores", min_cores, integer=True)
    threads = check_positive("--threads", threads, integer=True)
    profs = collect_profiles(list(profiles))
    if variants:
        known = {p.variant for p in profs}
        unknown = [v for v in variants if v not in known]
        if unknown:
            raise UserError(f"--variants: no profile for {', '.join(unknown)} in --profiles "
                            f"(profiled: {', '.join(sorted(known))}); capture it with `tailq profile`")
        profs = tuple(p for p in profs if p.variant in variants)
    if service_from:
        profs = in_pool_profiles(profs, in_pool_service(service_from))
    stages = _stages(profs)
    if mode == "auto":
        mode = "pipeline" if len(stages) >= 2 else "variant-set"
    if mode == "pipeline" and len(stages) < 2:
        raise UserError(f"--mode pipeline: the profiles name one stage ({next(iter(stages))}); a "
                        "pipeline plan needs stage-tagged profiles of ≥ 2 stages")
    if mode == "variant-set" and len(stages) != 1:
        raise UserError(f"--mode variant-set: the profiles name stages {', '.join(stages)}; give "
                        "one stage's profiles")
    objective = objective or ("infadapter" if mode == "variant-set" else "ipa")
    obj = _objective(objective, mode)
    if solver is None:
        solver = "enumerate" if (objective == "tq" and mode == "variant-set") else "milp"
    if solver not in SOLVERS:
        raise UserError(f"--solver {solver!r}: choose milp or enumerate")
    if objective == "tq" and mode == "variant-set" and solver == "milp":
        raise UserError("--solver milp: the tq objective of a variant set is not linear (the split "
                        "couples the variants); use --solver enumerate, which is exact")
    recs = _planning_records(profs)
    try:
        if mode == "variant-set":
            plan = planning.plan_variant_set(recs, qps=qps, slo_s=slo_s, max_cores=cores,
                                             objective=obj, min_cores=min_cores, threads=threads,
                                             variants=variants, solver=solver)
        else:
            order, combos = _registered_pipeline(catalog, stages)
            plan = planning.plan_pipeline(recs, qps=qps, slo_s=slo_s, objective=obj,
                                          variants=variants, max_cores=cores, solver=solver,
                                          stages=order, combination_accuracy=combos)
    except planning.PlanningError as exc:
        raise UserError(f"plan at {qps:g} QPS, SLO {slo_s * 1e3:g} ms, {cores} cores: "
                        f"{exc}") from None
    doc = {"format": FORMAT, "version": VERSION,
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "request": {"slo_s": slo_s, "qps": qps, "cores": cores, "objective": objective,
                       "solver": solver, "mode": mode, "min_cores": min_cores, "threads": threads,
                       "variants": list(variants) if variants else None,
                       "service_from": os.path.abspath(service_from) if service_from else None},
           "profiles": {"dirs": [os.path.abspath(d) for d in profiles],
                        "variants": [{"variant": p.variant, "batch_size": p.batch_size,
                                      "threads": p.threads, "accuracy": p.accuracy,
                                      # the dataset items profiled (its first N: --count)
                                      "samples": int(p.correct.size),
                                      "queries": p.queries,
                                      "mean_service_s": p.mean_service_ns / 1e9,
                                      "source": p.source} for p in profs]},
           "plan": plan.as_dict(), "layout": None, "simulated": None}
    if mode == "variant-set":
        from ._plan_deploy import pool_layout

        layout = pool_layout(plan)
        doc["layout"] = layout.as_dict()
        doc["simulated"] = simulate_plan(layout, profs, qps, slo_s, sim_jobs, seed)
    return doc


def service_laws(profiles, names):
    """``{variant: routing.Empirical}`` of the batch-1 profiles' service times (seconds),
    correctness left independent (the plan's accuracy is the profile's exact one)."""
    from .. import routing

    by_name = {p.variant: p for p in profiles if p.batch_size == 1}
    missing = [v for v in names if v not in by_name]
    if missing:
        raise UserError(f"no batch-1 profile of {', '.join(missing)}; capture it with "
                        "`tailq profile`")
    return {v: routing.Empirical(by_name[v].service_ns / 1e9) for v in names}


def simulate_plan(layout, profiles, qps, slo_s, jobs, seed):
    """The routing simulator's prediction for the layout at ``qps``: TQ at the SLO (with its
    batch-means standard error), on-time share, accuracy, mean and p99 latency."""
    from .. import routing, tailquality
    from ._plan_deploy import simulate_layout

    sim = simulate_layout(layout, service_laws(profiles, layout.variants), qps, jobs, seed)
    sojourn, correct = sim.measured(sim.sojourn), sim.measured(sim.correct)
    # correctness in the simulator is drawn per job with the variant's accuracy (independent)
    tq, tq_se = routing.batch_means((correct & (sojourn <= slo_s)).astype(float))
    on_time, _ = routing.batch_means((sojourn <= slo_s).astype(float))
    acc = float(np.dot(layout.shares, layout.accuracy))
    return {"predictor": "routing simulator (empirical service times, split policy)",
            "jobs": int(jobs), "seed": int(seed), "warmup_share": sim.warmup / jobs,
            # TQ as the expectation over correctness: on-time share per variant × accuracy
            "tail_quality": _tq_expected(sim, slo_s), "tail_quality_drawn": tq,
            "tail_quality_se": tq_se, "on_time": on_time, "accuracy": acc,
            "mean_s": float(sojourn.mean()),
            "p99_s": float(tailquality.loadgen_percentile(sojourn, 0.99))}


def _tq_expected(sim, slo_s):
    """Σ_k share_k · a_k · P(on time | k): the correctness draw's noise taken out."""
    sojourn, variant = sim.measured(sim.sojourn), sim.measured(sim.variant)
    acc = np.asarray(sim.pool.accuracy)
    return float(np.mean(acc[variant] * (sojourn <= slo_s)))


# -- plan.json -------------------------------------------------------------------------------
def write_plan(doc, out):
    """Write ``doc`` to ``out`` (a file, or a directory that then holds ``plan.json``)."""
    from ._route import _json_safe

    path = os.path.join(out, PLAN_FILE) if os.path.isdir(out) else out
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"--out {out}: its directory {parent} does not exist")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_json_safe(doc), f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


def _need(cond, path, what):
    if not cond:
        raise UserError(f"{path}: {what}; make the plan again with `tailq plan`")


def load_plan(path):
    """A ``plan.json`` (or a directory holding one), checked: JSON only, format and version,
    and every field the deployment reads."""
    from .. import planning

    file = os.path.join(path, PLAN_FILE) if os.path.isdir(path) else path
    try:
        with open(file, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise UserError(f"--verify {file}: no such plan file; make one with `tailq plan`") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--verify {file}: not a readable plan ({type(exc).__name__}: "
                        f"{str(exc)[:80]}); make one with `tailq plan`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise UserError(f"--verify {file}: not a tailq plan (format {found!r}, expected "
                        f"{FORMAT!r}); make one with `tailq plan`")
    version = doc.get("version")
    _need(isinstance(version, int) and not isinstance(version, bool), file, "no integer version")
    if version > VERSION:
        raise UserError(f"--verify {file}: plan format version {version} is newer than this tailq "
                        f"reads ({VERSION}); upgrade tailq")
    plan = doc.get("plan")
    _need(isinstance(plan, dict), file, "no plan")
    _need(plan.get("format") == planning.PLAN_FORMAT, file,
          f"plan record format {plan.get('format')!r}, expected {planning.PLAN_FORMAT}")
    _need(plan.get("mode") in ("variant-set", "pipeline"), file, f"unknown mode {plan.get('mode')!r}")
    for key in ("qps", "slo_s"):
        v = plan.get(key)
        _need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0,
              file, f"plan {key} {v!r} is not a positive number")
    choices = plan.get("choices")
    _need(isinstance(choices, list) and choices and all(isinstance(c, dict) for c in choices),
          file, "the plan has no choices")
    for c in choices:
        _need(isinstance(c.get("variant"), str) and c["variant"], file, "a choice names no variant")
    if plan["mode"] == "variant-set":
        for c in choices:
            for key in ("cores", "threads", "servers"):
                v = c.get(key)
                _need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, file,
                      f"{c['variant']}: {key} {v!r} is not a whole number ≥ 1")
            for key in ("share", "qps", "accuracy", "utilisation"):
                v = c.get(key)
                _need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      and v >= 0, file, f"{c['variant']}: {key} {v!r} is not a number ≥ 0")
        from ._plan_deploy import pool_layout

        pool_layout(plan)  # shares, servers and threads consistent
    else:  # a pipeline: one choice per stage, in series
        for c in choices:
            _need(isinstance(c.get("stage"), str) and c["stage"], file,
                  f"{c['variant']}: the choice names no stage")
            for key in ("batch", "replicas", "threads"):
                v = c.get(key)
                _need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, file,
                      f"{c['variant']}: {key} {v!r} is not a whole number ≥ 1")
    sim = doc.get("simulated")
    _need(sim is None or isinstance(sim, dict), file, "simulated is not a mapping")
    return doc


def profiled_samples(doc):
    """The number of dataset items the plan's variants were profiled on (the fewest), or None
    when plan.json does not say: a verification scores the same items by default, since a
    variant's accuracy over the first N items (``tailq profile --count N``) is not its
    accuracy over the whole dataset."""
    planned = {c["variant"] for c in doc["plan"]["choices"]}
    entries = (doc.get("profiles") or {}).get("variants") or []
    counts = [e.get("samples") for e in entries if isinstance(e, dict) and e.get("variant") in planned]
    counts = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 1]
    return min(counts) if counts else None


def plan_lines(doc):
    """What ``tailq plan`` prints: the choices, the split, the predictions, decision time."""
    p = doc["plan"]
    lines = [f"{p['mode']} plan ({p['objective']}, {p['solver']}) at {p['qps']:g} QPS, SLO "
             f"{p['slo_s'] * 1e3:g} ms, {p['cores']} of {doc['request']['cores']} cores:"]
    for c in p["choices"]:
        if p["mode"] == "variant-set":
            lines.append(f"  {c['variant']}: {c['cores']} core(s) = {c['servers']} server(s) × "
                         f"{c['threads']} thread(s), share {c['share']:.3f} ({c['qps']:.4g} QPS), "
                         f"accuracy {c['accuracy']:.4f}, utilisation {c['utilisation']:.3f}")
        else:
            lines.append(f"  stage {c['stage']}: {c['variant']} batch {c['batch']} × "
                         f"{c['replicas']} replica(s) of {c['threads']} thread(s)")
    p99 = p.get("predicted_p99_s")
    lines.append(f"  predicted ({p['predictor']}): tail quality {p['predicted_tail_quality']:.4f}, "
                 f"accuracy {p['accuracy']:.4f}, p99 "
                 f"{'—' if p99 is None else f'{p99 * 1e3:.3f} ms'}, cost {p['cores']} cores, "
                 f"objective {p['objective_value']:.4f}")
    sim = doc.get("simulated")
    if sim:
        lines.append(f"  predicted (simulator, {sim['jobs']} jobs): tail quality "
                     f"{sim['tail_quality']:.4f}, p99 {sim['p99_s'] * 1e3:.3f} ms")
    lines.append(f"  decision time {p['decision_time_s'] * 1e3:.2f} ms ({p['candidates']} "
                 f"candidates; options built in {p['build_time_s'] * 1e3:.2f} ms)")
    for note in p.get("notes") or ():
        lines.append(f"  note: {note}")
    return lines
