"""Before/after check of the capture overhead: this tree against another source tree (e.g.
``git archive main | tar -x -C /tmp/base``), in alternating processes.

Each process measures, with a null backend, bare LoadGen and the plugin (trace off and on) in
SingleStream and Offline, and reports the plugin's throughput as a ratio to bare LoadGen in the
same process (the ratio cancels most of the machine's load); the two trees are compared by the
median of those ratios over ``--rounds`` alternations.

    python benchmarks/overhead_ab.py --baseline /tmp/base [--rounds 4]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from benchmarks._results import machine_line, table, write_section  # noqa: E402
QUERIES = {"SingleStream": 40000, "Offline": 400000}

_CHILD = r"""
import json, os, sys, tempfile
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
sys.path.insert(0, sys.argv[1])
import capture_overhead as c
out = {}
with tempfile.TemporaryDirectory() as tmp:
    for scenario, n in json.loads(sys.argv[2]).items():
        over = c.settings_for(scenario, n)
        for rep in range(3):
            for name in ("bare", "off", "on"):
                d = os.path.join(tmp, f"{scenario}-{name}-{rep}")
                detail = (c.bare_loadgen(scenario, over, d) if name == "bare" else
                          c.plugin(scenario, over, d, trace=name == "on"))
                out.setdefault(f"{scenario} {name}", []).append(float(detail[c.THROUGHPUT_KEY[scenario]]))
print(json.dumps(out))
"""


def measure(tree):
    env = dict(os.environ, PYTHONPATH=tree)
    res = subprocess.run([sys.executable, "-c", _CHILD, tree, json.dumps(QUERIES)], env=env,
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    got = json.loads(res.stdout.strip().splitlines()[-1])
    ratios = {}
    for scenario in QUERIES:
        bare = statistics.median(got[f"{scenario} bare"])
        for name in ("off", "on"):
            ratios[f"{scenario}, trace {name}"] = statistics.median(got[f"{scenario} {name}"]) / bare
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", required=True, help="source tree to compare against")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--write", default=None, metavar="LABEL",
                    help="write a RESULTS.md section named after LABEL (e.g. 'issue 14 vs main')")
    args = ap.parse_args()
    trees = {"baseline": os.path.abspath(args.baseline), "this tree": HERE}
    ratios = {k: [] for k in trees}
    for r in range(args.rounds):
        for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            ratios[name].append(measure(trees[name]))
            print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios[name][-1].items()),
                  flush=True)
    print("\nplugin throughput / bare LoadGen, median over rounds:")
    rows = []
    for key in ratios["baseline"][0]:
        b = statistics.median(x[key] for x in ratios["baseline"])
        t = statistics.median(x[key] for x in ratios["this tree"])
        spread = max(x[key] for x in ratios["baseline"]) / min(x[key] for x in ratios["baseline"]) - 1
        rows.append((key, f"{b:.3f}", f"{t:.3f}", f"{t / b - 1:+.1%}", f"{spread:.0%}"))
        print(f"{key:<24} baseline {b:.3f}  this tree {t:.3f}  change {t / b - 1:+.1%}")
    if args.write:
        write_section(f"Capture overhead before/after (benchmarks/overhead_ab.py) — {args.write}",
                      f"Machine: {machine_line()}; load average at the end "
                      f"{os.getloadavg()[0]:.1f} (other engineers' work shared the 2 cores). "
                      f"Null backend, PerformanceOnly; each of {args.rounds} alternating rounds "
                      "measures bare LoadGen and the plugin in one process; the figure is the "
                      "plugin's throughput as a ratio to bare LoadGen, median over rounds.\n\n"
                      + table(("scenario, trace", "baseline ratio", "this tree ratio", "change",
                               "baseline spread over rounds (max/min − 1)"), rows)
                      + "\n\nA change much smaller than the spread over rounds is not a measured "
                        "difference. (Ratios above 1: bare LoadGen here keeps LoadGen's default "
                        "trace, the plugin with trace off does not.)")


if __name__ == "__main__":
    main()
