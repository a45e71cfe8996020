"""`tailq route`: bad input is one line and exit 2; --simulate writes a versioned routing.json
that says when a policy misses its target."""

import json
import os

import numpy as np
import pytest

from tailq_loadgen import harnesses, workflow
from tailq_loadgen._errors import UserError

from conftest import run_tailq


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("route") / "profiles")
    workflow.profile_family("synthetic", catalog=harnesses, out=out, count=50, queries=100,
                            log=lambda *a: None)
    return out


def _args(profiles, out, **change):
    args = {"--harness": "synthetic", "--servers": "2,1,1", "--policy": "pop",
            "--accuracy-target": "0.8", "--qps": "150", "--profiles": profiles, "--out": out,
            "--queries": "20000"}
    args.update(change)
    flat = []
    for k, v in args.items():
        if v is not None:
            flat += [k, v]
    return ["route", *flat]


@pytest.mark.parametrize("change, named", [
    ({"--accuracy-target": "0.999"}, "above every variant's accuracy"),
    ({"--qps": "100000"}, "arrival rate 100000/s"),
    ({"--policy": "fastest"}, "unknown policy 'fastest'"),
    ({"--policy": "single:nope"}, "no variant 'nope'"),
    ({"--harness": "nosuch"}, "--harness 'nosuch': unknown"),
    ({"--servers": "1,1"}, "--servers '1,1': 2 counts for the 3 variants"),
    ({"--servers": "2,x,1"}, "--servers '2,x,1'"),
    ({"--profiles": "/nonexistent/profiles"}, "/nonexistent/profiles"),
    ({"--tq-target": "0.9@fast"}, "tail-quality target '0.9@fast'"),
    ({"--queries": "10"}, "--queries 10"),
])
def test_bad_input_is_one_line_and_exit_2(profiles, tmp_path, change, named):
    out = str(tmp_path / "r")
    res = run_tailq(*_args(profiles, out, **change), "--simulate")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tailq: error:"), res.stderr
    assert named in lines[0]
    assert not os.path.exists(os.path.join(out, "routing.json"))


def test_simulate_writes_routing_json_and_says_who_misses(profiles, tmp_path):
    out = str(tmp_path / "sim")
    res = run_tailq(*_args(profiles, out, **{"--policy": "pop,rjiq", "--tq-target": "0.6@10ms"}),
                    "--policy", "single:synth-exp-2ms", "--simulate", "--tau", "5ms")
    assert res.returncode == 0, res.stderr
    doc = workflow.load_routing(out)
    assert doc["format"] == "tailq-routing" and doc["version"] == 1 and doc["mode"] == "simulate"
    assert [r["policy"] for r in doc["results"]] == ["pop", "rjiq", "single:synth-exp-2ms"] * 2
    for r in doc["results"]:
        assert r["lp_bound"]["mean_latency"] > 0 and len(r["lp_shares"]) == 3
        assert set(r["tail_quality"]) == {"0.005", "0.01"}
        assert r["mean_sojourn"] > 0 and r["p99_sojourn"] >= r["mean_sojourn"]
    acc = [r for r in doc["results"] if r["target"]["kind"] == "accuracy"]
    assert acc[0]["meets_target"] and acc[1]["meets_target"]
    # the fastest variant alone (accuracy 0.76 on these 50 samples) cannot keep a* = 0.8: said in both places
    assert not acc[2]["meets_target"]
    assert "single:synth-exp-2ms (accuracy target 0.8)" in doc["misses"]
    assert "warning: policy single:synth-exp-2ms (accuracy target 0.8) missed its target" in res.stdout + res.stderr
    again = run_tailq(*_args(profiles, out), "--simulate")  # never overwritten unasked
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_a_newer_routing_json_is_refused(tmp_path):
    path = tmp_path / "routing.json"
    path.write_text(json.dumps({"format": "tailq-routing", "version": 99}))
    with pytest.raises(UserError, match="version 99 is newer"):
        workflow.load_routing(str(tmp_path))
    path.write_text("{not json")
    with pytest.raises(UserError, match="not a readable routing result"):
        workflow.load_routing(str(path))


def test_report_and_show_draw_routing_runs(profiles, tmp_path):
    dirs = []
    for qps in ("100", "150"):
        out = str(tmp_path / f"sim{qps}")
        res = run_tailq(*_args(profiles, out, **{"--qps": qps, "--policy": "pop,jsq",
                                                 "--queries": "2000"}), "--simulate")
        assert res.returncode == 0, res.stderr
        dirs.append(out)
    html = str(tmp_path / "r.html")
    res = run_tailq("report", *dirs, "--html", html)
    assert res.returncode == 0, res.stderr
    page = open(html, encoding="utf-8").read()
    assert "<h2>Routing</h2>" in page and page.count("<tr>") == 1 + 4
    figs = sorted(os.listdir(str(tmp_path / "r_files")))
    assert figs == ["routing-latency-vs-load.png", "routing-variant-usage.png"]
    assert all(os.path.getsize(str(tmp_path / "r_files" / f)) > 5000 for f in figs)


def test_the_executor_follows_the_family_runtime_or_the_user():
    from tailq_loadgen._errors import UserError
    from tailq_loadgen.workflow._route import executor_choice

    assert executor_choice("synthetic")[0] == "thread"
    where, why = executor_choice("digits")
    assert where == "process" and "GIL" in why
    assert executor_choice("digits", "threads") == ("thread", "--executor threads")
    assert executor_choice("mine", "processes") == ("process", "--executor processes")
    with pytest.raises(UserError, match="GIL behaviour is unknown; give --executor"):
        executor_choice("mine")
    with pytest.raises(UserError, match="--executor 'fibers'"):
        executor_choice("synthetic", "fibers")


def test_show_reads_a_simulate_directory(profiles, tmp_path):
    out = str(tmp_path / "sim")
    res = run_tailq(*_args(profiles, out, **{"--policy": "pop,jsq"}), "--simulate")
    assert res.returncode == 0, res.stderr
    shown = run_tailq("show", out)
    assert shown.returncode == 0, shown.stderr
    assert "simulated routing" in shown.stdout and "no LoadGen run" in shown.stdout
    assert "routing:" in shown.stdout and "per-variant usage" in shown.stdout
    assert "  pop " in shown.stdout and "  jsq " in shown.stdout
    as_json = run_tailq("show", out, "--json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["mode"] == "simulate" and [r["policy"] for r in doc["routing"]["results"]] == ["pop", "jsq"]
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run_tailq("show", str(empty))  # neither a run nor a routing result: one line, exit 2
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_route_runs_servers_in_worker_processes_when_asked(profiles, tmp_path):
    """The CLI path end to end: --executor processes builds each worker's backend by its
    registered name; the records and routing.json say where the models computed."""
    from tailq_loadgen import records

    out = str(tmp_path / "proc")
    res = run_tailq(*_args(profiles, out, **{"--policy": "jsq", "--servers": "1,1,1",
                                             "--qps": "100", "--queries": "200",
                                             "--accuracy-target": "0.75"}),
                    "--executor", "processes", "--count", "50")
    assert res.returncode == 0, res.stderr
    doc = workflow.load_routing(out)
    assert doc["mode"] == "loadgen" and doc["executor"] == "process"
    assert doc["executor_reason"] == "--executor processes"
    run = records.load_run(out)
    assert run.metadata["pool"]["executor"] == "processes"
    assert {v["executor"] for v in run.metadata["pool"]["variants"]} == {"process"}
    assert set(run["status"]) == {"ok"} and np.unique(run["sample_seq"]).size == 200
    assert np.all(run["service_ns"] > 0)
