"""`tailq plan` from captured profiles, plan.json read back safely, bad input, and
`tailq plan --verify` of a plan under LoadGen (synthetic family: sleep-based variants).

The verify test holds the measured tail quality at the SLO (200 ms, loose: a stall of the
shared machine must not fail it) to the simulator's and the analytic prediction with
|z| ≤ 5.5 (z = difference over the batch-means standard errors; with 20
batches a correct prediction fails with probability ≈ 3·10⁻⁵ — the t distribution with 19
degrees of freedom). ``test_tq_z_is_calibrated`` shows by simulation that the z of a right
prediction has unit spread and that of a wrong one (service 2.5× slower than planned at a
tight SLO) fails.
"""

import json
import os

import numpy as np
import pytest

from tailq_loadgen import cli, harnesses, routing, workflow
from tailq_loadgen._errors import UserError
from tailq_loadgen.workflow import _plan, _plan_deploy, _plan_verify

from conftest import run_tailq

COUNT = 100
Z = 5.5


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("plan-profiles") / "prof")
    workflow.profile_family("synthetic", catalog=harnesses, out=out, count=COUNT, queries=300,
                            log=lambda *a: None)
    return out


@pytest.fixture(scope="module")
def plan_file(profiles, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("plan") / "plan.json")
    # a loose SLO (the plan's p99 is ~50 ms): the verify test's z must not fail when another
    # job on the machine stalls the pool for a few tens of milliseconds
    r = run_tailq("plan", "--profiles", profiles, "--slo", "200ms", "--qps", "150", "--cores", "2",
                  "--objective", "tq", "--out", path)
    assert r.returncode == 0, r.stderr
    assert "tail quality" in r.stdout and "decision time" in r.stdout
    return path


def test_plan_round_trips_and_keeps_its_constraints(plan_file):
    doc = _plan.load_plan(plan_file)
    p = doc["plan"]
    assert doc["format"] == "tailq-plan" and p["mode"] == "variant-set" and p["feasible"]
    assert p["objective"] == "tq" and p["solver"] == "enumerate"
    assert all(c["met"] for c in p["constraints"])
    lay = _plan_deploy.pool_layout(p)
    assert lay.as_dict() == doc["layout"] and lay.cores <= 2
    sim = doc["simulated"]
    assert 0 < sim["tail_quality"] <= 1 and sim["p99_s"] > 0
    assert abs(sim["tail_quality"] - p["predicted_tail_quality"]) < 0.05


def test_objectives_and_solvers_plan_the_same_profiles(profiles):
    for objective, solver in (("infadapter", "milp"), ("infadapter", "enumerate"), ("tq", "enumerate")):
        doc = _plan.make_plan(profiles=[profiles], slo_s=0.05, qps=100.0, cores=2,
                              objective=objective, solver=solver, sim_jobs=2000)
        assert doc["plan"]["objective"] == objective and doc["plan"]["feasible"]
    a = _plan.make_plan(profiles=[profiles], slo_s=0.05, qps=100.0, cores=2, solver="milp", sim_jobs=2000)
    b = _plan.make_plan(profiles=[profiles], slo_s=0.05, qps=100.0, cores=2, solver="enumerate",
                        sim_jobs=2000)
    assert a["plan"]["choices"] == b["plan"]["choices"]  # the two solvers agree


@pytest.fixture
def fails(capsys):
    """Run the CLI in-process (its `main`, as the console script does) and expect one error
    line and exit code 2."""
    def check(*args):
        capsys.readouterr()
        code = cli.main(list(args))
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tailq: error:"), err
        return lines[0]
    return check


def test_bad_planning_input_is_one_line_exit_2(profiles, tmp_path, fails):
    out = str(tmp_path / "p.json")
    base = ("plan", "--profiles", profiles, "--cores", "2", "--out", out)
    assert "no profile for synth-nope" in fails(*base, "--slo", "50ms", "--qps", "100",
                                                 "--variants", "synth-exp-2ms,synth-nope")
    assert "no variant meets it" in fails(*base, "--slo", "0.1ms", "--qps", "100")
    assert "above the capacity" in fails(*base, "--slo", "50ms", "--qps", "100000")
    assert "--slo" in fails(*base, "--slo", "fast", "--qps", "100")
    assert "stage" in fails(*base, "--slo", "50ms", "--qps", "100", "--mode", "pipeline")
    assert "not linear" in fails(*base, "--slo", "50ms", "--qps", "100", "--objective", "tq",
                                  "--solver", "milp")
    assert not os.path.exists(out)


def _edited(plan_file, tmp_path, edit):
    doc = json.load(open(plan_file))
    edit(doc)
    path = str(tmp_path / "edited.json")
    json.dump(doc, open(path, "w"))
    return path


def test_bad_plan_files_are_refused_before_anything_runs(plan_file, tmp_path, fails):
    run = str(tmp_path / "run")
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "tailq-plan", ')
    assert "not a readable plan" in fails("plan", "--verify", str(garbage), "--out", run)
    foreign = tmp_path / "routing.json"
    foreign.write_text(json.dumps({"format": "tailq-routing", "version": 1}))
    assert "not a tailq plan" in fails("plan", "--verify", str(foreign), "--out", run)
    newer = _edited(plan_file, tmp_path, lambda d: d.update(version=99))
    assert "newer" in fails("plan", "--verify", newer, "--out", run)
    unknown = _edited(plan_file, tmp_path, lambda d: d["plan"]["choices"][0].update(variant="os:system"))
    assert "not a registered harness" in fails("plan", "--verify", unknown, "--out", run)
    broken = _edited(plan_file, tmp_path, lambda d: d["plan"]["choices"][0].update(cores="two"))
    assert "cores" in fails("plan", "--verify", broken, "--out", run)
    pipeline = _edited(plan_file, tmp_path, lambda d: d["plan"].update(mode="pipeline"))
    # a variant-set plan relabelled as a pipeline: its choices carry no stage, batch, replicas
    assert "names no stage" in fails("plan", "--verify", pipeline, "--out", run)
    assert not os.path.exists(run)


def test_verify_runs_the_plan_under_loadgen(plan_file, tmp_path):
    out = str(tmp_path / "verify")
    r = run_tailq("plan", "--verify", plan_file, "--out", out, "--queries", "900", timeout=180)
    assert r.returncode == 0, r.stderr
    assert "tail quality" in r.stdout and "SLO violations" in r.stdout
    assert "LoadGen's own verdict" in r.stdout  # LoadGen judged p99 against the plan's SLO
    doc = json.load(open(os.path.join(out, "verify.json")))
    assert doc["format"] == "tailq-plan-verify"
    assert doc["count"] == COUNT  # the items the profiles' accuracy was measured on
    m, pr = doc["measured"], doc["predicted"]
    assert m["samples"] == 810 and m["status_not_ok"] == 0
    for v, sh in m["shares"].items():
        assert abs(sh["measured"] - sh["planned"]) <= 2 / 810 + 1e-9  # smooth WRR
    assert abs(pr["z_tail_quality_simulated"]) <= Z and abs(pr["z_tail_quality_analytic"]) <= Z
    assert 0 <= m["slo_violations"] <= 1 and m["p99_s"] > 0


def test_tq_z_is_calibrated():
    """Simulated 'measured' passes of 900 jobs against the long-run simulated expectation:
    z has unit spread under a right prediction; a wrong one (planned service 2.5× too fast,
    at an SLO near the real p99) is caught."""
    lay = _plan_deploy.PoolLayout(("a", "b"), (1, 1), (1, 1), (0.6, 0.4), (0.7, 0.9), (0.002, 0.004))
    laws = {"a": routing.Exponential(0.002), "b": routing.Exponential(0.004)}
    slo = 0.012
    ref = _plan_deploy.simulate_layout(lay, laws, 150.0, 400_000, seed=1)
    expect = float(np.mean(ref.measured(ref.correct & (ref.sojourn <= slo))))
    zs = []
    for seed in range(300):
        sim = _plan_deploy.simulate_layout(lay, laws, 150.0, 900, seed=100 + seed)
        tq, se = routing.batch_means(sim.measured(sim.correct & (sim.sojourn <= slo)).astype(float))
        zs.append((tq - expect) / se)
    zs = np.array(zs)
    assert 0.8 < zs.std() < 1.3 and np.mean(np.abs(zs) > 3) < 0.03 and np.all(np.abs(zs) < Z)
    slow = {"a": routing.Exponential(0.005), "b": routing.Exponential(0.010)}
    wrong = []
    for seed in range(20):
        sim = _plan_deploy.simulate_layout(lay, slow, 150.0, 900, seed=500 + seed)
        tq, se = routing.batch_means(sim.measured(sim.correct & (sim.sojourn <= slo)).astype(float))
        wrong.append((tq - expect) / se)
    assert np.all(np.abs(wrong) > Z)


def test_in_pool_service_replaces_the_profiles(profiles, plan_file, tmp_path):
    out = str(tmp_path / "pool")
    doc = _plan.load_plan(plan_file)
    lay = _plan_deploy.pool_layout(doc["plan"])
    session, _ = _plan_deploy.deploy_plan(lay, [harnesses.get_harness(n) for n in lay.variants],
                                          out=out, qps=150.0, queries=300, count=COUNT,
                                          log=lambda *a: None)
    with session:
        _plan_deploy.verify_segment(session, lay, 150.0, 0)
    solo_run = _plan.collect_profiles([profiles])[0].source
    with pytest.raises(UserError, match="no pool rows"):
        _plan.in_pool_service(solo_run)  # a profile's run is not a pool run
    service = _plan.in_pool_service(out)
    assert set(service) == set(lay.variants) and all(s.size == 270 for s in service.values())
    if len(lay.variants) < 3:
        with pytest.raises(UserError, match="served no query"):
            _plan.make_plan(profiles=[profiles], slo_s=0.2, qps=150.0, cores=2, service_from=out)
    again = _plan.make_plan(profiles=[profiles], slo_s=0.2, qps=150.0, cores=2,
                            variants=list(lay.variants), service_from=out, sim_jobs=2000)
    used = {v["variant"]: v for v in again["profiles"]["variants"]}
    for v in lay.variants:
        assert used[v]["queries"] == 270 and "in-pool" in used[v]["source"]
