"""IPA mode: per stage of a pipeline, a variant, a batch size and a replica count.

Formulation as implemented (IPA's, from its released optimiser; the reductions are ours):

* Per stage s one option o = (variant, threads, batch b), b from the allowed batch sizes
  (powers of two, capped) that are profiled or filled by IPA's quadratic fit.
* Latency of a stage: the profiled p99 of one batch's service time plus the batching wait
  (b − 1)/λ. Constraint: Σ stages latency ≤ SLA.
* Throughput of one replica h = b / mean service time; constraint n·h ≥ λ, 1 ≤ n ≤ n_max
  (IPA's scaling cap, 100). Optional core budget Σ n·threads ≤ B (ours; IPA has none).
* Objective α·Acc − β·Σ n·threads − γ·Σ b (see ``_objectives``).

[ours] Replicas enter only the cost and the throughput constraint, so at the optimum
n = ⌈λ/h⌉ and the problem is a multiple-choice knapsack over (variant, threads, b) per stage:
``enumerate`` visits every combination of per-stage options exactly (after dropping options
that an earlier option of the same stage dominates — no slower, no costlier, no less valued).
``milp`` solves IPA's own form with replicas as integer variables (so the reduction is tested,
not assumed): binaries z per option, integers n per option with n ≤ n_max·z and n·h ≥ λ·z;
the pipeline accuracy (a product) is made linear by continuous weights on the combinations of
variants whose per-stage marginals equal the chosen z (they are then forced to 0/1).

The ``tq`` objective scores every combination by the predictor (not linear: end-to-end
latency is a convolution across stages), so it is solved by enumeration only; replicas become
a real decision (more replicas, less queueing): n from the smallest stable count
⌊λ/h⌋ + 1 up to ``extra_replicas`` more.
"""

import dataclasses
import itertools
import math
import time

import numpy as np

from . import _milp
from ._errors import CapacityError, MissingProfileError, PlanningError, SLOInfeasibleError
from ._latency import batch_profiles
from ._objectives import IPAObjective, TailQualityObjective, rank_normalised
from ._plan import Constraint, Plan, StageChoice
from ._profiles import group_by_stage
from ._queueing import SLO_BINS, AnalyticPredictor, Grid, StageLoad, convolve_rows
from ._validate import int_set, positive, restrict, solver_name

CHUNK = 1 << 16          # combinations evaluated at once by the enumeration
REL = 1e-9               # relative tolerance of every constraint, in both solvers


@dataclasses.dataclass(frozen=True, eq=False)
class _Option:
    stage: int
    variant: int             # index of the variant within its stage
    profile: object          # VariantProfile
    bp: object               # BatchProfile
    threads: int
    batch: int
    latency: float           # p99 of a batch + (b − 1)/λ
    throughput: float        # h, of one replica
    need: float              # λ / h
    n_min: int               # ⌈λ/h⌉ (relative tolerance REL)
    acc_term: float          # rank-normalised accuracy, or the raw accuracy
    replicas: int = 0        # set on enumeration options

    @property
    def cores(self):
        return self.replicas * self.threads


@dataclasses.dataclass(frozen=True)
class _Problem:
    stages: tuple            # stage names in order
    variants: tuple          # per stage: tuple of VariantProfile
    options: tuple           # per stage: tuple of base _Option in canonical order
    qps: float
    slo_s: float
    objective: object
    max_replicas: int
    max_cores: int
    combination_accuracy: dict


def _ceil(x):
    return max(1, int(math.ceil(x * (1.0 - REL))))


def _base_options(problem_stages, variants, qps, batch_sizes, threads, objective):
    options = []
    for si, profiles in enumerate(variants):
        accs = [p.accuracy for p in profiles]
        terms = rank_normalised(accs, [p.name for p in profiles]) \
            if isinstance(objective, IPAObjective) and objective.accuracy == "normalised" else accs
        stage_opts = []
        for vi, p in enumerate(profiles):
            for t in (threads if threads is not None else p.threads_profiled):
                for b, bp in sorted(batch_profiles(p, t, batch_sizes).items()):
                    h = bp.throughput_qps
                    stage_opts.append(_Option(si, vi, p, bp, t, b, bp.p99_s + (b - 1) / qps, h,
                                              qps / h, _ceil(qps / h), terms[vi]))
        if not stage_opts:
            raise MissingProfileError(
                f"stage {problem_stages[si]!r}: no profile at batch sizes {list(batch_sizes)}"
                + (f" and threads {list(threads)}" if threads is not None else "")
                + "; profile its variants there or allow other batch sizes")
        stage_opts.sort(key=lambda o: (o.n_min * o.threads, o.batch, o.variant, o.threads))
        options.append(tuple(stage_opts))
    return tuple(options)


def _combination_accuracy(problem, combo_variants):
    names = tuple(problem.variants[s][v].name for s, v in enumerate(combo_variants))
    if problem.combination_accuracy is not None:
        return problem.combination_accuracy[names]
    return math.prod(problem.variants[s][v].accuracy for s, v in enumerate(combo_variants))


def _accuracy_term(problem, chosen):
    if problem.objective.name == "ipa-normalised":
        return sum(o.acc_term for o in chosen)
    return _combination_accuracy(problem, [o.variant for o in chosen])


def _ipa_value(problem, chosen):
    """The objective of one configuration, summed stage by stage in order (enumeration does the
    same arithmetic, so equal configurations give bit-equal values)."""
    ob = problem.objective
    if ob.name == "ipa-normalised":
        val = 0.0
        for o in chosen:
            val = val + (ob.alpha * o.acc_term - ob.beta * o.cores - ob.gamma * o.batch)
        return val
    cost = 0.0
    for o in chosen:
        cost = cost + (ob.beta * o.cores + ob.gamma * o.batch)
    return ob.alpha * _accuracy_term(problem, chosen) - cost


def _diagnose(problem, options):
    """Raise the error that explains why no configuration is feasible, if one of the simple
    reasons holds; return silently otherwise."""
    sla = problem.slo_s * (1 + REL)
    is_tq = isinstance(problem.objective, TailQualityObjective)
    fastest = [min(opts, key=lambda o: o.latency) for opts in problem.options]
    if not is_tq and sum(o.latency for o in fastest) > sla:
        detail = ", ".join(f"{problem.stages[o.stage]}: {o.profile.name} b={o.batch} "
                           f"{o.latency * 1e3:.3g} ms" for o in fastest)
        raise SLOInfeasibleError(
            f"SLO {problem.slo_s * 1e3:.4g} ms: no configuration meets it at {problem.qps:.6g} QPS; "
            f"the fastest needs {sum(o.latency for o in fastest) * 1e3:.4g} ms ({detail}); "
            "raise the SLO or profile faster variants")
    budget = problem.max_cores
    for si, opts in enumerate(options):
        if not opts:
            best = max(problem.options[si], key=lambda o: o.throughput / o.threads)
            limit = f"{problem.max_replicas} replicas" + (f", {budget} cores" if budget else "")
            cap = best.throughput * min(problem.max_replicas,
                                        (budget // best.threads) if budget else problem.max_replicas)
            raise CapacityError(
                f"load {problem.qps:.6g} QPS is above the capacity of stage "
                f"{problem.stages[si]!r} within {limit} (at most {cap:.6g} QPS, "
                f"{best.profile.name} at batch {best.batch}); lower the load or allow more cores")
    if not is_tq:
        fastest = [min(opts, key=lambda o: o.latency) for opts in options]
        if sum(o.latency for o in fastest) > sla:
            raise CapacityError(
                f"load {problem.qps:.6g} QPS: no configuration that carries it meets SLO "
                f"{problem.slo_s * 1e3:.4g} ms (the fastest that carries it needs "
                f"{sum(o.latency for o in fastest) * 1e3:.4g} ms); lower the load or raise the SLO")
    if budget is not None and sum(min(o.cores for o in opts) for opts in options) > budget:
        raise CapacityError(
            f"load {problem.qps:.6g} QPS needs at least "
            f"{sum(min(o.cores for o in opts) for opts in options)} cores; the budget is {budget}")


def _enumeration_options(problem, extra_replicas):
    """Per stage the options with their replica counts, in canonical order, within limits."""
    is_tq = isinstance(problem.objective, TailQualityObjective)
    out = []
    for opts in problem.options:
        stage = []
        for o in opts:
            lo = int(math.floor(o.need)) + 1 if is_tq else o.n_min
            for n in range(lo, lo + (extra_replicas + 1 if is_tq else 1)):
                if n > problem.max_replicas or (problem.max_cores and n * o.threads > problem.max_cores):
                    break
                stage.append(dataclasses.replace(o, replicas=n))
        stage.sort(key=lambda o: (o.cores, o.batch, o.variant, o.threads, o.replicas))
        out.append(stage)
    return out


def _prune_dominated(problem, stage_opts):
    """Drop an option when an earlier one of the same stage is no slower, uses no more cores
    and is valued no less (same variant for the pipeline accuracy): exact, ties included,
    because the earlier option also wins the lexicographic tie-break."""
    ob = problem.objective
    same_variant = ob.name != "ipa-normalised"
    kept = []
    for o in stage_opts:
        val = (ob.alpha * o.acc_term if not same_variant else 0.0) - ob.beta * o.cores - ob.gamma * o.batch
        if not any(k.latency <= o.latency and k.cores <= o.cores and kv >= val
                   and (not same_variant or k.variant == o.variant) for k, kv in kept):
            kept.append((o, val))
    return [k for k, _ in kept]


def _combos(sizes, start, stop):
    """Digits (one column per stage, stage 0 most significant) of combinations start…stop−1."""
    idx = np.arange(start, stop, dtype=np.int64)
    digits = np.empty((idx.size, len(sizes)), dtype=np.int64)
    for s in range(len(sizes) - 1, -1, -1):
        idx, digits[:, s] = np.divmod(idx, sizes[s])
    return digits


def _first_best(values_of, ranges):
    """Index of the chosen combination: among those within the tie tolerance of the best, the
    one with the fewest cores, then the first in lexicographic order. ``values_of(a, b)``
    returns (objective, cores, first combination index) for one range; two passes."""
    best = -np.inf
    for a, b in ranges:
        v, _, _ = values_of(a, b)
        best = max(best, float(v.max(initial=-np.inf)))
    if not np.isfinite(best):
        return None
    tol = _milp.tie_tolerance(best)
    pick = None
    for a, b in ranges:
        v, cores, first = values_of(a, b)
        hit = np.flatnonzero(v >= best - tol)
        if hit.size:
            j = hit[np.argmin(cores[hit])]          # argmin keeps the first of equal cores
            if pick is None or cores[j] < pick[0]:
                pick = (int(cores[j]), first + int(j))
    return pick[1]


def _enumerate_ipa(problem, options):
    options = [_prune_dominated(problem, opts) for opts in options]
    sizes = [len(o) for o in options]
    ob = problem.objective
    lat = [np.array([o.latency for o in opts]) for opts in options]
    cores = [np.array([o.cores for o in opts]) for opts in options]
    if ob.name == "ipa-normalised":
        per = [np.array([ob.alpha * o.acc_term - ob.beta * o.cores - ob.gamma * o.batch for o in opts])
               for opts in options]
    else:
        cost = [np.array([ob.beta * o.cores + ob.gamma * o.batch for o in opts]) for opts in options]
        var = [np.array([o.variant for o in opts]) for opts in options]
        table = _accuracy_table(problem)
    sla = problem.slo_s * (1 + REL)

    def values_of(start, stop):
        d = _combos(sizes, start, stop)
        total_lat = np.zeros(len(d))
        total_cores = np.zeros(len(d), dtype=np.int64)
        for s in range(len(sizes)):
            total_lat = total_lat + lat[s][d[:, s]]
            total_cores = total_cores + cores[s][d[:, s]]
        if ob.name == "ipa-normalised":
            val = np.zeros(len(d))
            for s in range(len(sizes)):
                val = val + per[s][d[:, s]]
        else:
            c = np.zeros(len(d))
            for s in range(len(sizes)):
                c = c + cost[s][d[:, s]]
            val = ob.alpha * table[tuple(var[s][d[:, s]] for s in range(len(sizes)))] - c
        ok = total_lat <= sla
        if problem.max_cores is not None:
            ok &= total_cores <= problem.max_cores
        return np.where(ok, val, -np.inf), total_cores, start

    total = math.prod(sizes)
    i = _first_best(values_of, [(a, min(total, a + CHUNK)) for a in range(0, total, CHUNK)])
    if i is None:
        return None, total
    d = _combos(sizes, i, i + 1)[0]
    return [options[s][d[s]] for s in range(len(sizes))], total


def _accuracy_table(problem):
    shape = tuple(len(v) for v in problem.variants)
    table = np.empty(shape)
    for combo in itertools.product(*[range(k) for k in shape]):
        table[combo] = _combination_accuracy(problem, combo)
    return table


def _enumerate_tq(problem, options):
    """Every combination scored by the analytic predictor on the scoring grid (exact on it)."""
    ob = problem.objective
    grid = Grid.for_slo(problem.slo_s)
    pmfs = [np.stack([StageLoad(o.bp, o.replicas, problem.qps).pmf(grid) for o in opts])
            for opts in options]
    last_cdf = np.cumsum(pmfs[-1], axis=1)[:, ::-1].T   # [j, o] = P(T_last ≤ bin N−1−j)
    sizes = [len(o) for o in options]
    last = sizes[-1]
    cores = [np.array([o.cores for o in opts]) for opts in options]
    var = [np.array([o.variant for o in opts]) for opts in options]
    table = _accuracy_table(problem)
    norm = float(problem.max_cores) if problem.max_cores else 1.0
    nfft = 2 * SLO_BINS
    spectra = [np.fft.rfft(p, nfft, axis=1) for p in pmfs[:-1]]
    n_prefix = math.prod(sizes[:-1])
    step = max(1, CHUNK // last)

    def values_of(p0, p1):
        """Objective of the combinations whose stages before the last are prefixes p0…p1−1."""
        if len(sizes) == 1:
            on_time = pmfs[0].sum(axis=1)
        else:
            d = _combos(sizes[:-1], p0, p1)
            prefix = pmfs[0][d[:, 0]]
            for s in range(1, len(sizes) - 1):
                prefix = np.clip(np.fft.irfft(np.fft.rfft(prefix, nfft, axis=1) * spectra[s][d[:, s]],
                                              nfft, axis=1)[:, :SLO_BINS], 0.0, None)
            on_time = (prefix @ last_cdf).ravel()
        d = _combos(sizes, p0 * last, p1 * last)
        total_cores = np.zeros(len(d), dtype=np.int64)
        for s in range(len(sizes)):
            total_cores = total_cores + cores[s][d[:, s]]
        acc = table[tuple(var[s][d[:, s]] for s in range(len(sizes)))]
        val = acc * on_time - ob.cost_weight * total_cores / norm
        if problem.max_cores is not None:
            val = np.where(total_cores <= problem.max_cores, val, -np.inf)
        return val, total_cores, p0 * last

    total = n_prefix * last
    i = _first_best(values_of, [(p0, min(n_prefix, p0 + step)) for p0 in range(0, n_prefix, step)])
    if i is None:
        return None, total
    d = _combos(sizes, i, i + 1)[0]
    return [options[s][d[s]] for s in range(len(sizes))], total


def _milp_ipa(problem):
    """IPA's formulation with replicas as integer variables (see the module docstring)."""
    ob = problem.objective
    m = _milp.Model()
    z, n = [], []
    for opts in problem.options:
        z.append(m.add_vars(len(opts)))
        n.append(m.add_vars(len(opts), 0, problem.max_replicas, True))
    flat = [o for opts in problem.options for o in opts]
    zf = np.concatenate(z)
    nf = np.concatenate(n)
    for zs in z:
        m.add_row(zs, 1.0, 1.0, 1.0)
    for o, zi, ni in zip(flat, zf, nf):
        m.add_row([ni, zi], [1.0, -problem.max_replicas], hi=0.0)
        m.add_row([ni, zi], [1.0, -o.need], lo=0.0)
    m.add_row(zf, [o.latency / problem.slo_s for o in flat], hi=1.0)
    if problem.max_cores is not None:
        m.add_row(nf, [o.threads for o in flat], hi=problem.max_cores)
    cost = np.zeros(m.n_vars)
    cost[nf] = [-ob.beta * o.threads for o in flat]
    cost[zf] = [-ob.gamma * o.batch for o in flat]
    if ob.name == "ipa-normalised":
        cost[zf] += [ob.alpha * o.acc_term for o in flat]
    else:
        combos = list(itertools.product(*[range(len(v)) for v in problem.variants]))
        w = m.add_vars(len(combos), 0.0, 1.0, False)
        cost = np.concatenate([cost, [ob.alpha * _combination_accuracy(problem, c) for c in combos]])
        m.add_row(w, 1.0, 1.0, 1.0)
        for s, opts in enumerate(problem.options):
            for v in range(len(problem.variants[s])):
                wc = [w[i] for i, c in enumerate(combos) if c[s] == v]
                zc = [z[s][i] for i, o in enumerate(opts) if o.variant == v]
                m.add_row(wc + zc, [1.0] * len(wc) + [-1.0] * len(zc), 0.0, 0.0)
    t = np.zeros(m.n_vars)
    t[nf] = [o.threads for o in flat]
    ties = [t]                               # fewest cores, then stage by stage in canonical order
    for s, opts in enumerate(problem.options):
        t = np.zeros(m.n_vars)
        t[z[s]] = np.arange(len(opts))
        ties.append(t)
    t = np.zeros(m.n_vars)
    t[nf] = 1.0
    ties.append(t)
    solves = 0
    for _ in range(64):  # verify in exact arithmetic; repair what HiGHS's tolerances let through
        x, k = m.maximise(cost, ties)
        solves += k
        if x is None:
            return None, m.n_vars, solves
        picks = [int(np.argmax(x[zs])) for zs in z]
        chosen = [dataclasses.replace(problem.options[s][i], replicas=int(round(x[n[s][i]])))
                  for s, i in enumerate(picks)]
        short = [(s, i) for s, i in enumerate(picks) if chosen[s].replicas < chosen[s].n_min]
        for s, i in short:  # n·h ≥ λ held only within HiGHS's tolerance: require ⌈λ/h⌉
            m.add_row([n[s][i], z[s][i]], [1.0, -float(problem.options[s][i].n_min)], lo=0.0)
        if short:
            continue
        if sum(o.latency for o in chosen) > problem.slo_s * (1 + REL):
            m.add_row([z[s][i] for s, i in enumerate(picks)], 1.0, hi=len(picks) - 1)  # no-good cut
            continue
        return chosen, m.n_vars, solves
    raise PlanningError("milp: could not reach a configuration that meets the constraints in "
                        "exact arithmetic after 64 repairs; use solver='enumerate'")


def _build_plan(problem, chosen, solver, decision_s, build_s, candidates, predictor, notes):
    ob = problem.objective
    qps = problem.qps
    acc = _combination_accuracy(problem, [o.variant for o in chosen])
    if isinstance(ob, TailQualityObjective):
        acc_term = acc
    else:
        acc_term = _accuracy_term(problem, chosen)
    choices = tuple(StageChoice(
        stage=problem.stages[o.stage], variant=o.profile.name, threads=o.threads, batch=o.batch,
        replicas=o.replicas, cores=o.cores, accuracy=o.profile.accuracy,
        accuracy_term=o.acc_term, p99_s=o.bp.p99_s, batching_wait_s=(o.batch - 1) / qps,
        throughput_qps=o.throughput, utilisation=qps / (o.replicas * o.throughput), fitted=o.bp.fitted)
        for o in chosen)
    latency = sum(o.latency for o in chosen)
    cores = sum(o.cores for o in chosen)
    constraints = []
    if not isinstance(ob, TailQualityObjective):
        constraints.append(Constraint("latency bound Σ(p99 + (b − 1)/λ) ≤ SLA [s]", latency, "<=",
                                      problem.slo_s))
    for o in chosen:
        name = problem.stages[o.stage]
        constraints.append(Constraint(f"{name}: throughput n·h ≥ λ [QPS]", o.replicas * o.throughput,
                                      ">=", qps))
        constraints.append(Constraint(f"{name}: replicas ≤ cap", o.replicas, "<=", problem.max_replicas))
    if problem.max_cores is not None:
        constraints.append(Constraint("cores ≤ budget", cores, "<=", problem.max_cores))
    pred = (predictor or AnalyticPredictor()).pipeline(
        [StageLoad(o.bp, o.replicas, qps) for o in chosen], problem.slo_s, acc)
    if isinstance(ob, TailQualityObjective):
        norm = float(problem.max_cores) if problem.max_cores else 1.0
        value = acc * _on_time_scoring(problem, chosen) - ob.cost_weight * cores / norm
    else:
        value = _ipa_value(problem, chosen)
    if not pred.stable:
        notes = notes + ("a stage runs at utilisation ≥ 1: its queue grows without bound; the "
                         "predicted tail quality is 0",)
    if any(o.bp.fitted for o in chosen):
        notes = notes + ("some batch sizes were filled by the quadratic fit, not measured",)
    return Plan(mode="pipeline", qps=qps, slo_s=problem.slo_s, objective=ob.name,
                constants=tuple(ob.constants().items()), objective_value=float(value),
                choices=choices, accuracy=float(acc), accuracy_term=float(acc_term), cores=int(cores),
                latency_bound_s=float(latency), predicted_tail_quality=pred.tail_quality,
                predicted_on_time=pred.on_time, predicted_p99_s=pred.p99_s,
                predicted_mean_s=pred.mean_latency_s, predictor=pred.predictor,
                constraints=tuple(constraints), solver=solver, decision_time_s=decision_s,
                build_time_s=build_s, candidates=int(candidates), notes=tuple(notes))


def _on_time_scoring(problem, chosen):
    """P(latency ≤ SLO) on the scoring grid, as the enumeration computed it."""
    grid = Grid.for_slo(problem.slo_s)
    total = None
    for o in chosen:
        p = StageLoad(o.bp, o.replicas, problem.qps).pmf(grid)
        total = p if total is None else convolve_rows(total[None, :], p[None, :], SLO_BINS)[0]
    return float(total.sum())


def plan_pipeline(profiles, *, qps, slo_s, objective=None, stages=None, variants=None,
                  batch_sizes=(1, 2, 4, 8), threads=None, max_replicas=100, max_cores=None,
                  extra_replicas=2, combination_accuracy=None, solver="milp", predictor=None):
    """Plan a pipeline (IPA mode). ``profiles``: VariantProfile records, each naming its stage;
    ``stages``: their order (default: first appearance). Returns a :class:`Plan`.

    ``combination_accuracy``: optional ``{(variant of stage 0, variant of stage 1, …): accuracy}``
    measured end to end; without it the pipeline's accuracy is the product of the stages'
    (IPA's pipeline accuracy, which assumes stage errors independent).
    """
    t0 = time.perf_counter()
    objective = objective if objective is not None else IPAObjective()
    if not isinstance(objective, (IPAObjective, TailQualityObjective)):
        raise PlanningError(f"objective {getattr(objective, 'name', objective)!r}: a pipeline "
                            "plan takes ipa-normalised, ipa-pipeline or tq")
    qps = positive(qps, "qps")
    slo_s = positive(slo_s, "slo_s")
    batch_sizes = int_set(batch_sizes, "batch_sizes")
    threads = int_set(threads, "threads") if threads is not None else None
    max_replicas = positive(max_replicas, "max_replicas", integer=True)
    max_cores = positive(max_cores, "max_cores", integer=True, allow_none=True)
    extra_replicas = int(extra_replicas)
    if extra_replicas < 0:
        raise PlanningError(f"extra_replicas must be ≥ 0, got {extra_replicas}")
    solver = solver_name(solver)
    if isinstance(objective, TailQualityObjective) and solver == "milp":
        raise PlanningError("objective tq: the predicted tail quality of a pipeline is not linear "
                            "in the choices (latency convolves across stages); use "
                            "solver='enumerate', which is exact")
    by_stage = restrict(group_by_stage(profiles), variants)
    if stages is None:
        stages = tuple(by_stage)
    else:
        stages = tuple(stages)
        for s in stages:
            if s not in by_stage:
                raise MissingProfileError(f"stage {s!r}: no profile for it (profiled stages: "
                                          f"{', '.join(by_stage)})")
    variants_by_stage = tuple(tuple(by_stage[s]) for s in stages)
    if combination_accuracy is not None:
        combination_accuracy = {tuple(k): float(v) for k, v in dict(combination_accuracy).items()}
        for combo in itertools.product(*[[p.name for p in v] for v in variants_by_stage]):
            if combo not in combination_accuracy:
                raise MissingProfileError(f"combination_accuracy: no accuracy for {combo}")
    options = _base_options(stages, variants_by_stage, qps, batch_sizes, threads, objective)
    problem = _Problem(stages, variants_by_stage, options, qps, slo_s, objective, max_replicas,
                       max_cores, combination_accuracy)
    enum_options = _enumeration_options(problem, extra_replicas)
    _diagnose(problem, enum_options)
    t1 = time.perf_counter()
    if isinstance(objective, TailQualityObjective):
        chosen, candidates = _enumerate_tq(problem, enum_options)
        notes = (f"tq: replicas from the smallest stable count to {extra_replicas} more",)
    elif solver == "enumerate":
        chosen, candidates = _enumerate_ipa(problem, enum_options)
        notes = ()
    else:
        chosen, candidates, solves = _milp_ipa(problem)
        notes = (f"milp: {solves} HiGHS solves (optimum, then tie-breaks)",)
    t2 = time.perf_counter()
    if chosen is None:
        raise CapacityError(f"no configuration meets SLO {slo_s * 1e3:.4g} ms at {qps:.6g} QPS"
                            + (f" within {max_cores} cores" if max_cores else "")
                            + "; lower the load, raise the SLO or allow more cores")
    return _build_plan(problem, chosen, solver if not isinstance(objective, TailQualityObjective)
                       else "enumerate", t2 - t1, t1 - t0, candidates, predictor, notes)
