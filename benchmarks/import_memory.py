"""Peak memory of ``tailq import`` on a multi-gigabyte synthetic LoadGen trace.

Writes a LoadGen-format trace of about ``--gb`` gigabytes (per sample the same six events
LoadGen writes: Sample begin/end, QuerySamplesComplete, IssueQuery, SampleLoop, Waiting),
imports it in a fresh process and reports that process's peak RSS (VmHWM) and the time.
The bound stated in docs/import.md is checked here: peak ≤ the libraries' own footprint
(a fresh process that only imports tailq) + 128 bytes per sample.

    python benchmarks/import_memory.py [--gb 2.0]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks._results import machine_line, table, write_section  # noqa: E402

DATASET = 1024
FIXTURE = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "external", "pass-0")


def write_trace(path, gb):
    target = int(gb * 1e9)
    written = seq = 0
    with open(path, "w") as f:
        f.write('{"traceEvents":[\n')
        while written < target:
            lines = []
            for _ in range(4096):
                ts = 100.0 + seq * 10.0
                lines.append(
                    f'{{"name":"Sample","cat":"default","ph":"b","pid":1,"id":{seq},"ts":{ts:.3f},'
                    f'"args":{{"sample_seq":{seq},"query_seq":{seq},"sample_idx":{seq % DATASET},'
                    f'"issue_start_ns":{seq % 97},"complete_ns":{50000 + (seq * 7919) % 30000}}}}},\n'
                    f'{{"name":"Sample","cat":"default","ph":"e", "pid":1,"id":{seq},"ts":{ts + 5:.3f}}},\n'
                    f'{{"name":"QuerySamplesComplete","ph":"X","pid":1,"tid":1,"ts":{ts + 5:.3f},"dur":2.1,"args":{{}}}},\n'
                    f'{{"name":"IssueQuery","ph":"X","pid":1,"tid":1,"ts":{ts:.3f},"dur":6.2,"args":{{}}}},\n'
                    f'{{"name":"SampleLoop","ph":"X","pid":1,"tid":1,"ts":{ts:.3f},"dur":6.4,"args":{{}}}},\n'
                    f'{{"name":"Waiting","ph":"X","pid":1,"tid":1,"ts":{ts + 7:.3f},"dur":0.1,"args":{{}}}},\n')
                seq += 1
            chunk = "".join(lines)
            f.write(chunk)
            written += len(chunk)
        f.write("]}\n")
    return seq, os.path.getsize(path)


def child(src, out, corr):
    from tailq_loadgen import workflow

    t0 = time.perf_counter()
    workflow.import_run([src], out, correctness=corr)
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    print(time.perf_counter() - t0, hwm)


def main():
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gb", type=float, default=2.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "lg")
        os.makedirs(src)
        detail = open(os.path.join(FIXTURE, "mlperf_log_detail.txt")).read()
        detail = detail.replace('"key": "qsl_reported_total_count", "value": 48',
                                f'"key": "qsl_reported_total_count", "value": {DATASET}')
        open(os.path.join(src, "mlperf_log_detail.txt"), "w").write(detail)
        t0 = time.monotonic()
        samples, size = write_trace(os.path.join(src, "mlperf_log_trace.json"), args.gb)
        print(f"trace: {size / 1e9:.2f} GB, {samples:,} samples, written in "
              f"{time.monotonic() - t0:.0f} s", flush=True)
        corr = os.path.join(tmp, "correctness.csv")
        with open(corr, "w") as f:
            f.write("sample_index,correct\n" + "".join(f"{i},{i % 2}\n" for i in range(DATASET)))
        base = subprocess.run([sys.executable, "-c", "import tailq_loadgen.workflow, sys;"
                               "print(next(int(l.split()[1])*1024 for l in open('/proc/self/status') "
                               "if l.startswith('VmHWM:')))"], capture_output=True, text=True, check=True)
        baseline = int(base.stdout.split()[-1])
        res = subprocess.run([sys.executable, __file__, "--child", src, os.path.join(tmp, "out"), corr],
                             capture_output=True, text=True, check=True)
        secs, hwm = res.stdout.split()
        secs, hwm = float(secs), int(hwm)
        out_size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(tmp, "out")) for f in fs)
        shutil.rmtree(src)
    bound = baseline + 128 * samples
    per_sample = (hwm - baseline) / samples
    print(f"import: {secs:.0f} s, peak RSS {hwm / 2**20:.0f} MiB (imports alone: {baseline / 2**20:.0f} "
          f"MiB), {per_sample:.0f} B/sample; bound {bound / 2**20:.0f} MiB: "
          f"{'met' if hwm <= bound else 'MISSED'}")
    body = (f"Machine: {machine_line()}. A synthetic LoadGen trace of {size / 1e9:.2f} GB "
            f"({samples:,} samples, six events each, as LoadGen writes them), imported with a "
            "correctness file (no accuracy log, as from a PerformanceOnly run).\n\n"
            + table(("trace", "samples", "import time (s)", "peak RSS (MiB)",
                     "RSS of the imports alone (MiB)", "bytes/sample above that",
                     "stated bound: libraries + 128 B/sample"),
                    [(f"{size / 1e9:.2f} GB", f"{samples:,}", f"{secs:.0f}", f"{hwm / 2**20:.0f}",
                      f"{baseline / 2**20:.0f}", f"{per_sample:.0f}",
                      f"{bound / 2**20:.0f} MiB — {'met' if hwm <= bound else 'missed'}")])
            + f"\n\nRun directory written: {out_size / 1e6:.0f} MB of Parquet.")
    write_section("Import memory (benchmarks/import_memory.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
