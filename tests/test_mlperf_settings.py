"""LoadGen settings as MLPerf users expect them: the order of the config files, targets
measured at start, the reference harness's flags, and user.conf keys that do nothing."""

import json
import os
import subprocess
import sys

import mlperf_loadgen as lg
import pytest

from conftest import REPO, echo_harness, run_tailq
from tailq_loadgen.capture import SessionSettings, build_test_settings, cli_overrides, run_capture
from tailq_loadgen.capture._calibrate import TEST_OVERHEAD_S, estimate_test, measured_targets
from tailq_loadgen.capture._conffile import mlperf_conf_only_values, parse_conf, unmatched_keys
from tailq_loadgen.capture._settings import snapshot

QUIET = dict(log=lambda *_: None)
MLPERF_CONF = os.path.join(REPO, "mlperf_configs", "mlperf.conf")
USER_CONF = os.path.join(REPO, "mlperf_configs", "user.conf")
SLEEP = ["--harness", "sleep", "--harness-arg", "samples=30"]


@pytest.mark.parametrize("model", ["digits-cnn", "resnet50", "bert", "llama2-70b"])
@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_shipped_mlperf_conf_is_loadgens_builtin_copy(model, scenario):
    """mlperf_configs/mlperf.conf, applied alone to fresh settings, gives exactly what
    LoadGen's built-in copy gives (seeds included, which FromConfig reads from the built-in
    copy only and tailq applies itself)."""
    builtin = lg.TestSettings()
    assert builtin.FromConfig("", model, scenario, 0) == 0
    ours = lg.TestSettings()
    assert ours.FromConfig(MLPERF_CONF, model, scenario, 2) == 0
    for attr, value in mlperf_conf_only_values(parse_conf(MLPERF_CONF, "f"), model, scenario).items():
        setattr(ours, attr, value)
    assert snapshot(ours) == snapshot(builtin)


def test_order_builtin_then_measured_then_user_conf_then_flags(tmp_path):
    """loadgen-facts §6: only the first conf_type=1 FromConfig per process merges the built-in
    mlperf.conf. tailq never uses conf_type=1, so every build — first or fifth in a process —
    keeps the official seeds and the 600 s minimum, and the later sources win in order."""
    conf = tmp_path / "user.conf"
    conf.write_text("m.Server.target_qps = 123\nm.Server.min_query_count = 77\n")
    builtin = lg.TestSettings()
    builtin.FromConfig("", "m", "Server", 0)
    for _ in range(3):
        ts, sources = build_test_settings(
            model="m", scenario="Server", mode="PerformanceOnly", user_conf=str(conf),
            measured={"server_target_qps": 999.0, "server_target_latency_ns": 5_000_000},
            overrides={"min_query_count": 88})
        assert ts.qsl_rng_seed == builtin.qsl_rng_seed != 0
        assert ts.schedule_rng_seed == builtin.schedule_rng_seed
        assert ts.min_duration_ms == 600000                   # mlperf.conf
        assert ts.server_target_qps == 123                    # user.conf beats measured
        assert ts.server_target_latency_ns == 5_000_000       # measured beats mlperf.conf's 10 ms
        assert ts.min_query_count == 88                       # flags beat user.conf
    assert [s.split()[0] for s in sources] == ["loadgen", "targets", "user.conf", "command-line"]


def test_a_fresh_process_keeps_the_builtin_mlperf_conf_and_logs_no_config_error(tmp_path):
    """In a new process (first FromConfig of its life) the capture logs no "Multiple conf
    files" error — LoadGen logs one on a second conf_type=1 call — and the effective seeds
    are mlperf.conf's."""
    out = tmp_path / "r"
    p = run_tailq("run", *SLEEP, "--scenario", "SingleStream", "--mode", "PerformanceOnly",
                  "--time", "0.3", "--out", str(out))
    assert p.returncode == 0, p.stderr
    detail = (out / "loadgen" / "pass-00000" / "mlperf_log_detail.txt").read_text()
    assert "error_invalid_config" not in detail
    eff = json.loads((out / "metadata.json").read_text())["tests"][0]["effective_settings"]
    assert eff["qsl_rng_seed"] == 2085463073848966840


def test_mlperf_conf_flag_applies_its_keys_and_its_seeds(tmp_path):
    conf = tmp_path / "mlperf.conf"
    conf.write_text("*.*.qsl_rng_seed = 42\n*.SingleStream.min_duration = 1234\n"
                    "*.SingleStream.target_latency_percentile = 95\n")
    ts, sources = build_test_settings(model="x", scenario="SingleStream", mode="PerformanceOnly",
                                      mlperf_conf=str(conf))
    assert ts.qsl_rng_seed == 42 and ts.min_duration_ms == 1234
    assert ts.single_stream_target_latency_percentile == pytest.approx(0.95)
    assert ts.sample_index_rng_seed != 0  # the built-in copy's, untouched by the file
    assert sources[1].startswith("mlperf.conf ")


def test_targets_measured_at_start_make_a_default_run_valid(tmp_path):
    """No user.conf, no --qps: mlperf.conf's placeholder (10 ms) would make LoadGen run out
    of queries; the warm-up's timing sets the target and LoadGen says VALID."""
    out = str(tmp_path / "r")
    run_capture(echo_harness(30), scenario="SingleStream", mode="PerformanceOnly", out=out,
                overrides={"min_duration_ms": 300, "max_duration_ms": 300}, **QUIET)
    meta = json.load(open(os.path.join(out, "metadata.json")))
    measured = meta["settings"]["measured"]["single_stream_expected_latency_ns"]
    assert measured < 1_000_000  # the echo backend answers in µs, not 10 ms
    assert meta["settings"]["requested"]["single_stream_expected_latency_ns"] == measured
    v = meta["tests"][0]["verdict"]
    assert v["validity"] == "VALID", v["reasons"]


def test_measured_targets_per_scenario():
    warm = {"median_ms": 0.5, "batch_size": 1, "queries": 32}
    assert measured_targets("SingleStream", warm) == {"single_stream_expected_latency_ns": 515000}
    assert measured_targets("MultiStream", dict(warm, batch_size=8)) == {
        "multi_stream_expected_latency_ns": 515000}
    qps = measured_targets("Server", warm)["server_target_qps"]
    assert qps == pytest.approx(0.3 * 1e9 / (500_000 + 250_000), rel=1e-2)
    assert measured_targets("Server", warm, workers=2)["server_target_qps"] == pytest.approx(2 * qps, rel=1e-2)
    assert measured_targets("Offline", dict(warm, batch_size=32)) == {"offline_expected_qps": 64000.0}
    assert measured_targets("Offline", {"queries": 0}) == {}


def test_duration_estimate_before_a_test():
    s = {"min_duration_ms": 600000, "max_duration_ms": 0, "min_query_count": 100,
         "max_query_count": 0, "single_stream_expected_latency_ns": 1_000_000,
         "server_target_qps": 100.0, "offline_expected_qps": 1000.0}
    warm = {"median_ms": 1.0, "batch_size": 1}
    plan = estimate_test("SingleStream", "PerformanceOnly", s, samples=50, warmup=warm)
    assert plan["seconds"] == 600 and "min_duration" in plan["why"]
    plan = estimate_test("Server", "AccuracyOnly", s, samples=500)
    assert plan["seconds"] == pytest.approx(5 + TEST_OVERHEAD_S) and plan["samples"] == 500
    # after a first pass, its measured pace (LoadGen included) replaces the warm-up's timing
    plan = estimate_test("SingleStream", "AccuracyOnly", s, samples=500, warmup=warm, pace_s=0.004)
    assert plan["seconds"] == pytest.approx(2 + TEST_OVERHEAD_S) and "pace" in plan["why"]
    plan = estimate_test("SingleStream", "PerformanceOnly", dict(s, max_duration_ms=30000),
                         samples=50, warmup=warm)
    assert plan["seconds"] == 30 and "max_duration" in plan["why"]


def test_reference_harness_flag_semantics():
    o = cli_overrides(time_s=30, qps=50, count=100, samples_per_query=4, max_latency_s=0.05,
                      performance_sample_count=64)
    assert o["min_duration_ms"] == o["max_duration_ms"] == 30000
    assert o["server_target_qps"] == o["offline_expected_qps"] == 50.0
    assert o["min_query_count"] == o["max_query_count"] == 100       # --count, as the reference
    assert o["multi_stream_samples_per_query"] == 4
    assert o["server_target_latency_ns"] == o["multi_stream_expected_latency_ns"] == 50_000_000
    assert o["performance_sample_count_override"] == 64
    assert cli_overrides(count=100, max_queries=7)["min_query_count"] == 7  # --max-queries wins


@pytest.mark.parametrize("args,needle", [
    (["--time", "nan"], "--time"), (["--qps", "inf"], "--qps"),
    (["--samples-per-query", "0"], "--samples-per-query"), (["--max-latency", "-1"], "--max-latency"),
    (["--threads", "0"], "--threads"), (["--max-batchsize", "0"], "--max-batchsize"),
    (["--find-peak-performance"], "Server scenario only"),
    (["--accuracy", "--mode", "PerformanceOnly"], "give one"),
])
def test_bad_reference_flags_are_one_line_errors(tmp_path, args, needle):
    p = run_tailq("run", *SLEEP, "--scenario", "SingleStream", *args, "--out", str(tmp_path / "r"))
    assert p.returncode == 2 and needle in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "r").exists()


def test_accuracy_flag_and_count_as_the_reference_harness(tmp_path):
    out = tmp_path / "r"
    p = run_tailq("run", *SLEEP, "--scenario", "Offline", "--accuracy", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "metadata.json").read_text())["tests"][0]["mode"] == "AccuracyOnly"


def test_mismatched_user_conf_keys_are_named(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text("# my settings\n"
                    "digits-torch.SingleStream.min_duration = 1000\n"   # harness name, not model
                    "digits-cnn.Singlestream.min_duration = 1000\n"     # no such scenario
                    "digits-cnn.SingleStream.min_durations = 1000\n"    # no such key
                    "digits-cnn.SingleStream.qsl_rng_seed = 7\n"        # mlperf.conf only
                    "digits-cnn.Server.target_qps = 500\n"              # fine: another scenario
                    "resnet50.Offline.target_qps = 9\n")                # fine: file serves many
    lines = unmatched_keys(parse_conf(str(conf), "--user_conf"), model="digits-cnn",
                           harness_name="digits-torch", path=str(conf))
    assert len(lines) == 4, lines
    assert ":2: digits-torch.SingleStream.min_duration" in lines[0] and "'digits-cnn'" in lines[0]
    assert "no scenario is called 'Singlestream'" in lines[1]
    assert "knows no key 'min_durations'" in lines[2]
    assert "mlperf.conf only" in lines[3]
    other = tmp_path / "other.conf"
    other.write_text("resnet50.Offline.target_qps = 9\n")  # addresses no key of this model
    lines = unmatched_keys(parse_conf(str(other), "--user_conf"), model="digits-cnn", path="o")
    assert len(lines) == 1 and "matches no model of this run" in lines[0]


def test_a_mismatched_key_warns_in_a_run_and_in_show(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text("slep.Offline.min_duration = 1000\n*.Offline.min_query_count = 1\n")
    out = tmp_path / "r"
    p = run_tailq("run", *SLEEP, "--scenario", "Offline", "--passes", "1", "--user_conf",
                  str(conf), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "warning: --user_conf" in p.stderr and ":1: slep.Offline.min_duration" in p.stderr
    assert ":2:" not in p.stderr
    show = run_tailq("show", str(out)).stdout
    assert "slep.Offline.min_duration" in show and "model      sleep" in show


def test_a_malformed_user_conf_line_is_named(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text("sleep.Offline.target_qps = 500 # fast\n")
    p = run_tailq("run", *SLEEP, "--scenario", "Offline", "--user_conf", str(conf),
                  "--out", str(tmp_path / "r"))
    assert p.returncode == 2 and "user.conf:1" in p.stderr and "comment after the value" in p.stderr
    assert p.stderr.count("\n") == 1


def test_project_user_conf_is_the_default_and_sets_only_latency_bounds():
    entries = parse_conf(USER_CONF, "--user_conf")
    assert {e.key for e in entries} == {"target_latency"} and {e.scenario for e in entries} == {"Server"}
    p = subprocess.run([sys.executable, "-m", "tailq_loadgen.cli", "run", "--help"],
                       capture_output=True, text=True)
    assert "mlperf_configs/user.conf" in p.stdout.replace("\n", "").replace(" ", "")
    s = SessionSettings(model="digits-cnn", scenario="Server", user_conf=USER_CONF,
                        harness_name="digits-torch")
    assert s.warnings == [] and s.requested["server_target_latency_ns"] == 10_000_000


def test_harness_listing_names_the_model_and_whether_it_is_installed():
    from tailq_loadgen.harnesses import REGISTRY, HarnessSpec

    assert REGISTRY["digits-onnx"].model_name == "digits-cnn"
    assert REGISTRY["docstrings-torch"].model_name == "minilm-l6-v2"
    ready = HarnessSpec("x", "t", "python", "accuracy", 1, "onnx", "m:f", ("json",))
    assert ready.line().endswith("ready") and "needs" not in ready.line()
    missing = HarnessSpec("x", "t", "python", "accuracy", 1, "onnx", "m:f", ("no_such_module_xyz",))
    assert "needs tailq-loadgen[onnx] (no_such_module_xyz is not installed)" in missing.line()
    from tailq_loadgen.harnesses import get_harness

    assert get_harness("sleep").model == REGISTRY["sleep"].model_name
    assert get_harness("digits-torch").model == REGISTRY["digits-torch"].model_name
