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
    args = ap.parse_args()
    trees = {"baseline": os.path.abspath(args.baseline), "this tree": HERE}
    ratios = {k: [] for k in trees}
    for r in range(args.rounds):
        for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            ratios[name].append(measure(trees[name]))
            print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios[name][-1].items()),
                  flush=True)
    print("\nplugin throughput / bare LoadGen, median over rounds:")
    for key in ratios["baseline"][0]:
        b = statistics.median(x[key] for x in ratios["baseline"])
        t = statistics.median(x[key] for x in ratios["this tree"])
        print(f"{key:<24} baseline {b:.3f}  this tree {t:.3f}  change {t / b - 1:+.1%}")


if __name__ == "__main__":
    main()
