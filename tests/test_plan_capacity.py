"""Capacity at an SLO by LoadGen's FindPeakPerformance (`tailq profile --capacity-slo`), kept in
profile.json and used by the planner.

Kept tiny: one synthetic variant (sleep-based, 2 ms mean), one core, a loose SLO (50 ms) and
500-query inner tests — the search still runs ~10 Server tests (≈ 12 s). The bounds are not
statistical: the search starts at a lower bound that LoadGen confirmed (so the peak is above
it), and above 1.3 × the service rate the queue of a 500-query test grows by more than 60
jobs (> 120 ms of work), so no p99 there can meet 50 ms.
"""

import json
import os

from tailq_loadgen import harnesses, workflow
from tailq_loadgen.workflow import _plan, _profile_capacity


def test_capacity_is_measured_stored_and_planned_from(tmp_path):
    out = str(tmp_path / "prof")
    profiles = workflow.profile_from_flags(
        catalog=harnesses, harness="synth-exp-2ms", queries=200, count=100, out=out,
        capacity_slo="50ms", capacity_cores="1", log=lambda *a: None)
    (p,) = profiles
    (cap,) = p.capacity
    assert cap.cores == 1 and cap.slo_ns == 50_000_000 and cap.percentile == 0.99
    start = _profile_capacity.start_qps(p, 1, 0.05)
    assert start <= cap.qps <= 1.3 * 1e9 / p.mean_service_ns
    info = json.load(open(os.path.join(p.source, "profile.json")))
    assert info["capacity"] == [cap.as_dict()]
    doc = _plan.make_plan(profiles=[out], slo_s=0.05, qps=0.5 * cap.qps, cores=1, sim_jobs=2000)
    assert any("measured at [1] cores" in n for n in doc["plan"]["notes"])
    assert abs(doc["plan"]["choices"][0]["capacity_qps"] - 0.8 * cap.qps) < 1e-9 * cap.qps  # InfAdapter's headroom


def test_found_peak_reads_loadgen_messages(tmp_path):
    detail = tmp_path / "mlperf_log_detail.txt"
    rec = lambda v: ":::MLLOG " + json.dumps({"key": "generic_message", "value": v}) + "\n"  # noqa: E731
    detail.write_text("noise\n" + rec("FindPeakPerformance: Found boundaries: [1, 2)")
                      + rec("FindPeakPerformance: Found peak performance field: 149.902344"))
    assert _profile_capacity.found_peak(str(detail)) == (149.902344, False)
    detail.write_text(rec("FindPeakPerformance: Initial lower bound does not satisfy performance "
                          "constraints, msg: Reduce target QPS to improve latency."))
    assert _profile_capacity.found_peak(str(detail)) == (None, True)
