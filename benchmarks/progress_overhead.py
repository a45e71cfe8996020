"""Live progress against none: does the CLI's progress bar slow the capture down?

The null backend of capture_overhead.py under the plugin (trace on), with and without the
CLI's reporter (a tqdm bar fed by a thread that reads the record writer's count every 0.5 s;
the hot path is the same code either way). Pairs alternate in order; the figure is the
median of the paired ratios (with / without) of LoadGen's own throughput figure, with the
range of the pairs beside it, so that machine noise shows rather than hides.

    python benchmarks/progress_overhead.py [--pairs 12]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import capture_overhead as co  # noqa: E402
from benchmarks._results import machine_line, table, write_section  # noqa: E402

QUERIES = {"SingleStream": 50000, "Server": 20000, "Offline": 200000}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=12)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, queries in QUERIES.items():
            over = co.settings_for(scenario, queries)
            got = {"without": [], "with": []}
            for r in range(args.pairs):
                for name in (("without", "with") if r % 2 == 0 else ("with", "without")):
                    out = os.path.join(tmp, f"{scenario}-{name}-{r}")
                    progress = co._bar_progress() if name == "with" else None
                    detail = co.plugin(scenario, over, out, trace=True, progress=progress)
                    got[name].append(float(detail[co.THROUGHPUT_KEY[scenario]]))
            ratios = [w / wo for w, wo in zip(got["with"], got["without"])]
            rows.append((scenario, f"{statistics.median(got['without']):,.0f}",
                         f"{statistics.median(got['with']):,.0f}", f"{statistics.median(ratios):.3f}",
                         f"{min(ratios):.2f}–{max(ratios):.2f}"))
            print(rows[-1], flush=True)
    body = (f"Machine: {machine_line()}. Null backend, trace on, PerformanceOnly; {args.pairs} "
            "alternating pairs per scenario.\n\nTarget: live progress does not move the capture's "
            "throughput (median paired ratio within the pairs' own noise of 1).\n\n"
            + table(("scenario", "without progress (/s)", "with the tqdm bar (/s)",
                     "median paired ratio", "range of the pairs"), rows)
            + "\n\nThe reporter's thread wakes twice a second and reads two integers; the range "
              "of the pairs is the machine's noise (other work shared it).")
    write_section("Live progress overhead (benchmarks/progress_overhead.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
