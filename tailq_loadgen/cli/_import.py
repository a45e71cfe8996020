"""``tailq import LOADGEN_DIR... --harness H | --correctness FILE --out DIR``."""

from .. import workflow
from ._common import harness_from_args, progress_bar


def add_parser(sub):
    p = sub.add_parser("import", help="turn LoadGen output directories (one per pass) into a run")
    p.add_argument("loadgen_dirs", nargs="+", help="LoadGen output directories, one per pass")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--harness", help="score outputs with this harness's post-processor and metric")
    g.add_argument("--correctness", help="CSV: sample_index and correct (0/1) or score")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", required=True)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=main)


def main(args):
    harness = harness_from_args(args) if args.harness else None
    with progress_bar("importing", unit="pass") as progress:
        meta = workflow.import_run(args.loadgen_dirs, args.out, harness=harness,
                                   correctness=args.correctness, overwrite=args.overwrite,
                                   progress=progress)
    print(f"imported {len(meta['tests'])} passes of {meta['sample_count']} samples "
          f"({meta['scenario']}) into {args.out}")
    for w in meta["warnings"]:
        print(f"warning: {w}")
