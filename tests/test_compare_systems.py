"""``tailq compare-systems``: per threshold side by side, refusals, description differences,
the overlay in ``tailq report``."""

import json

import numpy as np
import pytest

from tailq_loadgen import UserError, load_run, workflow
from tailq_loadgen.capture import run_capture
from tailq_loadgen import harnesses

from conftest import run_tailq

QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def two_systems(tmp_path_factory):
    """The sleep harness on a 'slow' and a 'fast' system (base latency 2 vs 0.3 ms): at a 1.5 ms
    deadline the slow one never answers in time, the fast one mostly does, whatever the load."""
    root = tmp_path_factory.mktemp("systems")
    dirs = []
    for name, base in (("slow", 2.0), ("fast", 0.3)):
        out = str(root / name)
        h = harnesses.get_harness("sleep", samples=96, base_ms=base, sigma=0.1)
        run_capture(h, scenario="SingleStream", passes=6, out=out, **QUIET)
        dirs.append(out)
    return dirs


def test_side_by_side_with_differences_and_sentences(two_systems):
    doc = workflow.compare_systems(two_systems, thresholds="1.5ms,p99", n_boot=500)
    assert doc["names"] == ["slow", "fast"] and doc["worst_of"] == 6
    at_deadline = doc["thresholds"][0]
    assert at_deadline["kind"] == "absolute"
    assert {s["theta_ns"] for s in at_deadline["systems"]} == {1.5e6}  # one deadline for all
    own = doc["thresholds"][1]
    for s, d in zip(own["systems"], two_systems):  # each system's own p99
        m = workflow.pass_matrix(load_run(d))
        assert s["theta_ns"] == pytest.approx(np.percentile(m.latency[m.ok], 99))
    v = at_deadline["versus"][0]
    assert v["mean"]["verdict"] == "higher" and v["mean"]["low"] > 0
    assert v["sentence"].startswith("At the deadline 1.5ms: fast is better in mean")
    assert at_deadline["systems"][0]["stats"]["max"] == 0.0  # slow: never in time
    assert {"key": "harness_args.base_ms", "values": [2.0, 0.3]} in doc["differences"]
    keys = {d["key"] for d in doc["differences"]}
    assert not keys & {"system.memory_available_bytes", "system.load_average_1m"}
    text = workflow.format_compare_systems(doc)
    assert "what differs" in text and "harness_args.base_ms" in text
    assert "Intel" in text or "AMD" in text or "cpu" in text.lower()
    # same inputs and seed: the same document
    assert workflow.compare_systems(two_systems, thresholds="1.5ms,p99", n_boot=500) == doc


def test_refuses_different_datasets_unless_forced(two_systems, tmp_path):
    other = str(tmp_path / "other")
    run_capture(harnesses.get_harness("sleep", samples=64), scenario="SingleStream", passes=2,
                out=other, **QUIET)
    with pytest.raises(UserError, match="differ in dataset.*--force"):
        workflow.compare_systems([two_systems[0], other])
    r = run_tailq("compare-systems", two_systems[0], other)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    forced = workflow.compare_systems([two_systems[0], other], force=True, n_boot=200)
    assert forced["forced"] and forced["mismatched"] == ["dataset"]
    assert "compared with --force" in workflow.format_compare_systems(forced)


def test_cli_writes_json_and_rejects_bad_input(two_systems, tmp_path):
    path = tmp_path / "cs.json"
    r = run_tailq("compare-systems", *two_systems, "--thresholds", "1.5ms", "--names", "A,B",
                  "--out", str(path), "--bootstrap", "300")
    assert r.returncode == 0, r.stderr
    assert "At the deadline 1.5ms: B is better in mean" in r.stdout
    doc = json.loads(path.read_text())
    assert doc["format"] == "tailq-compare-systems" and doc["names"] == ["A", "B"]
    for args, match in ((["--names", "A"], "--names"), (["--level", "2"], "--level"),
                        (["--thresholds", "fast"], "threshold")):
        r = run_tailq("compare-systems", *two_systems, *args)
        assert r.returncode == 2 and match in r.stderr, (args, r.stderr)
    r = run_tailq("compare-systems", two_systems[0])
    assert r.returncode == 2 and "at least two" in r.stderr


def test_report_overlays_the_systems(two_systems, tmp_path):
    for d in two_systems:
        workflow.analyze_run(d, thresholds="1.5ms,p99", mc=200)
    html = tmp_path / "rep.html"
    r = run_tailq("report", *two_systems, "--html", str(html))
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    assert "Systems side by side" in page and "harness_args.base_ms" in page
    assert (tmp_path / "rep_files" / "systems-overlay.png").stat().st_size > 10000  # beside the page
    # one run alone, or runs on systems that do not differ: no systems section
    assert workflow.systems_for_report(two_systems[:1]) is None
