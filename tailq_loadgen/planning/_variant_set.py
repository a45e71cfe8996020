"""InfAdapter mode: one stage, a set of variants served at once, cores per variant, a load split.

Formulation as implemented (InfAdapter's, from its released ``reconfig.py`` and starter):

* Cores per variant n_m ∈ {0} ∪ [min_cores, B] (2…20 in the paper; configurable, and a
  multiple of the variant's threads per server: n_m cores are n_m // threads servers).
  Σ n_m ≤ B.
* Capacity of (variant, cores): the largest QPS whose p99 ≤ SLO. Measured points (LoadGen's
  FindPeakPerformance) are fitted linearly in the cores with the intercept kept ≤ 0 (the code
  truncates it to an integer ≤ 0.99); without them [ours] the analytic predictor's capacity
  for n_m // threads servers is used. Either is used at ``headroom`` (80%).
  Constraint: Σ capacity ≥ λ.
* Split: the paper's greedy from the most accurate variant down, each taking
  min(capacity, remaining load), enforced by weighted round-robin (the shares are the
  weights); or ``split='lp'``: the LP max Σ g_m x_m s.t. x_m ≤ capacity_m, Σ x_m = λ with
  the objective's per-query gain g_m — a fractional knapsack whose optimum fills variants in
  decreasing g. With the paper's objective g_m is the accuracy, so the LP split *is* the
  greedy (tested); with ``tq`` g_m is the variant's predicted tail quality when loaded to its
  capacity, so the two differ.
* Objective: served-weighted accuracy − α·Σn/B − β·reload cost, reload cost = the largest
  load time among variants whose cores change to a non-zero count, over the largest load time
  of all (InfAdapter's LC).

``milp``: binaries y[m, c] (variant m at c cores), continuous split x, continuous LC ≥ each
changed variant's normalised load time; its LP split at the optimum is the greedy one.
``enumerate``: every core vector in lexicographic order. ``tq`` scores candidates with the
predictor (the greedy split couples the variants), so it is solved by enumeration only.
"""

import dataclasses
import time

import numpy as np

from . import _milp
from ._errors import CapacityError, MissingProfileError, PlanningError, SLOInfeasibleError
from ._latency import batch_profiles
from ._objectives import InfAdapterObjective, TailQualityObjective
from ._plan import Constraint, Plan, VariantChoice
from ._profiles import group_by_stage
from ._queueing import (AnalyticPredictor, Grid, StageLoad, capacity_at_slo,
                        on_time_single, pmf_of_samples)
from ._validate import fraction, int_set, positive, restrict, solver_name

REL = 1e-9
SPLITS = ("greedy", "lp")
CHUNK = 4096


@dataclasses.dataclass(frozen=True, eq=False)
class _Variant:
    profile: object
    bp: object                 # batch-1 BatchProfile at the chosen threads
    threads: int
    capacity: np.ndarray       # [choice index] QPS at the SLO, headroom applied (index 0: 0 cores)
    capacity_source: str
    reload: float              # load time / largest load time
    prev: int                  # cores in the current deployment


def linear_capacity(points, cores):
    """InfAdapter's capacity model: least squares in cores (through the one point when only one
    was measured), intercept kept ≤ 0, never below 0."""
    c = np.array([p.cores for p in points], dtype=np.float64)
    q = np.array([p.qps for p in points], dtype=np.float64)
    if len(points) == 1:
        slope, icpt = q[0] / c[0], 0.0
    else:
        slope, icpt = np.polyfit(c, q, 1)
    return np.maximum(0.0, slope * np.asarray(cores, dtype=np.float64) + min(icpt, 0.0))


def _variants(profiles, choices, slo_s, threads, headroom, quantile, current):
    load_times = [p.load_time_s for p in profiles]
    top = max(load_times)
    out = []
    for p in profiles:
        bps = batch_profiles(p, threads, (1,))
        if 1 not in bps:
            raise MissingProfileError(f"variant {p.name!r}: no profile at batch 1 with {threads} "
                                      f"thread(s) (profiled threads: {list(p.threads_profiled)}); "
                                      "profile it there or pass threads=")
        bp = bps[1]
        points = p.capacity_at(slo_s)
        cores = np.array((0,) + choices)
        if points:
            cap = linear_capacity(points, cores)
            source = f"measured at {[pt.cores for pt in points]} cores, fitted linearly"
        else:
            cap = np.concatenate([[0.0], capacity_at_slo(bp, np.array(choices) // threads, slo_s,
                                                         quantile)])
            source = "analytic (predictor), per core count"
        cap[0] = 0.0
        prev = int(current.get(p.name, 0))
        out.append(_Variant(p, bp, threads, headroom * cap, source,
                            (p.load_time_s / top) if top > 0 else 0.0, prev))
    return out


def _candidates(n_variants, n_choices, cores, budget, max_variants):
    """Every vector of choice indices (0 = variant unused) with Σ cores ≤ budget, in
    lexicographic order (variant 0 most significant, fewer cores first)."""
    idx = np.zeros((1, 0), dtype=np.int64)
    used = np.zeros(1, dtype=np.int64)
    total = np.zeros(1, dtype=np.int64)
    for _ in range(n_variants):
        rep = np.repeat(np.arange(len(idx)), n_choices)
        ch = np.tile(np.arange(n_choices), len(idx))
        t = total[rep] + cores[ch]
        u = used[rep] + (ch > 0)
        ok = t <= budget
        if max_variants is not None:
            ok &= u <= max_variants
        idx = np.concatenate([idx[rep[ok]], ch[ok, None]], axis=1)
        total, used = t[ok], u[ok]
    return idx, total


def _greedy_split(caps, order, qps):
    """Shares from the first variant of ``order`` down: each takes min(capacity, remaining)."""
    x = np.zeros_like(caps)
    left = np.full(caps.shape[0], qps)
    for m in order:
        x[:, m] = np.minimum(caps[:, m], np.maximum(left, 0.0))
        left = left - x[:, m]
    return x


def _split(variants, caps, qps, rule, gains):
    """The load split of candidate rows: ``gains`` [rows, m] per-query gain for 'lp' (fill in
    decreasing gain, ties by variant order), the accuracy order for 'greedy'."""
    if rule == "greedy":
        acc = [v.profile.accuracy for v in variants]
        order = sorted(range(len(variants)), key=lambda m: (-acc[m], m))
        return _greedy_split(caps, order, qps)
    x = np.zeros_like(caps)
    rows = np.arange(caps.shape[0])
    order = np.lexsort((np.broadcast_to(np.arange(caps.shape[1]), caps.shape), -gains), axis=1)
    left = np.full(caps.shape[0], qps)
    for k in range(caps.shape[1]):
        m = order[:, k]
        take = np.minimum(caps[rows, m], np.maximum(left, 0.0))
        x[rows, m] = take
        left = left - take
    return x


def _reload_cost(variants, n):
    changed = np.zeros(n.shape[0])
    for m, v in enumerate(variants):
        moved = (n[:, m] != 0) & (n[:, m] != v.prev)
        changed = np.maximum(changed, np.where(moved, v.reload, 0.0))
    return changed


class _Scorer:
    """Objective of candidate rows (choice indices), vectorised."""

    def __init__(self, variants, choices, qps, slo_s, budget, objective, split):
        self.variants, self.qps, self.budget = variants, qps, budget
        self.objective, self.split_rule = objective, split
        self.cores = np.array((0,) + choices)
        self.acc = np.array([v.profile.accuracy for v in variants])
        self.is_tq = isinstance(objective, TailQualityObjective)
        if self.is_tq:
            self.grid = Grid.for_slo(slo_s)
            self.pmfs = [pmf_of_samples(v.bp.samples, self.grid) for v in variants]
            # gain of each (variant, core choice) for the LP split: its predicted tail quality
            # when loaded to its (headroom) capacity
            self.gain = np.zeros((len(variants), len(self.cores)))
            for m, v in enumerate(variants):
                k = self.cores[1:] // v.threads
                self.gain[m, 1:] = self.acc[m] * on_time_single(
                    self.pmfs[m], k, np.maximum(v.capacity[1:], 1e-12), v.bp.mean_s, v.bp.scv, self.grid)

    def parts(self, idx):
        n = self.cores[idx]
        caps = np.stack([v.capacity[idx[:, m]] for m, v in enumerate(self.variants)], axis=1)
        gains = (np.stack([self.gain[m, idx[:, m]] for m in range(len(self.variants))], axis=1)
                 if self.is_tq else np.broadcast_to(self.acc, caps.shape))
        x = _split(self.variants, caps, self.qps, self.split_rule, gains)
        return n, caps, x

    def values(self, idx):
        n, caps, x = self.parts(idx)
        ok = caps.sum(axis=1) >= self.qps * (1 - REL)
        ob = self.objective
        lc = _reload_cost(self.variants, n)
        if self.is_tq:
            quality = np.zeros(len(idx))
            for m, v in enumerate(self.variants):
                used = x[:, m] > 0
                if used.any():
                    k = n[used, m] // v.threads
                    on = on_time_single(self.pmfs[m], k, x[used, m], v.bp.mean_s, v.bp.scv, self.grid)
                    quality[used] += x[used, m] / self.qps * self.acc[m] * on
            val = quality - ob.cost_weight * n.sum(axis=1) / self.budget - ob.reload_weight * lc
        else:
            val = (x @ self.acc) / self.qps - ob.alpha * n.sum(axis=1) / self.budget - ob.beta * lc
        return np.where(ok, val, -np.inf)


def _enumerate(scorer, idx):
    """The chosen candidate: among those within the tie tolerance of the best, the fewest
    cores, then variant by variant in the given order a variant used (fewer cores first)
    before one left out."""
    values = np.concatenate([scorer.values(idx[s:s + CHUNK]) for s in range(0, len(idx), CHUNK)])
    best = float(values.max(initial=-np.inf))
    if not np.isfinite(best):
        return None
    tied = idx[values >= best - _milp.tie_tolerance(best)]
    rank = np.where(tied == 0, tied.max(initial=0) + len(scorer.cores), tied)  # unused ranks last
    keys = [rank[:, m] for m in range(rank.shape[1] - 1, -1, -1)] + [scorer.cores[tied].sum(axis=1)]
    return tied[np.lexsort(keys)[0]]


def _solve_milp(variants, choices, qps, budget, objective, max_variants):
    K, C = len(variants), len(choices)
    m = _milp.Model()
    y = m.add_vars(K * C).reshape(K, C)
    x = m.add_vars(K, 0.0, np.inf, False)
    lc = m.add_vars(1, 0.0, np.inf, False)[0]
    for k in range(K):
        m.add_row(y[k], 1.0, hi=1.0)
    m.add_row(y.ravel(), np.tile(choices, K).astype(float), hi=budget)
    caps = np.stack([v.capacity[1:] for v in variants])
    m.add_row(y.ravel(), (caps / qps).ravel(), lo=1.0 - REL)
    for k in range(K):
        m.add_row(np.concatenate([[x[k]], y[k]]), np.concatenate([[1.0], -caps[k]]), hi=0.0)
    m.add_row(x, 1.0, qps, qps)
    for k, v in enumerate(variants):
        moved = [y[k, c] for c in range(C) if choices[c] != v.prev]
        if moved and v.reload > 0:
            m.add_row([lc] + moved, [1.0] + [-v.reload] * len(moved), lo=0.0)
    if max_variants is not None:
        m.add_row(y.ravel(), 1.0, hi=max_variants)
    cost = np.zeros(m.n_vars)
    cost[x] = [v.profile.accuracy / qps for v in variants]
    cost[y.ravel()] = -objective.alpha * np.tile(choices, K) / budget
    cost[lc] = -objective.beta
    t = np.zeros(m.n_vars)
    t[y.ravel()] = np.tile(choices, K)
    ties = [t]                  # fewest cores, then per variant: used (fewer cores first) before unused
    for k in range(K):
        t = np.zeros(m.n_vars)
        t[y[k]] = np.arange(1, C + 1) - (C + 1)
        ties.append(t)
    solves = 0
    for _ in range(64):
        sol, s = m.maximise(cost, ties)
        solves += s
        if sol is None:
            return None, m.n_vars, solves
        ysol = sol[y] > 0.5
        idx = np.array([1 + int(np.argmax(ysol[k])) if ysol[k].any() else 0 for k in range(K)])
        total = sum(v.capacity[idx[k]] for k, v in enumerate(variants))
        if total >= qps * (1 - REL):
            return idx, m.n_vars, solves
        chosen = [y[k, idx[k] - 1] for k in range(K) if idx[k]]
        others = [j for j in y.ravel() if j not in set(chosen)]
        m.add_row(chosen + others, [1.0] * len(chosen) + [-1.0] * len(others), hi=len(chosen) - 1)
    raise PlanningError("milp: could not reach a configuration that meets the capacity in exact "
                        "arithmetic after 64 repairs; use solver='enumerate'")


def _max_capacity(variants, choices, budget, max_variants):
    """The most QPS any allowed core vector carries (a small knapsack, for error messages)."""
    cores = np.array((0,) + choices)
    idx, _ = _candidates(len(variants), len(cores), cores, budget, max_variants)
    return float(max(sum(v.capacity[i] for v, i in zip(variants, row)) for row in idx))


def plan_variant_set(profiles, *, qps, slo_s, max_cores=20, objective=None, min_cores=2,
                     core_choices=None, threads=1, headroom=0.8, split="greedy",
                     capacity_quantile=0.99, current=None, variants=None, max_variants=None,
                     solver="milp", predictor=None):
    """Plan a set of variants of one stage served at once (InfAdapter mode). Returns a Plan.

    ``current``: ``{variant: cores}`` now deployed (reload cost); ``max_variants=1`` gives
    InfAdapter's MS+ baseline (one variant, fewest cores that carry λ), and ``variants=[v]``
    a fixed variant whose cores scale.
    """
    t0 = time.perf_counter()
    objective = objective if objective is not None else InfAdapterObjective()
    if not isinstance(objective, (InfAdapterObjective, TailQualityObjective)):
        raise PlanningError(f"objective {getattr(objective, 'name', objective)!r}: a variant-set "
                            "plan takes infadapter or tq")
    qps = positive(qps, "qps")
    slo_s = positive(slo_s, "slo_s")
    budget = positive(max_cores, "max_cores", integer=True)
    threads = positive(threads, "threads", integer=True)
    headroom = fraction(headroom, "headroom")
    quantile = fraction(capacity_quantile, "capacity_quantile")
    solver = solver_name(solver)
    if split not in SPLITS:
        raise PlanningError(f"split {split!r}: choose greedy or lp")
    if max_variants is not None:
        max_variants = positive(max_variants, "max_variants", integer=True)
    if isinstance(objective, TailQualityObjective) and solver == "milp":
        raise PlanningError("objective tq: the predicted tail quality of a variant set is not "
                            "linear in the choices (the split couples them); use "
                            "solver='enumerate', which is exact")
    if core_choices is None:
        choices = tuple(range(positive(min_cores, "min_cores", integer=True), budget + 1))
    else:
        choices = int_set(core_choices, "core_choices")
    choices = tuple(c for c in choices if c <= budget and c % threads == 0)
    if not choices:
        raise CapacityError(f"no core count in {core_choices or f'{min_cores}…{budget}'} fits the "
                            f"budget of {budget} cores as whole servers of {threads} thread(s)")
    by_stage = restrict(group_by_stage(profiles), variants)
    if len(by_stage) != 1:
        raise PlanningError(f"a variant set is one stage; the profiles name stages "
                            f"{', '.join(by_stage)} (use plan_pipeline, or pass one stage's)")
    stage_profiles = next(iter(by_stage.values()))
    current = dict(current or {})
    for name, c in current.items():
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise PlanningError(f"current: cores of {name!r} must be an integer ≥ 0, got {c!r}")
    vs = _variants(stage_profiles, choices, slo_s, threads, headroom, quantile, current)
    if all(v.capacity.max() <= 0 for v in vs):
        fast = min(vs, key=lambda v: v.bp.p99_s)
        raise SLOInfeasibleError(
            f"SLO {slo_s * 1e3:.4g} ms: no variant meets it even unloaded (the fastest, "
            f"{fast.profile.name!r}, has a service p99 of {fast.bp.p99_s * 1e3:.4g} ms); raise the "
            "SLO or profile faster variants")
    cores = np.array((0,) + choices)
    t1 = time.perf_counter()
    notes = []
    if solver == "enumerate":
        idx, _ = _candidates(len(vs), len(cores), cores, budget, max_variants)
        scorer = _Scorer(vs, choices, qps, slo_s, budget, objective, split)
        row = _enumerate(scorer, idx)
        candidates = len(idx)
    else:
        row, candidates, solves = _solve_milp(vs, choices, qps, budget, objective, max_variants)
        notes.append(f"milp: {solves} HiGHS solves (optimum, then tie-breaks)")
    t2 = time.perf_counter()
    if row is None:
        most = _max_capacity(vs, choices, budget, max_variants)
        raise CapacityError(
            f"load {qps:.6g} QPS is above the capacity at SLO {slo_s * 1e3:.4g} ms of every "
            f"configuration within {budget} cores (at most {most:.6g} QPS with {headroom:.0%} "
            "headroom); lower the load or allow more cores")
    scorer = _Scorer(vs, choices, qps, slo_s, budget, objective, split)
    value = float(scorer.values(row[None, :])[0])
    n, caps, x = (a[0] for a in scorer.parts(row[None, :]))
    chosen = [(v, int(n[m]), float(caps[m]), float(x[m])) for m, v in enumerate(vs) if n[m] > 0]
    pools = [(StageLoad(v.bp, c // v.threads, q), v.profile.accuracy) for v, c, _, q in chosen]
    pred = (predictor or AnalyticPredictor()).variant_set(pools, slo_s)
    choices_out = tuple(VariantChoice(
        variant=v.profile.name, cores=c, servers=c // v.threads, threads=v.threads,
        capacity_qps=cap, share=q / qps, qps=q, accuracy=v.profile.accuracy,
        utilisation=q * v.bp.mean_s / (c // v.threads)) for v, c, cap, q in chosen)
    served_acc = sum(q * v.profile.accuracy for v, _, _, q in chosen) / qps
    constraints = [Constraint("cores ≤ budget", int(n.sum()), "<=", budget),
                   Constraint("capacity at SLO with headroom ≥ λ [QPS]", float(caps.sum()), ">=", qps),
                   Constraint("load split Σ x = λ [QPS]", float(x.sum()), ">=", qps)]
    for (v, c, cap, q) in chosen:
        constraints.append(Constraint(f"{v.profile.name}: cores ≥ min", c, ">=", min(choices)))
        constraints.append(Constraint(f"{v.profile.name}: load ≤ capacity [QPS]", q, "<=", cap))
    if max_variants is not None:
        constraints.append(Constraint("variants used ≤ max", len(chosen), "<=", max_variants))
    notes += sorted({f"capacity of {v.profile.name}: {v.capacity_source}" for v, *_ in chosen})
    if not pred.stable:
        notes.append("a variant's pool runs at utilisation ≥ 1; the predicted tail quality is 0")
    return Plan(mode="variant-set", qps=qps, slo_s=slo_s, objective=objective.name,
                constants=tuple({**objective.constants(), "headroom": headroom, "split": split,
                                 "max_cores": budget}.items()),
                objective_value=value, choices=choices_out, accuracy=float(served_acc),
                accuracy_term=float(served_acc), cores=int(n.sum()), latency_bound_s=slo_s,
                predicted_tail_quality=pred.tail_quality, predicted_on_time=pred.on_time,
                predicted_p99_s=pred.p99_s, predicted_mean_s=pred.mean_latency_s,
                predictor=pred.predictor, constraints=tuple(constraints), solver=solver,
                decision_time_s=t2 - t1, build_time_s=t1 - t0, candidates=int(candidates),
                notes=tuple(notes))
