"""LoadGen's verdict in full: VALID/INVALID with every reason it logged, the scenario's own
metric, early stopping — in show (text and --json), results.json, and full's report."""

import json

import pytest

from conftest import run_tailq
from tailq_loadgen import records

SLEEP = ["--harness", "sleep", "--harness-arg", "samples=30"]


@pytest.fixture(scope="module")
def invalid_run(tmp_path_factory):
    """A 50 ms expected latency for a ~1 ms system: LoadGen generates min_query_count (100)
    queries for a 1 s test, runs out of them in 0.1 s, and says INVALID."""
    base = tmp_path_factory.mktemp("invalid")
    conf = base / "user.conf"
    conf.write_text("sleep.SingleStream.target_latency = 50\n")
    out = base / "r"
    p = run_tailq("run", *SLEEP, "--scenario", "SingleStream", "--mode", "PerformanceOnly",
                  "--time", "1", "--user_conf", str(conf), "--out", str(out))
    assert p.returncode == 0, p.stderr
    return out


def test_invalid_reasons_in_show_text(invalid_run):
    text = run_tailq("show", str(invalid_run)).stdout
    line = next(l for l in text.splitlines() if "LoadGen: INVALID" in l)
    assert "min duration not met" in line and "ran out of the queries it had generated" in line
    assert "min queries" not in line and "early stopping not met" not in line  # both held
    assert "LoadGen error: Ending early: Ran out of generated queries" in line
    assert "*" not in line  # LoadGen's bullets are gone
    assert "LoadGen's advice: Decrease the expected latency" in text


def test_invalid_reasons_in_show_json_and_results_json(invalid_run):
    summary = json.loads(run_tailq("show", str(invalid_run), "--json").stdout)
    v = summary["passes"][0]["verdict"]
    assert v["validity"] == "INVALID"
    assert v["checks"] == {"min duration": False, "min queries": True, "early stopping": True}
    assert len(v["reasons"]) == 2 and v["reasons"][1].startswith("LoadGen error: Ending early")
    assert "expected latency" in v["fix"]
    doc = records.read_results(str(invalid_run / "loadgen" / "pass-00000"))
    assert doc["format"] == "tailq-loadgen-results" and doc["schema_version"] == 1
    assert doc["reasons"] == v["reasons"] and doc["pass"] == 0
    assert doc["effective_settings"]["scenario"] == "SingleStream"


@pytest.mark.parametrize("scenario,needle", [
    ("SingleStream", "SingleStream metric: 90th-percentile latency"),
    ("MultiStream", "MultiStream metric: 99th-percentile per-query latency"),
    ("Server", "Server metric: completed samples per second"),
    ("Offline", "Offline metric: samples per second"),
])
def test_each_scenario_shows_its_own_metric(tmp_path, scenario, needle):
    out = tmp_path / "r"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=40", "--harness-arg",
                  "base_ms=0.2", "--harness-arg", "per_unit_ms=0", "--scenario", scenario,
                  "--time", "0.5", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert needle in p.stdout, p.stdout
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["tests"][0]["verdict"]["metric"]["value"] > 0


def test_full_on_single_stream_reports_the_90th_percentile(tmp_path):
    out = tmp_path / "full"
    p = run_tailq("full", *SLEEP, "--scenario", "SingleStream", "--percentile", "99",
                  "--passes", "2", "--max-queries", "300", "--time", "0.1", "--mc", "100",
                  "--out", str(out), timeout=300)
    assert p.returncode == 0, p.stderr
    assert "MLPerf needs 270,336 queries at p99" in p.stderr
    assert "then a PerformanceOnly test for LoadGen's verdict ≈" in p.stderr  # announced first
    assert p.stderr.index("then a PerformanceOnly test") < p.stderr.index("pass 2 (PerformanceOnly)") \
        if "pass 2 (PerformanceOnly)" in p.stderr else True
    assert "SingleStream metric: 90th-percentile latency" in p.stdout
    meta = json.loads((out / "metadata.json").read_text())
    perf = meta["tests"][-1]
    assert perf["mode"] == "PerformanceOnly"
    assert perf["effective_settings"]["target_latency_percentile"] == pytest.approx(0.9)
    assert perf["effective_settings"]["max_duration_ms"] == 0  # runs to its query count
    assert perf["verdict"]["metric"]["name"] == "90th-percentile latency"


def test_verdict_of_a_server_test_over_its_latency_bound():
    result = {"effective_scenario": "Server", "effective_test_mode": "PerformanceOnly",
              "result_validity": "INVALID", "result_perf_constraints_met": False,
              "result_min_duration_met": True, "result_min_queries_met": True,
              "early_stopping_met": False,
              "early_stopping_result": " * Run unsuccessful.\n * Processed 500 queries.\n",
              "result_invalid_reason": "Reduce target QPS to improve latency. ",
              "effective_target_latency_percentile": 0.99, "result_query_count": 500,
              "result_completed_samples_per_sec": 480.5,
              "percentile_latency_ns": {"99.00": 30_000_000}}
    v = records.verdict(result, {"target_latency_ns": 10_000_000, "min_duration_ms": 1000,
                                 "min_query_count": 100})
    assert v["checks"]["latency bound"] is False
    assert v["reasons"][0].startswith("latency bound not met: the 99th-percentile latency "
                                      "30.000 ms is over the target 10.000 ms")
    assert v["reasons"][1] == "early stopping not met: Run unsuccessful; Processed 500 queries"
    assert "lower the Server target QPS" in v["fix"]
    assert records.format_metric(v["metric"]).startswith("completed samples per second 480.5")


def test_accuracy_passes_have_no_verdict():
    v = records.verdict({"effective_scenario": "Offline", "effective_test_mode": "AccuracyOnly",
                         "percentile_latency_ns": {}}, {})
    assert v["validity"] is None and records.format_verdict(v) is None
