"""Peak memory (VmHWM) of ``tailq show``, ``export`` and ``analyze`` on large run directories.

Two synthetic run directories, written through the records API with every column a capture
fills (ok samples, LoadGen-like latencies, wrapper stamps, 40-byte outputs as from the digits
CNN, per-sample scores):

* 3,000,000 rows: 100,000 samples × 30 passes;
* 1,000,000 samples × 5 passes.

Each command runs in a fresh process; its peak RSS is read from ``/proc/self/status``. The
baseline, in the same run, is the same command from the last schema-1 code (``git archive
4c29c90``, main before the run-directory owner landed; ``--baseline REV`` for another) on
the same records written in the schema-1 format, where that code can read them;
and the libraries' own footprint (a process that only imports ``tailq_loadgen.workflow``).
``analyze`` runs under an address-space limit (``--analyze-limit-gb``, default 6) so that a
measurement cannot take this shared machine's memory: exceeding it is reported as such.

    python benchmarks/memory.py [--small] [--no-main] [--analyze-limit-gb 6]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
from benchmarks._results import machine_line, table, write_section  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from tailq_loadgen import records  # noqa: E402
from tailq_loadgen.metrics import Scores  # noqa: E402
from tailq_loadgen.records._io import AtomicParquetWriter  # noqa: E402
from tailq_loadgen.records._schema import SCHEMAS  # noqa: E402

OUTPUT_BYTES = 40
SCHEMA1_REV = "4c29c90"  # main just before the run-directory owner (schema 2) landed
CHUNK = 262_144


def _pass_columns(rng, n, p):
    order = rng.permutation(n)
    lat = np.exp(rng.normal(np.log(5e5), 0.2, n)).astype(np.int64)
    issue = 1_700_000_000_000_000_000 + np.cumsum(lat + 20_000)
    compute = (lat * 0.9).astype(np.int64)
    # every column filled, as a capture fills them (an import leaves the wrapper's null)
    return {"pass": np.full(n, p, np.int32), "query_seq": np.arange(n, dtype=np.int64),
            "sample_seq": np.arange(n, dtype=np.int64), "sample_index": order.astype(np.int64),
            "latency_ns": lat, "issue_delay_ns": rng.integers(0, 5000, n),
            "wrapper_issue_ns": issue, "wrapper_complete_ns": issue + compute + 3000,
            "compute_ns": compute, "batch_size": np.ones(n, np.int32)}


def _outputs(rng, n):
    data = rng.integers(0, 256, n * OUTPUT_BYTES, dtype=np.uint8)
    offsets = np.arange(n + 1, dtype=np.int32) * OUTPUT_BYTES
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def write_run(path, samples, passes, schema, seed=0):
    """A run directory of ``samples`` × ``passes`` ok records, in schema ``schema`` (1 or 2)."""
    rng = np.random.default_rng(seed)
    scores = (rng.random(samples) < 0.9).astype(np.float64)
    tests = [{"pass": p, "mode": "AccuracyOnly", "complete": True, "samples": samples,
              "status_counts": {"ok": samples}} for p in range(passes)]
    meta = {"harness": {"name": "synthetic", "metric": "accuracy", "source": None},
            "scenario": "SingleStream", "sample_count": samples, "latency_source": "loadgen_trace",
            "output": {"dtype": "<f4", "shape": [10]}, "mode": "AccuracyOnly"}
    if schema == 2:
        rd = records.RunDirectory.create(path, dict(meta, origin="import", tests=tests))
    else:
        os.makedirs(os.path.join(path, "records"))
    for p in range(passes):
        cols = _pass_columns(rng, samples, p)
        target = records.final_path(path, p)
        sch = SCHEMAS[schema]
        with AtomicParquetWriter(target, sch) as w:
            for s in range(0, samples, CHUNK):
                n = min(CHUNK, samples - s)
                part = {k: v[s:s + n] for k, v in cols.items()}
                part.update(status=pa.array(["ok"] * n), output=_outputs(rng, n))
                if schema == 2:
                    w.write_table(records.build_table(**part))
                else:
                    w.write_table(pa.Table.from_arrays(
                        [pa.array(part[f.name], f.type) if f.name in part else pa.nulls(n, f.type)
                         for f in sch], schema=sch))
    sizes = np.full(samples, 64.0)
    if schema == 2:
        rd.write_samples(sizes)
        rd.write_quality(None, Scores(scores, "accuracy"), "synthetic scores")
        rd.finish("complete")
        return
    pq.write_table(pa.table({"sample_index": np.arange(samples, dtype=np.int64), "size": sizes}),
                   os.path.join(path, "samples.parquet"))
    pq.write_table(pa.table({"sample_index": np.arange(samples, dtype=np.int64), "score": scores}),
                   os.path.join(path, "correctness.parquet"))
    with open(os.path.join(path, "metadata.json"), "w") as f:
        json.dump(dict(meta, format="tailq-run", schema_version=1, imported=True, tests=tests,
                       status="complete", complete=True, abort_reason=None, warnings=[],
                       started=None, ended=None), f)


_CHILD = """
import sys, time
t0 = time.perf_counter()
from tailq_loadgen.cli import main
rc = main(sys.argv[1:])
secs = time.perf_counter() - t0
hwm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(f"@@ {rc} {secs} {hwm}", file=sys.stderr)
"""


def measure(args, pythonpath=None, limit_gb=None, cwd=None):
    """(exit code, seconds, peak RSS bytes) of one CLI command in a fresh process. ``cwd``
    must not hold a tailq_loadgen folder: ``python -c`` puts the working directory first on
    the path, before PYTHONPATH."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath

    def limit():
        if limit_gb:
            cap = int(limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    p = subprocess.run([sys.executable, "-c", _CHILD, *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=env, preexec_fn=limit, cwd=cwd)
    line = [l for l in p.stderr.splitlines() if l.startswith("@@ ")]
    if not line:  # killed, or a MemoryError before the report
        return p.returncode, None, None, p.stderr.strip().splitlines()[-1:] or [""]
    _, rc, secs, hwm = line[-1].split()
    return int(rc), float(secs), int(hwm), p.stderr.strip().splitlines()[-2:-1] or [""]


def baseline_rss(pythonpath=None, cwd=None):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    p = subprocess.run([sys.executable, "-c", "import tailq_loadgen.workflow, tailq_loadgen.report;"
                        "print(next(int(l.split()[1])*1024 for l in open('/proc/self/status') "
                        "if l.startswith('VmHWM:')))"], capture_output=True, text=True, env=env,
                       check=True, cwd=cwd)
    return int(p.stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--small", action="store_true", help="a tenth of the sizes (a quick check)")
    ap.add_argument("--no-main", action="store_true", help="skip the baseline from the schema-1 code")
    ap.add_argument("--baseline", default=SCHEMA1_REV,
                    help="the schema-1 commit whose code is the baseline (default %(default)s)")
    ap.add_argument("--analyze-limit-gb", type=float, default=6.0)
    ap.add_argument("--mc", type=int, default=2000)
    ap.add_argument("--analyze-main", action="store_true",
                    help="also time main's analyze (slow; analyze is issue 11's to bound)")
    args = ap.parse_args()
    scale = 10 if args.small else 1
    shapes = [("3M rows", 100_000 // scale, 30), ("1M samples × 5 passes", 1_000_000 // scale, 5)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        main_src = None
        if not args.no_main:
            main_src = os.path.join(tmp, "main-src")
            os.makedirs(main_src)
            archive = subprocess.run(["git", "-C", REPO, "archive", args.baseline], capture_output=True,
                                     check=True)
            subprocess.run(["tar", "-x", "-C", main_src], input=archive.stdout, check=True)
        libs = baseline_rss(cwd=tmp)
        libs_main = baseline_rss(main_src, cwd=tmp) if main_src else None
        for name, samples, passes in shapes:
            t0 = time.monotonic()
            run2 = os.path.join(tmp, f"v2-{samples}")
            write_run(run2, samples, passes, 2)
            run1 = None
            if main_src:
                run1 = os.path.join(tmp, f"v1-{samples}")
                write_run(run1, samples, passes, 1)
            print(f"{name}: written in {time.monotonic() - t0:.0f} s", flush=True)
            out_csv = os.path.join(tmp, "x.csv")
            cmds = [("show", lambda r: ["show", r], None),
                    ("export csv", lambda r: ["export", r, "--format", "csv", "-o", out_csv], None),
                    ("export jsonl", lambda r: ["export", r, "--format", "jsonl", "-o", out_csv], None),
                    (f"analyze --mc {args.mc}",
                     lambda r: ["analyze", r, "--mc", str(args.mc), "--thresholds", "p90,p99"],
                     args.analyze_limit_gb)]
            for label, build, limit in cmds:
                figures = []
                for run, src in ((run2, None), (run1, main_src)):
                    if run is None or (src and label.startswith("analyze") and not args.analyze_main):
                        figures.append(None)
                        continue
                    if os.path.exists(out_csv):
                        os.unlink(out_csv)
                    rc, secs, hwm, last = measure(build(run), src, limit, cwd=tmp)
                    figures.append((rc, secs, hwm, last))
                    print(f"  {label:<16} {'main' if src else 'this':<5} rc={rc} "
                          f"{'—' if hwm is None else f'{hwm / 2**20:,.0f} MiB'} "
                          f"{'' if secs is None else f'{secs:.1f} s'} {last[0][:120] if rc else ''}",
                          flush=True)
                rows.append((name, samples * passes, label, figures, limit))
            shutil.rmtree(run2)
            if run1:
                shutil.rmtree(run1)

    def cell(fig, limit):
        if fig is None:
            return "—"
        rc, secs, hwm, last = fig
        if hwm is None:
            return f"over the {limit:g} GB limit (exit {rc})" if limit else f"failed (exit {rc})"
        return f"{hwm / 2**20:,.0f}" + ("" if rc == 0 else f" (exit {rc})")

    body_rows = []
    for name, n_rows, label, (ours, base), limit in rows:
        per_row = ((ours[2] - libs) / n_rows) if ours and ours[2] else None
        ratio = (f"{base[2] / ours[2]:.1f}×" if ours and base and ours[2] and base[2] else "—")
        body_rows.append((name, label, cell(ours, limit), "—" if per_row is None else f"{per_row:.1f}",
                          cell(base, limit), ratio,
                          "—" if not ours or ours[1] is None else f"{ours[1]:.1f}"))
    body = (
        f"Machine: {machine_line()}; other engineers' work shared the machine. Synthetic run "
        "directories (ok records with every column a capture fills, 40-byte outputs, per-sample "
        "scores), each command in a fresh process; peak RSS is VmHWM. Baseline in the same run: "
        f"main's code before schema 2 (`git archive {args.baseline}`, schema 1) on the same "
        "records in the schema-1 format. Libraries alone (a process that "
        f"imports tailq_loadgen.workflow and .report): {libs / 2**20:,.0f} MiB"
        + (f" (main: {libs_main / 2**20:,.0f} MiB)" if libs_main else "") + ".\n\n"
        + table(("run", "command", "peak RSS (MiB)", "bytes/row above the libraries",
                 "main's peak RSS (MiB)", "main / this", "seconds"), body_rows)
        + "\n\nBounds (docs/record-format.md): `show` holds one pass of four columns and 8 bytes "
        "per record of all passes (the pooled percentiles); `export` holds one batch of 65,536 "
        "rows. `analyze` loads 9 bytes per sample and pass and then runs the Monte Carlo of "
        "tailq_loadgen.tailquality in blocks of at most 2²⁰ cells (docs/analysis.md), so its "
        "memory follows the run's samples × passes and the model, not samples × synthetic "
        "passes: under the 4 GB target at `--mc 2000` on both runs. Its time is the stop rule's "
        "rJSD curve (one refit per k). "
        f"The {args.analyze_limit_gb:g} GB address-space limit keeps the measurement from taking "
        "the shared machine's memory.")
    write_section("Peak memory of show, export, analyze (benchmarks/memory.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
