"""``tailq profile``: capture variant profiles (service times, per-sample correctness)."""

import json

from .. import harnesses, workflow
from ._route import process_builder


def add_parser(sub):
    p = sub.add_parser("profile", help="profile model variants: service-time distribution and "
                                       "per-sample correctness per batch size and threads")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--family", help="a variant family (digits, docstrings, synthetic, "
                                    "synthetic-laws): profile all its variants")
    g.add_argument("--harness", help="profile these harnesses (names or module:function, "
                                     "comma-separated): your own variants")
    g.add_argument("--show", metavar="DIR", help="print the profiles already captured in DIR")
    p.add_argument("--variants", default=None, help="with --family: only these, comma-separated")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter passed to every variant's factory (repeatable)")
    p.add_argument("--batch-sizes", default="1",
                   help="samples per query: 1 (SingleStream) and more (MultiStream), e.g. 1,2,4,8,16")
    p.add_argument("--threads", default="1",
                   help="intra-op threads, e.g. 1,2 (variants without threads are profiled once)")
    p.add_argument("--queries", type=int, default=workflow.DEFAULT_PROFILE_QUERIES,
                   help="queries in each performance test (default %(default)s)")
    p.add_argument("--count", type=int, default=None, help="use only the first N dataset items")
    p.add_argument("--out", help="directory for the profiles (one run directory each)")
    p.add_argument("--overwrite", action="store_true", help="replace profiles already in --out")
    p.add_argument("--resume", action="store_true",
                   help="keep the profiles already in --out that match these flags, capture the rest")
    p.add_argument("--user_conf", default=None, help="LoadGen user.conf")
    p.add_argument("--experiment", default=None, help="tailq experiment YAML")
    p.add_argument("--json", action="store_true", help="with --show: print JSON summaries")
    p.add_argument("--capacity-slo", default=None, metavar="TIME",
                   help="also measure each batch-1 profile's capacity at this p99 SLO (e.g. "
                        "50ms) with LoadGen's Server FindPeakPerformance, into profile.json")
    p.add_argument("--capacity-cores", default="1",
                   help="with --capacity-slo: the core counts to measure, e.g. 1,2")
    p.set_defaults(func=main)


def main(args):
    if args.show:
        profiles = workflow.load_profiles(args.show)
        if args.json:
            print(json.dumps([p.summary() for p in profiles], indent=2))
        else:
            print(workflow.format_profiles(profiles))
        return 0
    profiles = workflow.profile_from_flags(
        catalog=harnesses, family=args.family, harness=args.harness, variants=args.variants,
        harness_args=args.harness_arg, batch_sizes=args.batch_sizes, threads=args.threads,
        queries=args.queries, count=args.count, out=args.out, overwrite=args.overwrite,
        resume=args.resume,
        user_conf=args.user_conf, experiment=args.experiment,
        capacity_slo=args.capacity_slo, capacity_cores=args.capacity_cores,
        process_builder=process_builder)
    print(f"{len(profiles)} profiles in {args.out}")
    return 0
