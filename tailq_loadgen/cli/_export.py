"""``tailq export DIR --format csv|jsonl``: one row per sample."""

import os
import sys

from .. import records
from .._errors import UserError


def add_parser(sub):
    p = sub.add_parser("export", help="write the per-sample records as CSV or JSON lines")
    p.add_argument("run_dir")
    p.add_argument("--format", required=True, choices=records.EXPORT_FORMATS)
    p.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    p.set_defaults(func=main)


def main(args):
    run = records.load_run(args.run_dir)
    if args.output == "-":
        records.export_run(run, args.format, sys.stdout.buffer)
        return
    try:
        with open(args.output, "xb") as f:
            try:
                records.export_run(run, args.format, f)
            except BaseException:  # never leave half an export behind
                os.unlink(args.output)
                raise
    except FileExistsError:
        raise UserError(f"--output {args.output}: file exists; choose another name") from None
    except OSError as exc:
        raise UserError(f"--output {args.output}: cannot write ({exc.strerror})") from None
