"""A real MLServer on 127.0.0.1 (its own process and virtual environment) serving the digits
CNN through ONNX Runtime; tailq drives it over V2 gRPC and HTTP in every scenario.

The server comes from ``.venv-mlserver`` (``make test`` creates it); without it these tests
are skipped with the reason, except under CI, where a missing server is a failure.
"""

import os
import threading

import numpy as np
import pytest

from tailq_loadgen import RunAborted, UserError, load_run, records
from tailq_loadgen.capture import Experiment, remote_harness, run_capture
from tailq_loadgen.workflow import MLServerProcess, find_mlserver, free_port

from conftest import run_tailq

COUNT = 96  # dataset items per run: every scenario in a few seconds
FAST = {"min_duration_ms": 0, "min_query_count": 64, "max_query_count": 64,
        "single_stream_expected_latency_ns": 1000000, "multi_stream_expected_latency_ns": 4000000,
        "server_target_qps": 400.0, "offline_expected_qps": 400.0}
QUIET = dict(log=lambda *_: None)
SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]

if find_mlserver() is None:
    reason = "MLServer not installed: `make mlserver` creates .venv-mlserver"
    if os.environ.get("CI"):
        raise RuntimeError(reason)  # CI must run these against a real server
    pytestmark = pytest.mark.skip(reason=reason)


@pytest.fixture(scope="module")
def onnx_path():
    from tailq_loadgen.harnesses import digits

    return digits.onnx_model_path()


def _models(path):
    # one stalling model per protocol: each answers 40 requests, then never again
    return [{"name": "digits", "uri": path, "extra": {"model_threads": 2}},
            {"name": "digits-stall-grpc", "uri": path, "extra": {"stall_after": 40}},
            {"name": "digits-stall-http", "uri": path, "extra": {"stall_after": 40}}]


@pytest.fixture(scope="module")
def server(onnx_path, tmp_path_factory):
    with MLServerProcess(_models(onnx_path), workdir=str(tmp_path_factory.mktemp("mlserver"))) as s:
        yield s


def _digits():
    from tailq_loadgen import harnesses

    return harnesses.get_harness("digits-onnx")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """The same model in-process: the outputs a remote run must reproduce, by sample."""
    out = str(tmp_path_factory.mktemp("inproc") / "run")
    run_capture(_digits(), scenario="SingleStream", passes=1, count=COUNT, out=out, **QUIET)
    run = load_run(out)
    return run.outputs()[np.argsort(run["sample_index"])]


def _trace(out, index=0):
    return records.read_trace_samples(os.path.join(records.loadgen_dir(out, index),
                                                   "mlperf_log_trace.json"))


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_remote_run_equals_in_process_and_loadgen_trace(tmp_path, server, in_process, protocol,
                                                        scenario):
    out = str(tmp_path / "run")
    h = remote_harness(_digits(), server.url(protocol))
    run_capture(h, scenario=scenario, passes=1, count=COUNT, out=out, overrides=FAST,
                experiment=Experiment(max_in_flight=4), **QUIET)
    run = load_run(out)
    assert run.complete and (run["status"] == "ok").all()
    assert sorted(run["sample_index"].tolist()) == list(range(COUNT))
    # outputs equal the in-process backend's, sample by sample, to the bit
    order = np.argsort(run["sample_index"])
    np.testing.assert_array_equal(run.outputs()[order], in_process)
    # latency is LoadGen's: the trace's, joined on sample_seq
    trace = _trace(out)
    t_order, r_order = np.argsort(trace["sample_seq"]), np.argsort(run["sample_seq"])
    assert np.array_equal(run["latency_ns"][r_order], trace["complete_ns"][t_order])
    assert np.array_equal(run["sample_index"][r_order], trace["sample_idx"][t_order])
    # the server's own timing sits beside each sample, and fits inside the latency
    comp, queue = run["server_compute_ns"], run["server_queue_ns"]
    assert (comp > 0).all() and (queue >= 0).all()
    assert (comp + queue <= run["latency_ns"]).all()
    meta = run.metadata
    assert meta["backend"]["name"] == f"v2-{protocol}"
    assert meta["harness"]["remote"]["server"]["name"] == "mlserver"
    assert meta["dispatch"]["mode"] == "async"
    if scenario == "MultiStream":
        assert meta["dispatch"]["request_batch_size"] == 2  # 8 samples as 4 requests


def test_cli_remote_run_and_show(tmp_path, server):
    out = str(tmp_path / "run")
    r = run_tailq("run", "--harness", "digits-onnx", "--remote", server.url("http"),
                  "--scenario", "Offline", "--passes", "2", "--max-in-flight", "2", "--out", out)
    assert r.returncode == 0, r.stderr
    run = load_run(out)
    assert run.metadata["dispatch"]["max_in_flight"] == 2
    assert len(run) == 2 * 719 and (run["server_compute_ns"] > 0).all()
    show = run_tailq("show", out)
    assert show.returncode == 0 and "v2-http" in show.stdout


def test_refused_connection_is_bad_input(tmp_path):
    out = tmp_path / "run"
    url = f"v2+grpc://127.0.0.1:{free_port()}/digits"
    r = run_tailq("run", "--harness", "digits-onnx", "--remote", url, "--scenario", "Offline",
                  "--passes", "1", "--out", str(out))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no V2 inference server answers" in lines[0]
    assert not out.exists()  # nothing was started


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_wrong_model_name_is_bad_input(tmp_path, server, protocol):
    r = run_tailq("run", "--harness", "digits-onnx", "--remote", server.url(protocol, "nope"),
                  "--scenario", "Offline", "--passes", "1", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not serve model 'nope'" in lines[0], r.stderr


def test_tensors_of_the_wrong_type_or_shape_are_bad_input(tmp_path, server):
    # the sleep harness sends int64 sample indices; the served CNN takes FP32 images
    r = run_tailq("run", "--harness", "sleep", "--remote", server.url("grpc"), "--scenario",
                  "Offline", "--passes", "1", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "INT64 but model" in r.stderr
    flat = _digits()
    flat.dataset.images = flat.dataset.images.reshape(-1, 64)  # (N, 64) against (-1, 1, 8, 8)
    with pytest.raises(UserError, match=r"shape \[1, 64\].*takes \[-1, 1, 8, 8\]"):
        remote_harness(flat, server.url("http"))


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_stalled_server_is_ended_by_the_watchdog(tmp_path, server, protocol):
    out = str(tmp_path / "run")
    exp = tmp_path / "exp.yaml"
    exp.write_text("watchdog_timeout_s: 2.0\nwarmup_queries: 0\n")
    r = run_tailq("run", "--harness", "digits-onnx", "--remote",
                  server.url(protocol, f"digits-stall-{protocol}"), "--scenario", "Server", "--passes", "1",
                  "--count", "200", "--qps", "200", "--experiment", str(exp), "--out", out)
    assert r.returncode == 3, r.stderr
    assert "watchdog" in r.stderr.strip().splitlines()[-1]
    run = load_run(out)
    assert run.metadata["status"] == "aborted"
    # every issued sample completed exactly once; the answered ones are kept with outputs
    assert np.unique(run["sample_seq"]).size == len(run)
    ok = run["status"] == "ok"
    assert 20 <= ok.sum() <= 40 and (run["status"][~ok] != "error").all()
    assert all(len(b) == 40 for b in run["output"][ok])


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_server_that_dies_mid_run_ends_it_and_keeps_the_records(tmp_path, onnx_path, protocol):
    out = str(tmp_path / "run")
    with MLServerProcess(_models(onnx_path)[:1], workdir=str(tmp_path / "srv")) as s:
        h = remote_harness(_digits(), s.url(protocol))
        submit, answered = h.backend.submit, []

        def counting_submit(batch, done):  # the server is killed once 50 answers are in
            def counted(out, error, timing):
                done(out, error, timing)
                if error is None:
                    answered.append(1)
                    if len(answered) == 50:
                        threading.Thread(target=s.kill).start()
            submit(batch, counted)

        h.backend.submit = counting_submit
        with pytest.raises(RunAborted, match="remote backend failed") as aborted:
            run_capture(h, scenario="Server", passes=3, out=out,
                        overrides={"server_target_qps": 300.0},
                        experiment=Experiment(watchdog_timeout_s=20.0), **QUIET)
    assert aborted.value.exit_code == 3  # what the CLI exits with
    run = load_run(out)
    assert run.metadata["status"] == "aborted"
    assert "remote backend failed" in run.metadata["abort_reason"]
    assert np.unique(run["sample_seq"]).size == len(run)
    ok = run["status"] == "ok"
    assert ok.sum() >= 50  # the answers before the kill are kept
    assert set(run["status"][~ok]) <= {"error"}
    assert (run["server_compute_ns"][ok] > 0).all()
