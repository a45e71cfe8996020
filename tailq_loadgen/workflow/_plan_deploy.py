"""A variant-set plan deployed on the pool SUT: its layout, its split policy, one test per segment.

Interface (used by ``tailq plan --verify`` and by ``tailq adapt``):

* :class:`PoolLayout` — immutable: ``variants`` (harness names, as the profiles name them),
  ``servers`` per variant (cores // threads, docs/planning.md), ``threads`` per server,
  ``shares`` (the plan's load split, summing to 1), and per variant the ``accuracy`` and
  ``mean_service_s`` the plan was made from (the split policy's pool needs a law per variant).
  :func:`pool_layout` builds it from a variant-set ``planning.Plan`` or its ``as_dict()``
  (``plan.json``'s ``plan``); :func:`union_layout` the layout holding, per variant, the most
  servers any of several layouts uses (``tailq adapt`` deploys that once).
* :func:`split_policy` — ``routing.Split`` for a layout: variant k with share k by smooth
  weighted round-robin (deterministic), then the least-loaded of the variant's first
  ``active[k]`` servers. ``active`` (default: every server) and ``shares`` (default: the
  layout's) may be given per segment, so a pool built once serves every segment's plan. The
  same object runs in the routing simulator (:func:`simulate_layout`).
* :func:`deploy_plan` ``(layout, hs, *, out, qps, queries, …) → (session, harness)`` — a
  ``CaptureSession`` whose SUT is the pool (``_route.deploy``), ``hs`` the layout's harnesses
  in its order (built by the CLI with ``threads`` intra-op threads); use it as a ``with``.
* :func:`verify_segment` ``(session, layout, qps, seed, active=None, shares=None,
  slo_s=None) → pass``
  — one LoadGen Server test at ``qps`` routed by the split; ``seed`` sets the round-robin's
  starting phase (its initial credits), so consecutive segments do not repeat one sequence.
  Score the pass with ``_plan_verify.measure_pass(run, pass, harness, slo_s, layout,
  planned_shares)`` (tail quality, accuracy, p99, violations, shares, with standard errors) or
  ``_route.scored_pass`` (per-row correctness).
"""

import dataclasses
import math

from .._errors import UserError
from . import _route


@dataclasses.dataclass(frozen=True)
class PoolLayout:
    """What runs: per variant (harness name) its servers, threads per server and load share."""

    variants: tuple
    servers: tuple
    threads: tuple
    shares: tuple
    accuracy: tuple
    mean_service_s: tuple

    def __post_init__(self):
        n = len(self.variants)
        for name in ("variants", "servers", "threads", "shares", "accuracy", "mean_service_s"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if len(getattr(self, name)) != n:
                raise UserError(f"pool layout: {name} has {len(getattr(self, name))} entries for "
                                f"{n} variants")
        if n == 0:
            raise UserError("pool layout: no variant to deploy")
        if len(set(self.variants)) != n:
            raise UserError(f"pool layout: a variant is named twice ({', '.join(self.variants)})")
        for k, v in enumerate(self.variants):
            if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1
                       for x in (self.servers[k], self.threads[k])):
                raise UserError(f"pool layout: {v} needs whole numbers ≥ 1 of servers and threads")
            if not all(isinstance(x, (int, float)) and math.isfinite(x)
                       for x in (self.shares[k], self.accuracy[k], self.mean_service_s[k])) \
                    or self.shares[k] < 0 or not 0 <= self.accuracy[k] <= 1 \
                    or self.mean_service_s[k] <= 0:
                raise UserError(f"pool layout: {v} has a share, accuracy or mean service time "
                                "out of range")
        if abs(sum(self.shares) - 1.0) > 1e-6:
            raise UserError(f"pool layout: the shares sum to {sum(self.shares):.6g}, not 1")

    @property
    def cores(self):
        return sum(s * t for s, t in zip(self.servers, self.threads))

    def as_dict(self):
        return {f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self)}


def pool_layout(plan):
    """The layout of a variant-set plan (a ``planning.Plan`` or its ``as_dict()``)."""
    doc = plan.as_dict() if hasattr(plan, "as_dict") else plan
    if not isinstance(doc, dict) or doc.get("mode") != "variant-set":
        mode = doc.get("mode") if isinstance(doc, dict) else type(doc).__name__
        raise UserError(f"plan mode {mode!r}: only a variant-set (InfAdapter) plan deploys on one "
                        "pool; pipeline plans have their own deployment")
    choices = doc.get("choices") or []
    try:
        names = [str(c["variant"]) for c in choices]
        threads = [int(c["threads"]) for c in choices]
        servers = [int(c["cores"]) // t for c, t in zip(choices, threads)]
        qps = [float(c["qps"]) for c in choices]
        accuracy = [float(c["accuracy"]) for c in choices]
        # utilisation = qps × mean service / servers (planning/_plan.py VariantChoice)
        mean = [float(c["utilisation"]) * n / q if q > 0 else math.nan
                for c, n, q in zip(choices, servers, qps)]
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        raise UserError("plan: a variant choice lacks variant, cores, threads, qps, accuracy or "
                        "utilisation; make the plan again with `tailq plan`") from None
    total = sum(qps)
    if not choices or total <= 0:
        raise UserError("plan: no variant carries load; make the plan again with `tailq plan`")
    # A variant planned with no load keeps its servers (deployed, idle) and a share of 0; its
    # mean service then cannot come from the utilisation, so take the slowest known one.
    known = [m for m in mean if math.isfinite(m) and m > 0]
    mean = [m if math.isfinite(m) and m > 0 else (max(known) if known else 1.0) for m in mean]
    return PoolLayout(tuple(names), tuple(servers), tuple(threads),
                      tuple(q / total for q in qps), tuple(accuracy), tuple(mean))


def union_layout(layouts):
    """Every variant of ``layouts`` (first appearance order) with the most servers any uses,
    shares those of the first layout that uses it (renormalised): the pool ``tailq adapt``
    deploys once, switching per segment by ``active`` and ``shares``."""
    names, servers, threads, acc, mean = [], {}, {}, {}, {}
    for lay in layouts:
        for k, v in enumerate(lay.variants):
            if v not in servers:
                names.append(v)
                servers[v], threads[v] = lay.servers[k], lay.threads[k]
                acc[v], mean[v] = lay.accuracy[k], lay.mean_service_s[k]
            elif lay.threads[k] != threads[v]:
                raise UserError(f"variant {v}: planned at {threads[v]} and {lay.threads[k]} threads "
                                "per server; one pool needs one thread count per variant")
            servers[v] = max(servers[v], lay.servers[k])
    if not names:
        raise UserError("no layout to join")
    share = [1.0 / len(names)] * len(names)
    return PoolLayout(tuple(names), tuple(servers[v] for v in names),
                      tuple(threads[v] for v in names), tuple(share),
                      tuple(acc[v] for v in names), tuple(mean[v] for v in names))


def segment_of(union, layout):
    """(active, shares) over ``union``'s variants that run ``layout`` on the union pool."""
    active, shares = [0] * len(union.variants), [0.0] * len(union.variants)
    for k, v in enumerate(layout.variants):
        if v not in union.variants:
            raise UserError(f"variant {v} is not deployed in the pool ({', '.join(union.variants)})")
        j = union.variants.index(v)
        if layout.servers[k] > union.servers[j]:
            raise UserError(f"variant {v}: {layout.servers[k]} servers planned, "
                            f"{union.servers[j]} deployed")
        active[j], shares[j] = layout.servers[k], layout.shares[k]
    return active, shares


def routing_pool(layout, laws=None):
    """A ``routing.Pool`` of the layout: ``laws[name]`` (a routing service law, e.g. the
    profile's ``routing.Empirical``) or a deterministic law at the planned mean."""
    from .. import routing

    laws = laws or {}
    return routing.Pool(routing.Variant(v, n, laws.get(v) or routing.Deterministic(m), a)
                        for v, n, a, m in zip(layout.variants, layout.servers, layout.accuracy,
                                              layout.mean_service_s))


def split_policy(layout, pool=None, active=None, shares=None, seed=None):
    """The layout's split policy on ``pool`` (default :func:`routing_pool`); a UserError for
    shares or active counts that do not fit the pool."""
    from .. import routing

    pool = pool if pool is not None else routing_pool(layout)
    try:
        return routing.Split(pool, layout.shares if shares is None else shares, active=active,
                             phase=seed)
    except routing.RoutingError as exc:
        raise UserError(f"split of {', '.join(layout.variants)}: {exc}") from None


def deploy_plan(layout, hs, *, out, qps, queries, count=None, overwrite=False, log=print,
                experiment=None, releases_gil=True, executor="thread", process_builder=None,
                executor_reason=None):
    """The pool SUT for ``layout`` as a capture session: ``(session, harness)``.

    ``hs``: the layout's harnesses in its order (their ``name`` must match). ``executor``,
    ``process_builder``, ``executor_reason``, ``releases_gil``: as ``_route.deploy`` takes
    them — "thread" (default) or "process" servers (``_route.executor_choice`` picks one from
    the family, as ``tailq route`` does; the CLI passes its choice)."""
    names = tuple(h.name for h in hs)
    if names != layout.variants:
        raise UserError(f"the plan deploys {', '.join(layout.variants)}; harnesses given: "
                        f"{', '.join(names) or 'none'}")
    return _route.deploy("plan", list(hs), list(layout.servers), out=out, qps=qps,
                         queries=queries, count=count, overwrite=overwrite, log=log,
                         experiment=experiment, releases_gil=releases_gil, executor=executor,
                         process_builder=process_builder, executor_reason=executor_reason)


def verify_segment(session, layout, qps, seed, active=None, shares=None, pool=None, slo_s=None):
    """One LoadGen Server test at ``qps`` through the deployed pool, routed by the layout's
    split (or ``active``/``shares`` on it); returns the pass index. ``slo_s``: LoadGen's
    Server latency bound for this test (``server_target_latency_ns``), so that its own
    verdict judges the p99 against the plan's SLO rather than the built-in default."""
    policy = split_policy(layout, pool=pool, active=active, shares=shares, seed=seed)
    if slo_s is None:
        return _route.run_pool_test(session, policy, float(qps))
    index = session.passes
    session.sut.set_policy(policy, float(qps))
    session.run(["PerformanceOnly"], overrides={"server_target_latency_ns": int(round(slo_s * 1e9))})
    return index


def simulate_layout(layout, laws, qps, jobs, seed, active=None, shares=None, warmup=None):
    """The routing simulator on the layout's pool with ``laws`` (per variant name) and the
    split: a ``routing.Simulation``."""
    from .. import routing

    pool = routing_pool(layout, laws)
    policy = split_policy(layout, pool=pool, active=active, shares=shares, seed=seed)
    try:
        return routing.simulate(pool, policy, float(qps), int(jobs), rng=[int(seed), 7],
                                warmup=_route.WARMUP if warmup is None else warmup)
    except routing.RoutingError as exc:
        raise UserError(f"simulating the plan at {qps:g} QPS: {exc}") from None


def layout_lines(layout):
    """One line per variant: servers × threads and its share."""
    return [f"  {v}: {n} server(s) × {t} thread(s), share {s:.3f}"
            for v, n, t, s in zip(layout.variants, layout.servers, layout.threads, layout.shares)]


__all__ = ["PoolLayout", "deploy_plan", "layout_lines", "pool_layout", "routing_pool",
           "segment_of", "simulate_layout", "split_policy", "union_layout", "verify_segment"]
