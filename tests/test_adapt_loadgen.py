"""`tailq adapt` on the real pool: three short LoadGen Server segments (synthetic family, ≈ 2 s
each) in one session, each at its own target QPS, served only by its plan's variants and
active servers in its plan's shares, and read back by `tailq show`.

Statistical bound: a segment's measured arrival rate is (n − 1) over the span S of n Poisson
issue times, and λS ~ Gamma(n − 1, 1) exactly, so measured/offered lies between (n − 1) over
that law's 1 − 1e-9 and 1e-9 quantiles (widened by 2% for LoadGen's late issuing on a shared
machine) but for a correct run with probability 2e-9 (calibrated in tests/test_adapt.py).
The split is smooth weighted round-robin, deterministic: every variant's count is within 2
queries of share × n (routing/_split.py), so that is checked exactly."""

import json
import os

import numpy as np
import pytest

from scipy import stats

from tailq_loadgen import harnesses, records, workflow
from tailq_loadgen.workflow import _adapt

from conftest import run_tailq


def rate_bounds(n, tail=1e-9, slack=0.02):
    """The interval measured/offered rate falls outside with probability 2·tail (exact for
    Poisson arrivals), widened by ``slack``."""
    lo, hi = stats.gamma.ppf([tail, 1 - tail], n - 1)
    return (n - 1) / hi * (1 - slack), (n - 1) / lo * (1 + slack)


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    base = tmp_path_factory.mktemp("adapt-loadgen")
    profiles = str(base / "profiles")
    workflow.profile_family("synthetic", catalog=harnesses, out=profiles, count=100, queries=300,
                            log=lambda *a: None)
    out = str(base / "run")
    res = run_tailq("adapt", "--profiles", profiles, "--pattern", "fluctuating", "--slo", "50ms",
                    "--cores", "2", "--segments", "3", "--segment-s", "2", "--peak-qps", "400",
                    "--predictor", "reactive", "--stabilisation", "0",
                    "--out", out, timeout=300)
    assert res.returncode == 0, res.stderr
    return out, res.stdout, json.load(open(os.path.join(out, "adapt.json")))


def test_each_segment_is_its_own_server_test_at_its_load(adapted):
    out, _, doc = adapted
    run = records.load_run(out)
    tests = run.metadata["tests"]
    assert doc["complete"] and len(doc["segments"]) == 3 == len(tests)
    assert doc["dataset_items"] == run.metadata["sample_count"] == 100  # the profiles' items
    for seg, test in zip(doc["segments"], tests):
        assert test["mode"] == "PerformanceOnly" and test["complete"]
        assert test["overrides"]["server_target_qps"] == pytest.approx(seg["offered_qps"])
        assert test["overrides"]["server_target_latency_ns"] == 50_000_000
        assert seg["queries"] == test["samples"] == max(20, round(seg["offered_qps"] * 2))
        lo, hi = rate_bounds(seg["queries"])
        assert lo <= seg["measured_qps"] / seg["offered_qps"] <= hi


def test_segments_run_their_plans_on_the_one_pool(adapted):
    out, _, doc = adapted
    run = records.load_run(out)
    assert run.metadata["pool"]["servers"] == 2 * 3  # every variant at the whole budget
    for seg in doc["segments"]:
        d = seg["decision"]
        sel = np.flatnonzero(run["pass"] == seg["pass"])
        served = run["variant"][sel].astype(str)
        server = run["server"][sel]
        assert set(served) <= set(d["variants"])
        for v in d["variants"]:
            mine = served == v
            assert abs(mine.sum() - d["shares"][v] * sel.size) <= 2
            assert server[mine].max(initial=0) < d["cores"][v]  # only the active servers
    # the planner saw the measured rates, through the reactive predictor (+10%), re-planning
    # every segment (stabilisation 0)
    measured = [s["measured_qps"] for s in doc["segments"]]
    for i, seg in enumerate(doc["segments"][1:], start=1):
        assert seg["predicted_qps"] == pytest.approx(1.1 * measured[i - 1])
        assert seg["replanned"]


def test_prints_the_table_and_show_reads_it(adapted):
    out, stdout, doc = adapted
    assert "overall: TQ" in stdout and stdout.count("  seg ") == 3
    res = run_tailq("show", out)
    assert res.returncode == 0, res.stderr
    assert "adaptation:" in res.stdout and "overall: TQ" in res.stdout
    o = doc["overall"]
    assert 0 <= o["tail_quality"] <= o["accuracy"] <= 1
    assert o["average_cores"] == pytest.approx(np.mean([s["cores"] for s in doc["segments"]]))
    assert _adapt.load_adapt(out)["overall"] == o
