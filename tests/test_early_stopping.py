"""Early stopping recomputed from our records equals what LoadGen itself logged."""

import numpy as np
import pytest

from tailq_loadgen import load_run
from tailq_loadgen.capture import run_capture
from tailq_loadgen.tailquality import early_stopping, min_passing

from conftest import echo_harness

QUIET = dict(log=lambda *_: None)


def test_documented_minimums():
    assert min_passing(1, 0.90) + 1 == 64
    assert min_passing(1, 0.99) + 1 == 662
    assert min_passing(0, 0.99) == 459


def _capture(tmp_path, scenario, queries, extra):
    over = {"min_duration_ms": 0, "max_duration_ms": 0, "min_query_count": queries,
            "max_query_count": queries, "server_target_qps": 3000.0, **extra}
    out = str(tmp_path / f"{scenario}-{queries}")
    run_capture(echo_harness(64), scenario=scenario, mode="PerformanceOnly", out=out,
                overrides=over, **QUIET)
    run = load_run(out)
    return run, run.metadata["tests"][0]["loadgen_result"]


@pytest.mark.parametrize("pct,queries", [(0.9, 63), (0.9, 64), (0.9, 65), (0.9, 250),
                                         (0.99, 661), (0.99, 662), (0.99, 900)])
def test_single_stream_parity(tmp_path, pct, queries):
    run, lg = _capture(tmp_path, "SingleStream", queries,
                       {"single_stream_target_latency_percentile": pct})
    ours = early_stopping(run["latency_ns"], "SingleStream", pct)
    assert ours.queries == lg["result_query_count"] == queries
    assert ours.met == lg["early_stopping_met"]
    if ours.met:
        assert ours.estimate_ns == lg["early_stopping_latency_ss"]


@pytest.mark.parametrize("queries", [661, 662, 800])
def test_multi_stream_parity(tmp_path, queries):
    run, lg = _capture(tmp_path, "MultiStream", queries, {})
    ours = early_stopping(run.query_latencies(), "MultiStream", 0.99)
    assert ours.met == lg["early_stopping_met"]
    if ours.met:
        assert ours.estimate_ns == lg["early_stopping_latency_ms"]


@pytest.mark.parametrize("queries", [300, 459, 460, 700, 1500])
def test_server_parity(tmp_path, queries):
    target = 40_000  # ns: tight enough that some queries are over it
    run, lg = _capture(tmp_path, "Server", queries, {"server_target_latency_ns": target})
    ours = early_stopping(run["latency_ns"], "Server", 0.99, target_latency_ns=target)
    assert ours.met == lg["early_stopping_met"], (ours, lg.get("early_stopping_result"))
    if not ours.met:
        assert f"at least {ours.more_queries_needed} more" in lg["early_stopping_result"]
