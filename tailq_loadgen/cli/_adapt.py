"""``tailq adapt``: a load pattern as consecutive constant-QPS LoadGen Server tests on one pool
of a family's variants, re-planned between segments; writes ``OUT/adapt.json``
(docs/planning.md, "Adapting to load")."""

from .. import workflow
from ..workflow import _adapt


def add_parser(sub):
    p = sub.add_parser("adapt", help="run a load pattern as constant-QPS Server tests on one pool, "
                                     "re-planned between segments (or a baseline)")
    p.add_argument("--profiles", nargs="+", required=True, metavar="DIR",
                   help="`tailq profile --out` directories holding a family's batch-1 profiles")
    p.add_argument("--pattern", required=True,
                   help="load pattern: bursty, steady-low, steady-high, fluctuating")
    p.add_argument("--slo", required=True, help="latency SLO with a unit, e.g. 50ms")
    p.add_argument("--cores", type=int, required=True,
                   help="core budget (a variant's c cores are c single-threaded servers)")
    p.add_argument("--predictor", default="ewma", help="load predictor: reactive, max, ewma")
    p.add_argument("--baseline", default="none",
                   help="none (the planner), fixed-light, fixed-heavy, rim, vpa")
    p.add_argument("--objective", default="tq", help="planner objective: tq or infadapter")
    p.add_argument("--segments", type=int, default=_adapt.DEFAULT_SEGMENTS,
                   help="constant-QPS segments of the pattern")
    p.add_argument("--segment-s", type=float, default=_adapt.DEFAULT_SEGMENT_S,
                   help="seconds per segment (its queries: QPS × seconds)")
    p.add_argument("--peak-qps", type=float, default=None,
                   help="scale the pattern to this peak (default: to the capacity the profiles "
                        "give the budget at the SLO)")
    p.add_argument("--stabilisation", type=int, default=4,
                   help="lower-load decisions held before scaling down (InfAdapter: 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pattern and the split phases")
    p.add_argument("--count", type=int, default=None, help="use only the first N dataset items (default: those the profiles were "
                        "taken on)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    p.set_defaults(func=main)


def main(args):
    from .. import capture, harnesses

    workflow.adapt(profiles=args.profiles, pattern=args.pattern, slo=args.slo, cores=args.cores,
                   out=args.out, catalog=harnesses,
                   build_harnesses=lambda names: [harnesses.get_harness(n) for n in names],
                   predictor=args.predictor, baseline=args.baseline, objective=args.objective,
                   segments=args.segments, segment_s=args.segment_s, peak_qps=args.peak_qps,
                   stabilisation=args.stabilisation, seed=args.seed, count=args.count,
                   overwrite=args.overwrite, experiment=capture.load_experiment(args.experiment))
    return 0
