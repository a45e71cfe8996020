"""``tailq report DIR... --html OUT.html``: one self-contained page, PNGs in OUT_files/ beside it."""

import os

from .. import report, workflow


def add_parser(sub):
    p = sub.add_parser("report", help="HTML report with figures for analysed run directories")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--html", required=True, help="the page to write")
    p.set_defaults(func=main)


def main(args):
    # `tailq route` runs (and --simulate directories) get the routing section; other runs
    # the analysed sections as before
    routed = {d: workflow.routing_of(d) for d in args.run_dirs}
    others = [d for d in args.run_dirs if routed[d] is None]
    sections = [workflow.report_data(d) for d in others]
    systems = workflow.systems_for_report(others) if others else None
    routing = [doc for doc in routed.values() if doc is not None] or None
    path, pngs = report.write_report(sections, args.html, systems=systems, routing=routing)
    where = os.path.dirname(pngs[0]) if pngs else "none"
    print(f"report: {path} (its {len(pngs)} figures also in {where})")
