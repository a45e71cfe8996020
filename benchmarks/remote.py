"""Remote backend (V2 protocol, MLServer on 127.0.0.1) against the in-process backend on the
same model (the digits CNN on ONNX Runtime, one intra-op thread), and a worked comparison of
the two as "systems".

1. Throughput: LoadGen's own figure (Offline: samples/s; Server at an overload target:
   completed samples/s) with 1, 2, 4, 8 requests in flight, in-process (k threads calling
   ``predict``) and remote over gRPC and HTTP (k outstanding requests); the share of each
   sample's latency that the server reports as its own compute and queueing.
2. The worked comparison: the same harness in-process and behind MLServer, AccuracyOnly passes
   in the Server scenario, through ``tailq compare-systems``: table, overlay plot, and what
   differs in the system descriptions.

    python benchmarks/remote.py [--quick]
"""

import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._results import machine_line, table, write_section  # noqa: E402
from tailq_loadgen import harnesses, load_run, records, workflow  # noqa: E402
from tailq_loadgen.capture import Experiment, remote_harness, run_capture  # noqa: E402
from tailq_loadgen.report._systems import overlay_figure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IN_FLIGHT = (1, 2, 4, 8)
SERVER_THREADS = 2  # model runs MLServer may do at once (this machine has 2 cores)


def _digits():
    return harnesses.get_harness("digits-onnx")


def _setups(server):
    yield "in-process", lambda: _digits()
    yield "remote gRPC", lambda: remote_harness(_digits(), server.url("grpc"))
    yield "remote HTTP", lambda: remote_harness(_digits(), server.url("http"))


SERVER_TARGET_QPS = 200000.0
SHARE_QPS = 150.0  # a Server load every setup sustains: latency is then mostly service, not backlog


def _overrides(scenario, quick, purpose="throughput"):
    if purpose == "share":
        n = 600 if quick else 1500
        return {"min_duration_ms": 0, "max_duration_ms": 0, "min_query_count": n,
                "max_query_count": n, "server_target_qps": SHARE_QPS}
    if scenario == "Offline":
        n = 8192 if quick else 32768
        return {"min_duration_ms": 0, "max_duration_ms": 0, "min_query_count": n,
                "max_query_count": n, "offline_expected_qps": float(n)}
    # Server far above capacity (in-process too): LoadGen's completed-samples rate is then the
    # capacity. The queries are issued within milliseconds, so latency is all backlog.
    n = 1024 if quick else 4096
    return {"min_duration_ms": 0, "max_duration_ms": 0, "min_query_count": n,
            "max_query_count": n, "server_target_qps": SERVER_TARGET_QPS}


KEY = {"Offline": "result_samples_per_second", "Server": "result_completed_samples_per_sec"}


def _capture(make, scenario, k, overrides, out):
    run_capture(make(), scenario=scenario, mode="PerformanceOnly", out=out, overrides=overrides,
                experiment=Experiment(max_in_flight=k, warmup_queries=16), log=lambda *_: None)
    detail = records.read_detail_log(os.path.join(records.loadgen_dir(out, 0),
                                                  "mlperf_log_detail.txt"))
    return detail, load_run(out)


def _shares(run):
    """Medians over samples: server compute and queue as shares of LoadGen's latency and of the
    client's request round trip (``compute_ns``)."""
    ok = (run["status"] == "ok") & (run["server_compute_ns"] >= 0)
    if not ok.any():
        return None
    comp, queue = run["server_compute_ns"][ok].astype(float), run["server_queue_ns"][ok].astype(float)
    lat, trip = run["latency_ns"][ok].astype(float), run["compute_ns"][ok].astype(float)
    return (np.median(comp / lat), np.median(queue / lat), np.median(comp / trip),
            np.median(queue / trip), np.median(lat) / 1e6)


def throughput(server, quick, repeats, tmp):
    rows, base = [], {}
    for scenario in ("Offline", "Server"):
        for name, make in _setups(server):
            for k in IN_FLIGHT:
                values, trip = [], []
                for r in range(repeats):
                    out = os.path.join(tmp, f"{scenario}-{name.replace(' ', '')}-{k}-{r}")
                    detail, run = _capture(make, scenario, k, _overrides(scenario, quick), out)
                    values.append(float(detail[KEY[scenario]]))
                    sh = _shares(run)
                    if sh is not None:
                        trip.append(sh[2])
                med = statistics.median(values)
                if name == "in-process" and k == 1:
                    base[scenario] = med
                ts = f"{statistics.median(trip):.0%}" if trip else "—"
                rows.append((scenario, name, k, f"{med:,.0f}", f"{med / base[scenario]:.2f}", ts))
                print(f"{scenario:<8} {name:<12} in flight {k}: {med:>9,.0f}/s  "
                      f"×{med / base[scenario]:.2f}  server compute / round trip {ts}", flush=True)
    return rows


def shares(server, quick, repeats, tmp):
    rows = []
    for name, make in list(_setups(server))[1:]:
        for k in IN_FLIGHT:
            got = []
            for r in range(repeats):
                out = os.path.join(tmp, f"share-{name.replace(' ', '')}-{k}-{r}")
                got.append(_shares(_capture(make, "Server", k, _overrides("Server", quick, "share"),
                                            out)[1]))
            med = np.median(np.array(got), axis=0)
            rows.append((name, k, f"{med[4]:.3f}", f"{med[0]:.0%}", f"{med[1]:.0%}",
                         f"{max(0.0, 1 - med[0] - med[1]):.0%}", f"{med[2]:.0%}"))
            print(f"share    {name:<12} in flight {k}: latency {med[4]:.3f} ms, compute {med[0]:.0%}, "
                  f"queue {med[1]:.0%} of latency; compute {med[2]:.0%} of the round trip", flush=True)
    return rows


def worked_comparison(server, quick, tmp):
    passes = 6 if quick else 12
    qps = 150.0
    dirs = []
    for name, make in (("in-process", _digits), ("mlserver-grpc",
                                                 lambda: remote_harness(_digits(), server.url("grpc")))):
        out = os.path.join(tmp, name)
        run_capture(make(), scenario="Server", passes=passes, out=out,
                    overrides={"server_target_qps": qps}, experiment=Experiment(max_in_flight=4),
                    log=lambda *_: None)
        dirs.append(out)
        print(f"worked comparison: {name}: {passes} passes captured", flush=True)
    doc = workflow.compare_systems(dirs, thresholds="0.5ms,1ms,2ms,p90,p99", seed=0)
    fig = overlay_figure(doc)
    png = os.path.join(HERE, "remote-systems-overlay.png")
    fig.savefig(png)
    return doc, passes, qps, png


def _comparison_text(doc):
    names = doc["names"]
    rows = []
    for r in doc["thresholds"]:
        for j, s in enumerate(r["systems"]):
            st = s["stats"]
            v = r["versus"][j - 1] if j else None
            fmt = lambda d: f"{d['estimate'] * 100:+.2f} [{d['low'] * 100:+.2f}, {d['high'] * 100:+.2f}]"
            rows.append((r["label"] if j == 0 else "", s["name"], f"{s['theta_ns'] / 1e6:.3f}",
                         f"{st['min'] * 100:.2f}", f"{st['mean'] * 100:.2f}", f"{st['max'] * 100:.2f}",
                         f"{st['expected_worst'] * 100:.2f}", fmt(v["mean"]) if v else "",
                         fmt(v["worst"]) if v else ""))
    text = table(("θ", "system", "θ ms", "min %", "mean %", "max %",
                  f"worst of {doc['worst_of']} %", f"Δmean pp vs {names[0]}",
                  f"Δworst pp vs {names[0]}"), rows)
    text += "\n\n" + "\n".join(f"- {v['sentence']}" for r in doc["thresholds"] for v in r["versus"])
    diffs = [(d["key"],) + tuple(f"`{v}`" for v in d["values"]) for d in doc["differences"]]
    text += "\n\nWhat differs in the system descriptions:\n\n" + table(("key",) + tuple(names), diffs)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from tailq_loadgen.harnesses import digits

    model = digits.onnx_model_path()
    with tempfile.TemporaryDirectory() as tmp, workflow.MLServerProcess(
            [{"name": "digits", "uri": model, "extra": {"model_threads": SERVER_THREADS}}],
            workdir=os.path.join(tmp, "mlserver")) as server:
        srv = remote_harness(_digits(), server.url("grpc")).backend.server
        mlserver_version = f"{srv.get('name')} {srv.get('version')}"
        rows = throughput(server, args.quick, args.repeats, tmp)
        share_rows = shares(server, args.quick, args.repeats, tmp)
        doc, passes, qps, png = worked_comparison(server, args.quick, tmp)
    body = (
        f"Machine: {machine_line()}; other engineers' work shared its 2 cores, so absolute "
        f"figures are noisy — read the ratios. Model: the digits CNN on ONNX Runtime (1 intra-op "
        f"thread), in-process vs served by {mlserver_version} on 127.0.0.1 "
        f"(`tailq_loadgen.harnesses.mlserver_runtime`, {SERVER_THREADS} model threads, "
        f"parallel_workers 0). Median of {args.repeats} runs{' (--quick)' if args.quick else ''}; "
        f"throughput is LoadGen's own figure (Offline: samples/s, batches of 32; Server at a "
        f"{SERVER_TARGET_QPS:,.0f}/s target, far above capacity: completed samples/s). ratio: "
        "to in-process with 1 in flight. Last column: the median share of a request's round trip on the client "
        "(`compute_ns`, submit to answer) that the server reports as its own compute "
        "(`server_compute_ns`).\n\n"
        + table(("scenario", "backend", "in flight", "throughput /s", "ratio",
                 "server compute / round trip"), rows)
        + f"\n\nShare of LoadGen's latency that the server reports, Server scenario at "
          f"{SHARE_QPS:g} queries/s (a load every setup sustains, so that latency is service "
          "rather than backlog; at the overload above, latency is mostly the schedule's "
          "backlog and the shares fall to ~0%): medians over samples.\n\n"
        + table(("backend", "in flight", "median latency ms", "server compute", "server queue",
                 "rest (network, serialisation, MLServer, client)", "compute / round trip"),
                share_rows)
        + "\n\nThe rest of a remote sample's latency is the network stack, (de)serialisation "
          "(JSON tensors over HTTP; protobuf over gRPC), MLServer's request handling and the "
          "client's own threads — on 2 shared cores all of it competes with the model for the "
          "CPU.\n\n"
        + "### Worked comparison: in-process vs MLServer (gRPC)\n\n"
        + f"`digits-onnx`, Server scenario at {qps:g} queries/s, {passes} AccuracyOnly passes "
          "each (every sample once per pass), 4 requests in flight; `tailq compare-systems` with "
          "common deadlines 0.5/1/2 ms and each system's own p90/p99; intervals are 95% "
          "bootstrap-t over passes; worst = expected worst of "
          f"{doc['worst_of']} passes.\n\n" + _comparison_text(doc)
        + "\n\n![overlay](remote-systems-overlay.png)\n")
    write_section("Remote backend (benchmarks/remote.py)", body)
    print(f"written to benchmarks/RESULTS.md; overlay {png}")


if __name__ == "__main__":
    main()
