"""Capture overhead: a null backend under bare LoadGen vs under the tailq plugin.

Same process, same settings, alternating order, median of repeats. Throughput is LoadGen's
own figure from its detail log (SingleStream: queries/s with LoadGen overhead; Server:
completed samples/s; Offline: samples/s), so both sides are measured on LoadGen's clock.
Memory: peak RSS of separate processes running an Offline test of N samples.

    python benchmarks/capture_overhead.py [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import mlperf_loadgen as lg
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen.harnesses import Harness  # noqa: E402
from tailq_loadgen import records  # noqa: E402
from tailq_loadgen.capture import Experiment, build_test_settings, run_capture  # noqa: E402

N_SAMPLES = 1024
THROUGHPUT_KEY = {"SingleStream": "result_qps_with_loadgen_overhead",
                  "Server": "result_completed_samples_per_sec",
                  "Offline": "result_samples_per_second"}


class NullDataset:
    def __init__(self, n):
        self.n = n

    def get_item_count(self):
        return self.n

    def load_query_samples(self, indices):
        pass

    def unload_query_samples(self, indices):
        pass

    def get_samples(self, indices):
        return indices


class NullBackend:
    """Answers an 8-byte zero per sample, at once."""

    def __init__(self):
        self.zeros = np.zeros((4096, 1), dtype=np.int64)

    def name(self):
        return "null"

    def version(self):
        return "1"

    def load(self):
        return self

    def predict(self, indices):
        n = len(indices)
        return self.zeros[:n] if n <= 4096 else np.zeros((n, 1), dtype=np.int64)


def null_harness(n=N_SAMPLES):
    return Harness(name="null", task="none", runtime="python", backend=NullBackend(),
                   dataset=NullDataset(n))


def settings_for(scenario, queries):
    over = {"min_duration_ms": 0, "max_duration_ms": 0, "min_query_count": queries,
            "max_query_count": queries, "single_stream_expected_latency_ns": 5000,
            "server_target_qps": 100000.0, "offline_expected_qps": float(queries)}
    # Offline issues one query of max(min_query_count, 1.1 · min_duration · expected_qps)
    # samples: with no minimum duration, min_query_count is the sample count.
    return over


def bare_loadgen(scenario, overrides, out, n=N_SAMPLES):
    """The MLPerf reference-harness shape: issue_queries predicts and completes inline.

    It uses ConstructFastSUT (plain id/index lists), as the plugin does, so that the ratio
    measures the plugin's recording and not a cheaper LoadGen entry point.
    """
    backend, dataset = NullBackend(), NullDataset(n)

    def issue_queries(ids, idx):
        bs = 32 if scenario == "Offline" else len(idx)
        for start in range(0, len(idx), bs):
            out_arr = np.ascontiguousarray(backend.predict(dataset.get_samples(idx[start:start + bs])))
            base, size = out_arr.__array_interface__["data"][0], out_arr.itemsize * out_arr.shape[1]
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, base + k * size, size)
                                     for k, i in enumerate(ids[start:start + bs])])

    sut = lg.ConstructFastSUT(issue_queries, lambda: None)
    qsl = lg.ConstructQSL(n, n, lambda s: None, lambda s: None)
    ts, _ = build_test_settings(model="null", scenario=scenario, mode="PerformanceOnly",
                                overrides=overrides)
    log = lg.LogSettings()
    log.log_output.outdir = out
    log.log_output.copy_summary_to_stdout = False
    os.makedirs(out, exist_ok=True)
    lg.StartTestWithLogSettings(sut, qsl, ts, log, "")
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    return records.read_detail_log(os.path.join(out, "mlperf_log_detail.txt"))


def plugin(scenario, overrides, out, trace, n=N_SAMPLES, progress=None):
    run_capture(null_harness(n), scenario=scenario, mode="PerformanceOnly", out=out,
                overrides=overrides, experiment=Experiment(trace=trace), log=lambda *_: None,
                progress=progress)
    return records.read_detail_log(os.path.join(records.loadgen_dir(out, 0), "mlperf_log_detail.txt"))


def throughput(repeats, quick):
    rows, per_query = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("SingleStream", "Server", "Offline"):
            queries = {"SingleStream": 50000 if quick else 200000, "Server": 20000 if quick else 100000,
                       "Offline": 200000 if quick else 2000000}[scenario]
            over = settings_for(scenario, queries)
            got = {"bare": [], "plugin, trace off": [], "plugin, trace on": [],
                   "trace on, live progress": []}
            for r in range(repeats):
                for name in (list(got) if r % 2 == 0 else list(got)[::-1]):
                    out = os.path.join(tmp, f"{scenario}-{name.replace(' ', '').replace(',', '')}-{r}")
                    if name == "bare":
                        detail = bare_loadgen(scenario, over, out)
                    elif name.endswith("progress"):  # the CLI's tqdm bar, polled every 0.5 s
                        detail = plugin(scenario, over, out, trace=True, progress=_bar_progress())
                    else:
                        detail = plugin(scenario, over, out, trace=name.endswith("on"))
                    got[name].append(float(detail[THROUGHPUT_KEY[scenario]]))
            base = statistics.median(got["bare"])
            for name, values in got.items():
                med = statistics.median(values)
                added_us = 1e6 / med - 1e6 / base
                per_query[scenario, name] = (1e6 / base, added_us)
                rows.append((scenario, name, f"{med:,.0f}", f"{med / base:.3f}",
                             "—" if name == "bare" else f"{added_us:+.2f}"))
                print(f"{scenario:<13} {name:<18} {med:>12,.0f}/s  ratio {med / base:.3f}", flush=True)
    return rows, per_query


def _bar_progress():
    from tailq_loadgen.cli._progress import ConsoleProgress

    return ConsoleProgress(stream=open(os.devnull, "w"), tty=True)


def break_even_us(per_query, scenario, name="plugin, trace off", target=0.9):
    """Backend time per query above which the plugin keeps ``target`` of bare throughput.

    With bare round trip b and added cost o per query, a backend taking t keeps
    (b + t) / (b + t + o) of the throughput, which is ≥ target once t ≥ o·target/(1−target) − b.
    """
    b, o = per_query[scenario, name]
    return max(0.0, o * target / (1 - target) - b)


def _offline_break_even(per_query):
    t = break_even_us(per_query, "Offline")
    return ("in Offline already with a null backend" if t == 0
            else f"≥ {t:.2f} µs per sample in Offline")


def _peak_rss_child(kind, n):
    code = (f"import sys, resource; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import capture_overhead as c; import tempfile, os; d = tempfile.mkdtemp(); "
            f"over = c.settings_for('Offline', {n}); over['offline_expected_qps'] = float({n}); "
            + ("c.bare_loadgen('Offline', over, os.path.join(d, 'b'), n=1024)" if kind == "bare" else
               f"c.plugin('Offline', over, os.path.join(d, 'p'), trace={kind == 'trace'}, n=1024)")
            + "; print(c.peak_rss_bytes())")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(res.stdout.strip().splitlines()[-1])


def peak_rss_bytes():
    """VmHWM of this process. (ru_maxrss would not do: Linux carries it over fork and exec,
    so a child reports its parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory(quick):
    sizes = (100_000, 400_000) if quick else (250_000, 1_000_000)
    rows = []
    peaks = {}
    for kind in ("bare", "notrace", "trace"):
        for n in sizes:
            peaks[kind, n] = _peak_rss_child(kind, n)
            print(f"Offline {n:>9,} samples  {kind:<8} peak RSS {peaks[kind, n] / 2**20:8.1f} MiB", flush=True)
    lo, hi = sizes
    for kind, label in (("bare", "bare LoadGen"), ("notrace", "plugin, trace off"), ("trace", "plugin, trace on")):
        slope = (peaks[kind, hi] - peaks[kind, lo]) / (hi - lo)
        extra = (peaks[kind, hi] - peaks["bare", hi]) / hi
        rows.append((label, f"{peaks[kind, lo] / 2**20:.0f}", f"{peaks[kind, hi] / 2**20:.0f}",
                     f"{slope:.0f}", f"{extra:.0f}" if kind != "bare" else "—"))
    return rows, sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a minute)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows, per_query = throughput(args.repeats, args.quick)
    mem_rows, sizes = memory(args.quick)
    body = (f"Machine: {machine_line()}. Null backend (8-byte answer), PerformanceOnly, median of "
            f"{args.repeats} alternating repeats{' (--quick)' if args.quick else ''}.\n\n"
            "Target: the plugin without trace keeps ≥ 90% of bare LoadGen's queries/s in "
            "SingleStream and Offline.\n\n"
            + table(("scenario", "setup", "throughput (LoadGen's figure, /s)", "ratio to bare",
                     "added µs/query"), rows)
            + "\n\nA null backend is the worst case: the whole query is LoadGen's own round trip "
              f"({per_query['SingleStream', 'bare'][0]:.2f} µs in SingleStream), so the plugin's "
              "fixed cost per query (stamps, the pending-batch entry, one deque append, and the "
              "writer thread's columnar conversion under the GIL) shows at full size. The same "
              "fixed cost keeps ≥ 90% of bare throughput once the backend takes "
              f"≥ {break_even_us(per_query, 'SingleStream'):.1f} µs per query in SingleStream "
              f"({_offline_break_even(per_query)}); the fastest real harness here, digits on "
              "PyTorch, takes ≈ 60 µs.\n\nServer: bare completes inside LoadGen's issue "
              "callback; the plugin hands each "
              "query to a worker thread (required so that issuing never waits for the backend), "
              "so a null backend at this rate measures the thread hand-off, not the recording.\n\n"
              "Live progress (`trace on, live progress`: the CLI's tqdm bar, fed by a thread that "
              "reads the record writer's count every 0.5 s) adds nothing to the hot path; its "
              "row against `plugin, trace on` is the cost of that thread.\n\n"
            + f"Peak RSS of an Offline test (one query of N samples, {sizes[0]:,} and {sizes[1]:,}):\n\n"
            + table(("setup", f"MiB at {sizes[0]:,}", f"MiB at {sizes[1]:,}",
                     "bytes/sample (slope)", "bytes/sample over bare"), mem_rows)
            + "\n\nThe slope includes LoadGen's own per-sample state (its query list, the trace "
              "buffer). The plugin's record buffer is bounded by `segment_rows` (flushed to "
              "Parquet at 65,536 rows or every 2 s); the trace join holds ~40 bytes per sample "
              "of lookup arrays.")
    write_section("Capture overhead (benchmarks/capture_overhead.py)", body)
    print("written to benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
