"""MLPerf's compliance tests through the plugin: a correct harness passes, a cheat fails.

Timing: the harnesses take a fixed 40 ms per sample (tests/fixtures/cheating_harness.py),
so the run-to-run noise of the scores (a few percent on a shared machine) stays far inside
the 20% margin; a cheat is 1,000× off. Each audit is about 15 s of LoadGen.
"""

import json
import os
import sys

import pytest

from conftest import REPO, run_tailq
from tailq_loadgen import workflow

sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
import cheating_harness  # noqa: E402

QUIET = dict(log=lambda *_: None)
# ≥ 3 s and ≥ 64 queries (early stopping's minimum at p90): ~70 queries of ~45 ms
SHORT = {"min_duration_ms": 3000, "min_query_count": 64}


def _audit(test, harness, tmp_path):
    return workflow.run_audit(test, harness, scenario="SingleStream", out=str(tmp_path / test),
                              overrides=SHORT, **QUIET)


@pytest.mark.slow
def test_test04_passes_a_correct_harness_and_catches_one_that_caches(tmp_path):
    doc = _audit("TEST04", cheating_harness.make_honest(), tmp_path / "honest")
    assert doc["audit_config_found"] and doc["applicable"], doc
    assert doc["passed"], doc["checks"]
    perf = doc["checks"][0]["details"]
    assert abs(perf["test_score"] / perf["reference_score"] - 1) < 0.2
    cheat = _audit("TEST04", cheating_harness.make_caching(), tmp_path / "cheat")
    assert not cheat["passed"]
    perf = cheat["checks"][0]
    assert perf["details"]["test_score"] > 10 * perf["details"]["reference_score"]
    assert "answers look cached" in perf["lines"][-1]
    # MLPerf's layout: what its verification script prints, beside the runs
    text = (tmp_path / "cheat" / "TEST04" / "verify_performance.txt").read_text()
    assert text.startswith("Verifying performance.") and "TEST FAIL" in text


@pytest.mark.slow
def test_test01_passes_a_correct_harness_and_catches_one_that_skips_work(tmp_path):
    doc = _audit("TEST01", cheating_harness.make_honest(), tmp_path / "honest")
    assert doc["passed"], doc["checks"]
    acc = doc["checks"][0]
    assert acc["name"] == "accuracy" and acc["details"]["qsl_idx_matched"] > 50
    assert acc["details"]["data_mismatches"] == 0
    cheat = _audit("TEST01", cheating_harness.make_lazy(), tmp_path / "lazy")
    assert not cheat["passed"]
    acc = cheat["checks"][0]
    assert acc["details"]["data_mismatches"] > 0 and "differ from the accuracy run" in acc["lines"][-1]
    saved = json.loads((tmp_path / "lazy" / "TEST01" / "audit.json").read_text())
    assert saved["format"] == "tailq-audit" and saved["schema_version"] == 1 and not saved["passed"]


def test_audit_cli_exit_codes_and_test06(tmp_path):
    p = run_tailq("audit", "TEST06", "--harness", "sleep", "--scenario", "SingleStream",
                  "--out", str(tmp_path / "a"))
    assert p.returncode == 2 and "LLM" in p.stderr and p.stderr.count("\n") == 1
    p = run_tailq("audit", "TEST09", "--harness", "sleep", "--scenario", "SingleStream",
                  "--out", str(tmp_path / "b"))
    assert p.returncode == 2 and "TEST01" in p.stderr


@pytest.mark.slow
def test_audit_cli_fails_with_exit_1_on_a_cheat(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "tests", "fixtures"))
    conf = tmp_path / "user.conf"
    conf.write_text("sleep.SingleStream.min_duration = 3000\nsleep.SingleStream.min_query_count = 64\n")
    p = run_tailq("audit", "TEST04", "--harness", "cheating_harness:make_caching",
                  "--scenario", "SingleStream", "--user_conf", str(conf), "--out", str(tmp_path / "c"),
                  env=env, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "TEST04 on sleep" in p.stdout and "FAIL" in p.stdout and "answers look cached" in p.stdout
    assert "invalid" not in p.stdout  # both runs VALID: it fails for the cache alone


def test_a_stray_audit_config_in_the_working_directory_is_never_read(tmp_path):
    """LoadGen's binding defaults to reading ./audit.config; tailq passes the path only when
    --audit_conf is given (loadgen-facts §6)."""
    (tmp_path / "audit.config").write_text("*.*.min_query_count = 321\n*.*.mode = 2\n")
    out = tmp_path / "r"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                  "SingleStream", "--passes", "1", "--out", str(out), cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    test = json.loads((out / "metadata.json").read_text())["tests"][0]
    assert test["effective_settings"]["test_mode"] == "AccuracyOnly"  # not the stray mode = 2
    assert test["effective_settings"]["min_query_count"] != 321
    assert not any("audit" in w.lower() for w in test["verdict"]["warnings"])
    # with --audit_conf it is read, and show says so
    out2 = tmp_path / "r2"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                  "SingleStream", "--accuracy", "--time", "0.2", "--audit_conf",
                  str(tmp_path / "audit.config"), "--out", str(out2), cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    test = json.loads((out2 / "metadata.json").read_text())["tests"][0]
    assert test["effective_settings"]["test_mode"] == "PerformanceOnly"  # the audit's mode = 2
    assert test["mode"] == "PerformanceOnly" and test["requested_mode"] == "AccuracyOnly"
    assert test["effective_settings"]["min_query_count"] == 321
    assert "audit config" in " ".join(test["verdict"]["warnings"]).lower()
    assert "was applied by LoadGen" in run_tailq("show", str(out2)).stdout
