"""``tailq analyze`` end to end on captured runs, and its errors."""

import json

import pytest

from conftest import run_tailq


@pytest.fixture(scope="module")
def sleep_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sleep"
    proc = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=120", "--scenario",
                     "SingleStream", "--passes", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_analyze_writes_versioned_analysis(sleep_run):
    proc = run_tailq("analyze", str(sleep_run), "--thresholds", "p90,p99,2ms", "--mc", "300",
                     "--seed", "7", "--window", "2")
    assert proc.returncode == 0, proc.stderr
    assert "quality with no time limit" in proc.stdout and "p99" in proc.stdout
    doc = json.loads((sleep_run / "analysis.json").read_text())
    assert doc["format"] == "tailq-analysis" and doc["schema_version"] == 1
    assert doc["inputs"]["seed"] == 7 and doc["inputs"]["real_inferences"] == 480
    a = doc["analysis"]
    assert [t["label"] for t in a["thresholds"]] == ["p90", "p99", "2ms"]
    shown = json.loads(run_tailq("show", str(sleep_run), "--json").stdout)
    assert a["tq_inf"] == pytest.approx(shown["quality"]["value"])
    assert a["conventions"]["rjsd_public_code"].startswith("sqrt(mean over window of JS distance")
    assert len(a["convergence"]) == 3
    again = run_tailq("analyze", str(sleep_run), "--thresholds", "p90,p99,2ms", "--mc", "300",
                      "--seed", "7", "--window", "2")
    assert (sleep_run / "analysis.json").read_text() == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert again.stdout == proc.stdout


@pytest.mark.parametrize("thr", ["p101", "-3ms", "fast", "p0"])
def test_nonsense_thresholds_exit_2(sleep_run, thr):
    proc = run_tailq("analyze", str(sleep_run), "--thresholds", thr)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--thresholds" in proc.stderr


def test_run_without_passes_exits_2(tmp_path):
    out = tmp_path / "perf"
    assert run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                     "SingleStream", "--max-queries", "64", "--time", "0.01", "--out", str(out)).returncode == 0
    proc = run_tailq("analyze", str(out))
    assert proc.returncode == 2 and "at least 2 complete passes" in proc.stderr


def test_one_pass_exits_2(tmp_path):
    out = tmp_path / "one"
    assert run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                     "Offline", "--passes", "1", "--out", str(out)).returncode == 0
    proc = run_tailq("analyze", str(out))
    assert proc.returncode == 2 and "found 1" in proc.stderr


def test_records_that_do_not_join_exit_2(tmp_path):
    import pyarrow.parquet as pq
    import pyarrow.compute as pc
    out = tmp_path / "bad"
    assert run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=20", "--scenario",
                     "Offline", "--passes", "2", "--out", str(out)).returncode == 0
    f = out / "records" / "pass-00001.parquet"
    t = pq.read_table(f)
    t = t.set_column(t.schema.get_field_index("sample_index"), "sample_index",
                     pc.add(t.column("sample_index"), 1000))
    pq.write_table(t, f)
    proc = run_tailq("analyze", str(out))
    assert proc.returncode == 2 and "outside the dataset" in proc.stderr
