"""Every scenario × mode: the record equals LoadGen's trace and reproduces its percentiles."""

import json
import os

import numpy as np
import pytest

from tailq_loadgen import load_run, records
from tailq_loadgen.capture import run_capture
from tailq_loadgen.tailquality import loadgen_percentile

from conftest import FAST, echo_harness, echo_output

SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]
MODES = ["PerformanceOnly", "AccuracyOnly", "SubmissionRun"]


def _detail(run_dir, index=0):
    return records.read_detail_log(os.path.join(records.loadgen_dir(run_dir, index),
                                                "mlperf_log_detail.txt"))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("mode", MODES)
def test_record_matches_loadgen(tmp_path, scenario, mode):
    out = str(tmp_path / "run")
    run_capture(echo_harness(40), scenario=scenario, mode=mode, out=out, overrides=FAST, log=lambda *_: None)
    run = load_run(out)
    assert run.complete and not run.partial_passes
    assert (run["status"] == "ok").all()

    trace = records.read_trace_samples(os.path.join(records.loadgen_dir(out, 0), "mlperf_log_trace.json"))
    order = np.argsort(trace["sample_seq"])
    # every issued sample is recorded once, joined on sample_seq, with LoadGen's own latency
    assert np.array_equal(np.sort(run["sample_seq"]), trace["sample_seq"][order])
    rec = np.argsort(run["sample_seq"])
    assert np.array_equal(run["latency_ns"][rec], trace["complete_ns"][order])
    assert np.array_equal(run["sample_index"][rec], trace["sample_idx"][order])
    assert np.array_equal(run["query_seq"][rec], trace["query_seq"][order])

    # outputs read back are what the backend returned for that sample
    np.testing.assert_array_equal(run.outputs(), echo_output(run["sample_index"]))

    detail = _detail(out)
    if mode != "AccuracyOnly":
        # LoadGen's percentiles come out of our record with LoadGen's percentile rule
        perf = run.performance_mask()
        if mode == "SubmissionRun":  # accuracy phase (each sample once) first, then performance
            assert not perf.all() and perf.sum() == len(run) - 40
        if scenario == "MultiStream":
            lat = run.query_latencies(perf)
            key = "result_{:.2f}_percentile_per_query_latency_ns"
        else:
            lat = run["latency_ns"][perf]
            key = "result_{:.2f}_percentile_latency_ns"
        for p in (0.5, 0.9, 0.99):
            assert int(loadgen_percentile(lat, p)) == detail[key.format(p * 100)], p
    if mode != "PerformanceOnly":
        # the accuracy part issues every sample exactly once; LoadGen's accuracy log agrees
        acc_rows = ~run.performance_mask()
        assert sorted(run["sample_index"][acc_rows].tolist()) == list(range(40))
        with open(os.path.join(records.loadgen_dir(out, 0), "mlperf_log_accuracy.json")) as f:
            acc = json.load(f)
        by_seq = {e["seq_id"]: e for e in acc}
        for seq, idx, raw in zip(run["sample_seq"][acc_rows], run["sample_index"][acc_rows],
                                 run["output"][acc_rows]):
            assert by_seq[seq]["qsl_idx"] == idx
            assert bytes.fromhex(by_seq[seq]["data"]) == raw

    meta = run.metadata
    assert meta["scenario"] == scenario
    assert meta["tests"][0]["effective_settings"]["scenario"] == scenario
    assert meta["settings"]["requested"]["mode"] == mode
