"""``tailq report DIR... --html OUT.html``: one self-contained page, PNGs in OUT_files/ beside it."""

import os

from .. import report, workflow


def add_parser(sub):
    p = sub.add_parser("report", help="HTML report with figures for analysed run directories")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--html", required=True, help="the page to write")
    p.set_defaults(func=main)


def main(args):
    sections = [workflow.report_data(d) for d in args.run_dirs]
    systems = workflow.systems_for_report(args.run_dirs)
    path, pngs = report.write_report(sections, args.html, systems=systems)
    where = os.path.dirname(pngs[0]) if pngs else "none"
    print(f"report: {path} (its {len(pngs)} figures also in {where})")
