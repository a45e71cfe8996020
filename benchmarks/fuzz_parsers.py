"""Fuzz the LoadGen-log parsers and the importer: mangled trace, accuracy and detail logs.

Each case mutates one file of the golden external fixture (delete, duplicate, swap,
truncate, flip a byte, insert garbage, blank a line — 1 to 8 operations) and imports it.
Every case must end in a successful, consistent import (which ``tailq show`` and ``tailq
check`` then read without failing) or a one-line UserError; anything else is a crash. Writes the figure to benchmarks/RESULTS.md.

    python benchmarks/fuzz_parsers.py [--cases 20000] [--seed 0]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import UserError, workflow  # noqa: E402
from test_import import FIXTURE, MUTATIONS, ORIGINAL, _mutate, use_imported  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    outcomes = {"imported": 0, "user error": 0, "crash": 0}
    per_file = {name: dict(outcomes) for name in ORIGINAL}
    crashes = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "pass-0")
        shutil.copytree(os.path.join(FIXTURE, "pass-0"), src)
        for case in range(args.cases):
            target = rnd.choice(sorted(ORIGINAL))
            ops = [rnd.choice(MUTATIONS) for _ in range(rnd.randint(1, 8))]
            for name, data in ORIGINAL.items():
                with open(os.path.join(src, name), "wb") as f:
                    f.write(_mutate(data, ops, rnd) if name == target else data)
            out = os.path.join(tmp, "out")
            try:
                workflow.import_run([src], out, correctness=os.path.join(FIXTURE, "correctness.csv"),
                                    overwrite=True)
                use_imported(out)  # read back, show and check
                kind = "imported"
            except UserError as exc:
                kind = "user error" if "\n" not in str(exc) else "crash"
            except Exception:  # noqa: BLE001 — what we are looking for
                kind = "crash"
                crashes.append(traceback.format_exc(limit=3))
            outcomes[kind] += 1
            per_file[target][kind] += 1
            if os.path.exists(out):
                shutil.rmtree(out)
    secs = time.monotonic() - t0
    print(outcomes, f"{secs:.0f} s")
    for c in crashes[:3]:
        print(c)
    rows = [(name, sum(v.values()), v["imported"], v["user error"], v["crash"])
            for name, v in sorted(per_file.items())]
    rows.append(("all", args.cases, outcomes["imported"], outcomes["user error"], outcomes["crash"]))
    body = (f"Machine: {machine_line()}. {args.cases:,} mangled imports (seed {args.seed}) of the "
            "golden external fixture, {:.0f} s. A case passes when it imports into a run that "
            "reads back and that `show` and `check` summarise, or stops with a one-line UserError.\n\n".format(secs)
            + table(("mangled file", "cases", "imported", "one-line error", "crashed"), rows))
    write_section("Parser fuzzing (benchmarks/fuzz_parsers.py)", body)
    print("written to benchmarks/RESULTS.md")
    return 1 if outcomes["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
