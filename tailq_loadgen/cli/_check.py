"""``tailq check DIR``: integrity and stability of a run; exit 1 when it is damaged."""

from .. import workflow


def add_parser(sub):
    p = sub.add_parser("check", help="integrity of a run directory and why it may be unstable")
    p.add_argument("run_dir")
    p.set_defaults(func=main)


def main(args):
    findings = workflow.check_run(args.run_dir)
    print(workflow.format_check(findings))
    return 1 if any(f.level == "problem" for f in findings) else 0
