"""Estimate, full, compare and report from the CLI on the sleep harness (known latencies)."""

import json
import os

import pytest

from conftest import run_tailq
from tailq_loadgen.report._html import _compare_table as compare_table_html

SLEEP = ["--harness", "sleep", "--harness-arg", "samples=100", "--scenario", "SingleStream"]
THR = ["--thresholds", "p90,p95,p99"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    est, full = base / "est", base / "full"
    p = run_tailq("estimate", *SLEEP, *THR, "--max-passes", "15", "--out", str(est), timeout=600)
    assert p.returncode == 0, p.stderr
    assert "real inferences" in p.stdout and ("converged" in p.stdout)
    assert "self-checks:" in p.stdout and "in-sample:" in p.stdout
    p = run_tailq("full", *SLEEP, *THR, "--passes", "200", "--max-queries", "600", "--time", "0.5",
                  "--out", str(full), timeout=600)
    assert p.returncode == 0, p.stderr
    return base, est, full


@pytest.mark.slow
def test_estimate_full_compare_report(pair):
    # Real LoadGen timing cannot be seeded, so this test asserts what holds whatever the
    # latencies did: the checks are there, computed and self-consistent. Their calibration
    # (a perfect prediction passes each at its nominal rate) is tested on seeded simulations
    # (test_compare_checks.py) — asserting a 95% check here made `make test` red by chance.
    base, est, full = pair
    p = run_tailq("compare", str(est), str(full), "--fail-if", "ratio<10")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((est / "compare.json").read_text())
    assert doc["format"] == "tailq-compare" and doc["schema_version"] == 2
    assert doc["passes"]["full"] == 200 and doc["level"] == 0.95
    for row in doc["thresholds"]:
        assert row["ratio"] >= 10
        lo, hi = row["worst_interval"]
        assert lo <= hi and row["worst_level"] >= 0.95 and row["worst_runs"] == 200
        assert row["worst_inside"] == (lo <= row["observed"]["min"] <= hi)
        assert 0 <= row["noise_floor_median"] <= row["noise_floor_p95"] <= 1
        assert row["match"] == ("within τ" if row["jsd"] <= doc["tau"] else
                                "within noise floor" if row["jsd"] <= row["noise_floor_p95"] else "no")
        assert row["mean_within"] == (abs(row["mean_z"]) <= row["mean_bound"])
        assert row["mean_se_combined"] > 0 and row["mean_se_parts"]["estimate"] > 0
        assert 0 <= row["split_jsd"] <= 1 and row["reproduces"] in (True, False)
    assert doc["loadgen"]["performance_tests"][0]["query_count"] > 0
    # LoadGen's verdict is printed with its reasons: never a bare INVALID beside
    # "early stopping met" (this run is short on purpose, so LoadGen may well call it INVALID)
    lg_lines = [line for line in p.stdout.splitlines() if line.startswith("LoadGen (full run")]
    assert len(lg_lines) == len(doc["loadgen"]["performance_tests"])
    for v, line in zip(doc["loadgen"]["performance_tests"], lg_lines):
        assert line.startswith(f"LoadGen (full run, performance test): {v['verdict']}; early stopping")
        if v["validity"] != "VALID":
            assert v["reasons"] and v["verdict"] == "INVALID: " + "; ".join(v["reasons"])
    assert set(doc["drift"]) == {"estimate", "full"} and "message" in doc["drift"]["full"]
    drift_warnings = [f"the {side} run drifts: {d['message']}"
                      for side, d in doc["drift"].items() if d["drifting"]]
    assert all(w in doc["warnings"] for w in drift_warnings)
    assert {"in_sample", "holdout", "drift"} <= set(doc["estimate_self_checks"])
    # the comparison's warnings (a drifting side, a forced comparison) are in the report too
    drifting = dict(doc, warnings=["the full run drifts: blocks differ"])
    assert "warning: the full run drifts: blocks differ" in compare_table_html(drifting)
    est_doc = json.loads((est / "analysis.json").read_text())
    assert est_doc["workflow"]["kind"] == "estimate"
    assert est_doc["workflow"]["real_inferences"] == 100 * est_doc["workflow"]["passes"]
    checks = est_doc["analysis"]["self_checks"]
    assert all(c["verdict"].startswith(name.replace("_", "-").replace("holdout", "hold-out"))
               for name, c in checks.items())
    full_doc = json.loads((full / "analysis.json").read_text())
    assert full_doc["workflow"]["mlperf_query_count"] == 270336
    html = base / "report" / "r.html"
    p = run_tailq("report", str(est), str(full), "--html", str(html))
    assert p.returncode == 0, p.stderr
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 9 and "Reduced estimate against the full run" in page
    assert "Self-checks" in page and "Calibrated checks" in page and "interval for the min" in page
    assert len([f for f in os.listdir(html.parent / "r_files") if f.endswith(".png")]) >= 9


@pytest.mark.slow
def test_compare_names_why_loadgen_calls_the_full_run_invalid(pair):
    # the full run's LoadGen result as an INVALID one (its minimum duration not met) while
    # early stopping held: compare's text gives LoadGen's reason, not a bare INVALID
    from tailq_loadgen import records
    from tailq_loadgen.workflow import _compare, _inputs

    _, est, full = pair
    run_tailq("compare", str(est), str(full), "--overwrite")
    doc = json.loads((est / "compare.json").read_text())
    run = records.load_run(str(full))
    for t in run.metadata["tests"]:
        if t["mode"] == "PerformanceOnly":
            t.pop("verdict", None)
            t["loadgen_result"].update(result_validity="INVALID", result_min_duration_met=False,
                                       early_stopping_met=True)
    doc["loadgen"] = _compare._loadgen_view(run, _inputs.pass_matrix(run))
    line = next(line for line in _compare.format_compare(doc).splitlines()
                if line.startswith("LoadGen (full run"))
    assert line.startswith("LoadGen (full run, performance test): INVALID: min duration not met")
    assert "; early stopping met" in line


@pytest.mark.slow
def test_fail_if_turns_a_miss_into_exit_1(pair):
    _, est, full = pair
    p = run_tailq("compare", str(est), str(full), "--fail-if", "ratio<1000", "--overwrite")
    assert p.returncode == 1 and "fail-if" in p.stderr


def test_compare_refuses_runs_that_do_not_match(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, n in ((a, "60"), (b, "70")):
        p = run_tailq("run", "--harness", "sleep", "--harness-arg", f"samples={n}", "--scenario",
                      "Offline", "--passes", "2", "--out", str(d))
        assert p.returncode == 0, p.stderr
    p = run_tailq("compare", str(a), str(b))
    assert p.returncode == 2 and "do not match in dataset" in p.stderr and "--force" in p.stderr
    p = run_tailq("compare", str(a), str(b), "--force")
    assert p.returncode == 0, p.stderr
    assert "compared with --force" in p.stdout


@pytest.mark.parametrize("args,needle", [
    (["estimate", *SLEEP, "--thresholds", "p250", "--out", "X"], "--thresholds"),
    (["estimate", *SLEEP, "--thresholds", "-1ms", "--out", "X"], "--thresholds"),
    (["estimate", *SLEEP, "--tau", "0", "--out", "X"], "tau"),
    (["estimate", *SLEEP, "--max-passes", "1", "--out", "X"], "--max-passes"),
    (["full", *SLEEP, "--percentile", "100", "--out", "X"], "--percentile"),
    (["compare", "nowhere", "nowhere2"], "nowhere"),
    (["report", "nowhere", "--html", "r.html"], "nowhere"),
    (["compare", "E", "F", "--fail-if", "speed>3"], "--fail-if"),
])
def test_bad_input_exits_2(tmp_path, args, needle):
    args = [str(tmp_path / a) if a in ("X", "E", "F") else a for a in args]
    p = run_tailq(*args, cwd=str(tmp_path))
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and p.stderr.count("\n") == 1


def test_compare_refuses_an_incomplete_run(tmp_path):
    a = tmp_path / "a"
    assert run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=30", "--scenario",
                     "Offline", "--passes", "2", "--out", str(a)).returncode == 0
    meta = json.loads((a / "metadata.json").read_text())
    meta.update(complete=False, status="aborted")
    (a / "metadata.json").write_text(json.dumps(meta))
    p = run_tailq("compare", str(a), str(a))
    assert p.returncode == 2 and "incomplete" in p.stderr
