"""``tailq route``: a variant family on a pool of servers, routed by policies, under LoadGen's
Server scenario (or simulated); writes ``OUT/routing.json`` (docs/routing.md)."""

import functools

from .. import workflow
from ._common import add_executor_arg


def add_parser(sub):
    p = sub.add_parser("route", help="run a variant family on a pool of servers under LoadGen's "
                                     "Server scenario, one test per routing policy (or simulate it)")
    p.add_argument("--harness", required=True, metavar="FAMILY",
                   help="the variant family (synthetic, synthetic-laws, digits)")
    p.add_argument("--servers", required=True,
                   help="servers per variant, in the family's order (fastest first), e.g. 2,1,1")
    p.add_argument("--policy", action="append", required=True,
                   help="routing policy (repeatable, or comma-separated): rjiq, pop, jsq, random-lp, "
                        "fastest-idle, most-accurate, central-queue, single:<variant>")
    p.add_argument("--accuracy-target", type=float, required=True, metavar="A",
                   help="the average accuracy a* the pool must keep, e.g. 0.8")
    p.add_argument("--tq-target", default=None, metavar="LEVEL@TIME",
                   help="also route under a tail-quality target, e.g. 0.95@20ms")
    p.add_argument("--tau", default=None, help="latency bounds to report tail quality at, e.g. 10ms,20ms")
    p.add_argument("--qps", type=float, required=True, help="LoadGen's Server target QPS (λ)")
    p.add_argument("--profiles", nargs="+", required=True, metavar="DIR",
                   help="`tailq profile --out` directories holding the family's batch-1 profiles")
    p.add_argument("--queries", type=int, default=workflow._route.DEFAULT_QUERIES,
                   help="queries per policy (LoadGen's min and max query count, or simulated jobs)")
    p.add_argument("--count", type=int, default=None, help="use only the first N dataset items")
    p.add_argument("--simulate", action="store_true",
                   help="run the routing simulator fed by the profiles instead of LoadGen")
    p.add_argument("--seed", type=int, default=0, help="seed of the policies' (and simulator's) draws")
    p.add_argument("--out", required=True, help="run directory (or, with --simulate, a directory)")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    add_executor_arg(p)
    p.set_defaults(func=main)


def main(args):
    from .. import capture, harnesses
    from .._errors import UserError

    if args.harness not in harnesses.FAMILIES:
        raise UserError(f"--harness {args.harness!r}: unknown variant family; choose one of "
                        f"{', '.join(sorted(harnesses.FAMILIES))}")
    family = harnesses.get_family(args.harness)
    policies = [name.strip() for value in args.policy for name in value.split(",") if name.strip()]
    workflow.route(family=family,
                   build_harnesses=lambda: [harnesses.get_harness(n) for n in family.variants], servers=args.servers, policies=policies,
                   accuracy_target=args.accuracy_target, tq_target=args.tq_target, taus=args.tau,
                   qps=args.qps, profiles=args.profiles, simulate=args.simulate,
                   queries=args.queries, seed=args.seed, count=args.count, out=args.out,
                   overwrite=args.overwrite, executor=args.executor,
                   process_builder=process_builder,
                   experiment=capture.load_experiment(args.experiment))
    return 0


def process_builder(name):
    """What a pool server's worker process calls to build its backend (picklable)."""
    return functools.partial(registered_backend, name)


def registered_backend(name):
    """In a worker process: the loaded backend of the *registered* harness ``name`` (never a
    ``module:function`` name, and never anything read from a run directory)."""
    from .. import harnesses
    from .._errors import UserError

    if name not in harnesses.REGISTRY:
        raise UserError(f"harness {name!r}: a process server builds registered harnesses only")
    backend = harnesses.get_harness(name).backend
    backend.load()
    return backend
