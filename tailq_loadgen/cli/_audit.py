"""``tailq audit TEST01|TEST04``: an MLPerf compliance test through the plugin, verified."""

from .. import workflow
from ._common import add_capture_args, capture_options, harness_from_args


def add_parser(sub):
    p = sub.add_parser("audit", help="run and verify an MLPerf compliance test (TEST01, TEST04)",
                       description="Runs the reference runs and the audited run (LoadGen reads "
                                   "the test's audit.config from --audit_conf, never from the "
                                   "working directory), then checks them as MLPerf's "
                                   "compliance scripts do. Exit 1 when the test fails.")
    p.add_argument("test", help="TEST01 (accuracy in performance mode), TEST04 (no caching); "
                                "TEST06 applies to LLMs only")
    add_capture_args(p, out_help="directory for the runs and the verification")
    p.add_argument("--audit_conf", default=None,
                   help="the test's audit.config (default: mlperf_configs/audit/TEST0N.config)")
    p.add_argument("--reference", default=None,
                   help="an existing PerformanceOnly run to hold the audit against")
    p.add_argument("--accuracy-run", default=None,
                   help="TEST01: an existing AccuracyOnly run to compare responses with")
    p.set_defaults(func=main)


def main(args):
    options = capture_options(args)
    harness = harness_from_args(args)
    doc = workflow.run_audit(args.test, harness, scenario=args.scenario, out=args.out,
                             audit_conf=args.audit_conf, reference=args.reference,
                             accuracy_run=args.accuracy_run, overwrite=args.overwrite, **options)
    print(workflow.format_audit(doc))
    print(f"written: {args.out}/audit.json (and verify_*.txt)")
    return 0 if doc["passed"] else 1
