"""``tailq plan``: plan variants, cores and a load split from profiles under a latency SLO
(writes ``plan.json``); ``tailq plan --verify plan.json``: run the plan under LoadGen's Server
scenario and print predicted against measured (writes ``RUN/verify.json``). docs/planning.md."""

import json

from .. import workflow
from ._common import add_executor_arg


def add_parser(sub):
    p = sub.add_parser("plan", help="plan model variants, cores and a load split under a latency "
                                    "SLO from profiles, or verify a plan under LoadGen (--verify)")
    p.add_argument("--profiles", nargs="+", metavar="DIR",
                   help="`tailq profile --out` directories (or single profiles) to plan from")
    p.add_argument("--slo", help="the latency SLO, with a unit, e.g. 50ms")
    p.add_argument("--qps", type=float, help="the load to plan for (queries per second)")
    p.add_argument("--cores", type=int, help="the core budget")
    p.add_argument("--objective", choices=workflow._plan.OBJECTIVES, default=None,
                   help="tq (tail quality at the SLO), infadapter or ipa (the papers'); default: "
                        "the mode's paper objective")
    p.add_argument("--solver", choices=workflow._plan.SOLVERS, default=None,
                   help="milp (HiGHS) or enumerate (exact); default: milp, enumerate for tq")
    p.add_argument("--mode", choices=workflow._plan.MODES, default="auto",
                   help="variant-set (InfAdapter), pipeline (IPA), or auto: pipeline when the "
                        "profiles carry ≥ 2 stages")
    p.add_argument("--min-cores", type=int, default=1,
                   help="fewest cores a used variant gets (InfAdapter's 2 assumes 20 cores)")
    p.add_argument("--threads", type=int, default=1, help="threads (cores) per server")
    p.add_argument("--variants", default=None, help="only these variants, comma-separated")
    p.add_argument("--service-from", default=None, metavar="RUN",
                   help="a pool run (`tailq plan --verify` or `tailq route`) whose in-pool service "
                        "times replace the profiles' (what the variants cost inside a pool)")
    p.add_argument("--verify", default=None, metavar="PLAN",
                   help="run this plan.json under LoadGen's Server scenario on the pool SUT")
    p.add_argument("--queries", type=int, default=workflow._plan_verify.DEFAULT_QUERIES,
                   help="with --verify: LoadGen's query count")
    p.add_argument("--count", type=int, default=None,
                   help="with --verify: first N dataset items (default: as many as the "
                        "variants were profiled on)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulator and the split's phase")
    p.add_argument("--out", required=True,
                   help="plan.json to write, or with --verify the run directory")
    p.add_argument("--overwrite", action="store_true", help="with --verify: replace what --out holds")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    p.add_argument("--json", action="store_true", help="print the JSON written")
    add_executor_arg(p, "with --verify: ")
    p.set_defaults(func=main)


def _verify(args):
    from .. import capture, harnesses
    from .._errors import UserError
    from ._route import process_builder

    doc = workflow._plan.load_plan(args.verify)
    if doc["plan"]["mode"] == "pipeline":  # IPA mode: the stages in series on the pipeline SUT
        return workflow.verify_pipeline_plan(
            doc, harnesses, out=args.out, queries=args.queries, seed=args.seed,
            overwrite=args.overwrite, experiment=capture.load_experiment(args.experiment))
    names = [c["variant"] for c in doc["plan"]["choices"]]
    threads = {c["variant"]: c.get("threads") for c in doc["plan"]["choices"]}
    for name in names:
        # only registered harnesses: a name from a data file is never imported as module:function
        if name not in harnesses.REGISTRY:
            raise UserError(f"--verify {args.verify}: the plan deploys harness {name!r}, which is "
                            "not a registered harness (`tailq harnesses` lists them)")
        harnesses.check_harness(name)  # its runtime installed, or the one-line error saying so
    families = sorted({f for n in names for f in harnesses.family_of(n)})
    if args.executor != "auto" or not families:
        where, why = workflow._route.executor_choice(families[0] if families else "",
                                                     args.executor)
    else:  # a variant may be in several families; they must agree on its runtime
        choices = {workflow._route.executor_choice(f, "auto") for f in families}
        if len({c[0] for c in choices}) != 1:
            raise UserError(f"--verify {args.verify}: the plan's families ({', '.join(families)}) "
                            "differ on where their models compute; give --executor threads or "
                            "processes")
        where, why = sorted(choices)[0]

    def build(variants):
        out = []
        for n in variants:
            kw = {"intra_threads": threads[n]} if harnesses.harness_takes(n, "intra_threads") else {}
            out.append(harnesses.get_harness(n, **kw))
        return out

    return workflow._plan_verify.verify_plan(
        args.verify, out=args.out, build_harnesses=build, queries=args.queries, seed=args.seed,
        count=args.count, overwrite=args.overwrite, executor=where,
        process_builder=process_builder, executor_reason=why,
        experiment=capture.load_experiment(args.experiment))


def main(args):
    from .. import harnesses
    from .._errors import UserError

    if args.verify:
        result = _verify(args)
    else:
        missing = [f for f, v in (("--profiles", args.profiles), ("--slo", args.slo),
                                  ("--qps", args.qps), ("--cores", args.cores)) if v is None]
        if missing:
            raise UserError(f"tailq plan: give {', '.join(missing)} (or --verify PLAN)")
        result = workflow._plan.make_plan(
            profiles=args.profiles, slo_s=workflow._plan.parse_time("--slo", args.slo),
            qps=args.qps, cores=args.cores, objective=args.objective, solver=args.solver,
            mode=args.mode, min_cores=args.min_cores, threads=args.threads,
            variants=[v.strip() for v in args.variants.split(",") if v.strip()]
            if args.variants else None, service_from=args.service_from, seed=args.seed,
            catalog=harnesses)
        path = workflow._plan.write_plan(result, args.out)
        for line in workflow._plan.plan_lines(result):
            print(line)
        print(f"plan written to {path}")
    if args.json:
        print(json.dumps(result, indent=1))
    return 0
