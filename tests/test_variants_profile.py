"""Profiles: the pure extraction, the round trip through the run directory, `tailq profile`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tailq_loadgen import harnesses, load_run, workflow
from tailq_loadgen._errors import UserError
from tailq_loadgen.workflow import Capacity, Profile, ProfileError, extract_profile

from conftest import run_tailq

QUIET = dict(log=lambda *_: None)


def _columns(rows):
    """rows: (pass, query_seq, sample_index, latency_ns, status) → extract_profile's columns."""
    p, q, i, lat, st = (np.array(c) for c in zip(*rows))
    return dict(pass_col=p, query_seq=q, sample_index=i, latency_ns=lat,
                compute_ns=np.maximum(lat - 10, 0), status=st)


def _profile(correct, rows, tests=({"pass": 0, "mode": "AccuracyOnly"},
                                   {"pass": 1, "mode": "PerformanceOnly"}), **kw):
    return extract_profile(variant="v", metric="accuracy", scenario="MultiStream", batch_size=2,
                           threads=1, correct=np.asarray(correct, float), tests=list(tests),
                           **_columns(rows), **kw)


def test_extract_takes_query_latency_and_the_joint_law():
    correct = [1, 0, 1, 1]
    rows = [(0, 0, 0, 100, "ok"), (0, 0, 1, 100, "ok"), (0, 1, 2, 300, "ok"), (0, 1, 3, 300, "ok"),
            (1, 0, 0, 200, "ok"), (1, 0, 0, 210, "ok"), (1, 1, 3, 50, "error")]
    p = _profile(correct, rows)
    # three ok queries; a query's service time is its slowest sample; the error row is left out
    assert sorted(p.service_ns.tolist()) == [100, 210, 300]
    assert p.queries == 3 and p.accuracy == 0.75
    # q(τ) = (1/N) Σ_i score_i · Ĝ_i(τ), sample 0 observed at 100, 200 and 210
    assert p.q(99) == 0.0
    assert p.q(100) == pytest.approx((1 / 3) / 4)
    assert p.q(250) == pytest.approx((1 + 0) / 4)
    assert p.q(np.inf) == pytest.approx(p.accuracy)
    taus = np.linspace(0, 400, 81)
    assert np.all(np.diff(p.q(taus)) >= 0) and np.all(p.q(taus) <= p.accuracy + 1e-12)
    assert p.throughput == pytest.approx(2 * 1e9 / np.mean([100, 210, 300]))
    assert p.percentile_ns(0.5) == 210  # LoadGen's convention: sorted[floor(n·p)]
    lat, score = p.observations()
    assert lat.tolist() == [100, 100, 300, 300, 200, 210] and score.tolist() == [1, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError):
        p.service_ns[0] = 1  # read-only


def test_q_matches_the_brute_force_joint_estimate():
    rng = np.random.default_rng(5)
    n = 50
    correct = (rng.random(n) < 0.7).astype(float)
    rows = [(0, k, k, int(rng.integers(1, 1000)), "ok") for k in range(n)]
    rows += [(1, k, int(rng.integers(n)), int(rng.integers(1, 1000)), "ok") for k in range(400)]
    p = extract_profile(variant="v", metric="accuracy", scenario="SingleStream", batch_size=1,
                        threads=1, correct=correct, tests=[{"pass": 0}, {"pass": 1}], **_columns(rows))
    idx, lat = p.sample_index, p.sample_latency_ns
    for tau in (0, 100, 500, 999, 5000):
        brute = np.mean([correct[i] * np.mean(lat[idx == i] <= tau) for i in range(n)])
        assert p.q(tau) == pytest.approx(brute, abs=1e-12)


def test_extract_refuses_what_is_not_a_profile():
    rows = [(0, 0, 0, 100, "ok")]
    with pytest.raises(ProfileError, match="service passes"):
        _profile([1.0], rows, service_passes=[7])
    with pytest.raises(ProfileError, match="no sample"):
        _profile([1.0], [(0, 0, 0, 100, "error")])
    with pytest.raises(ProfileError, match=r"\[0, 1\]"):
        _profile([1.5], rows)
    with pytest.raises(ValueError):
        Capacity(slo_ns=-1, qps=10.0)


@pytest.fixture(scope="module")
def synthetic_set(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("prof") / "set")
    profiles = workflow.profile_variants(["synth-exp-2ms", "synth-det-2ms"], catalog=harnesses, out=out,
                                         batch_sizes=[1, 3], queries=60, family=None,
                                         harness_args={"samples": 40}, **QUIET)
    return out, profiles


def test_profiles_round_trip_through_the_run_directory(synthetic_set):
    out, captured = synthetic_set
    assert [(p.variant, p.batch_size) for p in captured] == [
        ("synth-exp-2ms", 1), ("synth-exp-2ms", 3), ("synth-det-2ms", 1), ("synth-det-2ms", 3)]
    loaded = workflow.load_profiles(out)
    assert len(loaded) == 4
    for a, b in zip(captured, loaded):
        for field in ("correct", "service_ns", "compute_ns", "sample_index", "sample_latency_ns"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a.summary() == b.summary()
        assert b.threads is None and b.capacity == ()
    for p in loaded:
        run = load_run(p.source)
        modes = [t["mode"] for t in run.metadata["tests"]]
        assert modes == ["AccuracyOnly", "PerformanceOnly"]
        assert run.metadata["scenario"] == ("SingleStream" if p.batch_size == 1 else "MultiStream")
        # every query of both tests is a service observation; MultiStream pads its last
        # AccuracyOnly query, so 40 samples in batches of 3 make 14 queries
        assert p.queries == (40 if p.batch_size == 1 else 14) + 60
        assert p.accuracy == 0.70 and p.q(np.inf) == pytest.approx(0.70)
        # LoadGen's own latencies: the profile holds exactly the run's query latencies
        np.testing.assert_array_equal(np.sort(p.service_ns), np.sort(run.query_latencies()))
    det = [p for p in loaded if p.variant == "synth-det-2ms"]
    assert all(p.service_ns.min() >= 2_000_000 * p.batch_size for p in det)


def test_profile_runs_are_analysable_without_the_harness(synthetic_set):
    # correctness.parquet is the file `tailq import --correctness` writes: show scores the run
    # from it, without building the harness
    out, captured = synthetic_set
    quality = workflow.run_quality(load_run(captured[0].source))
    assert quality["value"] == pytest.approx(0.70)


def test_capacity_entries_round_trip(synthetic_set, tmp_path):
    import shutil

    out, captured = synthetic_set
    copy = str(tmp_path / "one")
    shutil.copytree(captured[0].source, copy)
    path = os.path.join(copy, "profile.json")
    info = json.load(open(path))
    info["capacity"] = [{"slo_ns": 20_000_000, "qps": 310.5, "percentile": 0.99, "cores": 2,
                         "source": "test"}]
    json.dump(info, open(path, "w"))
    p = workflow.load_profile(copy)
    assert p.capacity == (Capacity(20_000_000, 310.5, 0.99, 2, "test"),)
    assert p.summary()["capacity"][0]["qps"] == 310.5


@pytest.mark.parametrize("mangle,match", [
    (lambda d: d.update(version=99), "newer"),
    (lambda d: d.update(batch_size="2"), "batch_size"),
    (lambda d: d.update(format="other"), "not a tailq profile"),
    (lambda d: d.update(service_passes=[True]), "service_passes"),
    (lambda d: d.update(capacity=[{"slo_ns": 5, "qps": -1}]), "capacity"),
    (lambda d: d.update(threads="os:system"), "threads"),
])
def test_damaged_profile_files_are_one_line_errors(synthetic_set, tmp_path, mangle, match):
    import shutil

    out, captured = synthetic_set
    copy = str(tmp_path / "one")
    shutil.copytree(captured[0].source, copy)
    path = os.path.join(copy, "profile.json")
    info = json.load(open(path))
    mangle(info)
    json.dump(info, open(path, "w"))
    with pytest.raises(ProfileError, match=match) as err:
        workflow.load_profile(copy)
    assert "\n" not in str(err.value)


def test_missing_or_garbled_files_are_one_line_errors(synthetic_set, tmp_path):
    import shutil

    out, captured = synthetic_set
    copy = str(tmp_path / "one")
    shutil.copytree(captured[0].source, copy)
    open(os.path.join(copy, "profile.json"), "w").write("{not json")
    with pytest.raises(ProfileError, match="unreadable"):
        workflow.load_profile(copy)
    os.remove(os.path.join(copy, "profile.json"))
    with pytest.raises(ProfileError, match="not a profile"):
        workflow.load_profile(copy)
    shutil.copytree(captured[0].source, str(tmp_path / "two"))
    os.remove(str(tmp_path / "two" / "correctness.parquet"))
    with pytest.raises(ProfileError, match="correctness"):
        workflow.load_profile(str(tmp_path / "two"))
    with pytest.raises(ProfileError, match="no such directory"):
        workflow.load_profiles(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProfileError, match="holds no profile"):
        workflow.load_profiles(str(tmp_path / "empty"))


def test_reading_a_profile_runs_no_harness_code(synthetic_set):
    # load_profile reads JSON and Parquet only: the harness module that captured the profile is
    # never imported, whatever the files name
    out, _ = synthetic_set
    code = ("import sys; from tailq_loadgen import workflow; ps = workflow.load_profiles(sys.argv[1]); "
            "print(len(ps), any(m.startswith('tailq_loadgen.harnesses') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, out], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.split() == ["4", "False"]


def test_cli_profiles_a_family_and_shows_it(tmp_path):
    out = str(tmp_path / "p")
    proc = run_tailq("profile", "--family", "synthetic-laws", "--variants", "synth-det-2ms",
                     "--harness-arg", "samples=30", "--queries", "40", "--batch-sizes", "1,2",
                     "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "synth-det-2ms" in proc.stdout and "2 profiles in" in proc.stdout
    shown = run_tailq("profile", "--show", out, "--json")
    rows = json.loads(shown.stdout)
    assert [(r["variant"], r["batch_size"], r["family"]) for r in rows] == [
        ("synth-det-2ms", 1, "synthetic-laws"), ("synth-det-2ms", 2, "synthetic-laws")]
    assert all(r["accuracy"] == pytest.approx(0.7, abs=0.02) for r in rows)
    # a second capture into the same place refuses and leaves the first intact
    again = run_tailq("profile", "--family", "synthetic-laws", "--variants", "synth-det-2ms",
                      "--harness-arg", "samples=30", "--out", out)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert len(workflow.load_profiles(out)) == 2


@pytest.mark.parametrize("args,match", [
    (["--family", "nope"], "--family 'nope'"),
    (["--family", "synthetic", "--variants", "digits-mlp"], "--variants digits-mlp"),
    (["--family", "synthetic", "--batch-sizes", "0"], "--batch-sizes"),
    (["--family", "synthetic", "--batch-sizes", "1,x"], "--batch-sizes"),
    (["--family", "synthetic", "--threads", "1,1"], "repeats"),
    (["--family", "synthetic", "--queries", "0"], "--queries"),
    (["--harness", "nope"], "--harness 'nope'"),
    (["--harness", "sleep", "--variants", "a"], "--variants goes with --family"),
    (["--harness", "synth-exp-2ms", "--batch-sizes", "5000"], "larger than"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, match):
    proc = run_tailq("profile", *args, "--out", str(tmp_path / "p"))
    assert proc.returncode == 2, proc.stderr
    assert match in proc.stderr and proc.stderr.count("\n") == 1


def test_cli_refuses_a_foreign_directory_and_shows_nothing_from_nothing(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    proc = run_tailq("profile", "--family", "synthetic", "--out", str(foreign))
    assert proc.returncode == 2 and "holds no profiles" in proc.stderr
    assert (foreign / "keep.txt").read_text() == "mine"
    shown = run_tailq("profile", "--show", str(foreign))
    assert shown.returncode == 2 and "holds no profile" in shown.stderr


@pytest.mark.slow
def test_digits_profile_over_threads_and_batches(tmp_path):
    out = str(tmp_path / "d")
    profiles = workflow.profile_family("digits", catalog=harnesses, variants=["digits-linear"], out=out,
                                       batch_sizes=[1, 4], threads=[1, 2], queries=50, **QUIET)
    assert [(p.batch_size, p.threads) for p in profiles] == [(1, 1), (4, 1), (1, 2), (4, 2)]
    assert all(p.accuracy == pytest.approx(0.9360, abs=5e-4) for p in profiles)
    assert {load_run(p.source).metadata["threads"]["intra_op"] for p in profiles} == {1, 2}
    assert all(p.family == "digits" for p in workflow.load_profiles(out))


def test_profile_record_is_immutable_and_validates():
    p = _profile([1.0, 0.0], [(0, 0, 0, 10, "ok"), (0, 0, 1, 10, "ok")])
    with pytest.raises(Exception):
        p.batch_size = 3
    with pytest.raises(ProfileError):
        Profile(variant="v", metric="m", scenario="s", batch_size=0, threads=None,
                correct=[1.0], service_ns=[1], compute_ns=[1], sample_index=[0],
                sample_latency_ns=[1])
    assert isinstance(UserError("x"), Exception) and issubclass(ProfileError, UserError)


def test_your_own_harness_is_profiled_like_a_family_variant(tmp_path):
    # docs/variants.md: "bring your own variants" with the harness of docs/harnesses.md
    import re

    from conftest import REPO

    text = open(os.path.join(REPO, "docs", "harnesses.md")).read()
    (tmp_path / "my_harness.py").write_text(re.search(r"```python\n(.*?)```", text, re.S).group(1))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = str(tmp_path / "prof")
    proc = subprocess.run([sys.executable, "-m", "tailq_loadgen.cli", "profile", "--harness",
                           "my_harness:make_harness", "--harness-arg", "n=64", "--queries", "30",
                           "--batch-sizes", "1,8", "--out", out],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    profiles = workflow.load_profiles(out)
    assert [(p.variant, p.batch_size, p.threads, p.family) for p in profiles] == [
        ("my-model", 1, 1, None), ("my-model", 8, 1, None)]  # its threads() says intra_op 1
    assert all(p.accuracy == 1.0 for p in profiles)


def test_resume_keeps_what_matches_and_captures_the_rest(tmp_path):
    out = str(tmp_path / "set")
    kw = dict(catalog=harnesses, out=out, batch_sizes=[1, 2], queries=20, harness_args={"samples": 20},
              **QUIET)
    first = workflow.profile_variants(["synth-det-2ms"], **kw)
    created = [json.load(open(os.path.join(p.source, "profile.json")))["created"] for p in first]
    os.remove(os.path.join(first[1].source, "profile.json"))  # as if interrupted there
    with pytest.raises(UserError, match="--resume"):
        workflow.profile_variants(["synth-det-2ms"], **kw)
    logs = []
    again = workflow.profile_variants(["synth-det-2ms"], **dict(kw, resume=True, log=logs.append))
    assert [p.batch_size for p in again] == [1, 2]
    assert any("kept" in line and "batch 1" in line for line in logs)
    assert not any("kept" in line and "batch 2" in line for line in logs)
    np.testing.assert_array_equal(again[0].service_ns, first[0].service_ns)
    assert json.load(open(os.path.join(again[0].source, "profile.json")))["created"] == created[0]
    # other flags: nothing matches, everything is captured again
    logs.clear()
    workflow.profile_variants(["synth-det-2ms"], **dict(kw, queries=21, resume=True, log=logs.append))
    assert not any("kept" in line for line in logs)


def test_profiles_become_routing_and_planning_records(synthetic_set):
    from tailq_loadgen import planning, routing

    _, captured = synthetic_set
    exp1 = next(p for p in captured if p.variant == "synth-exp-2ms" and p.batch_size == 1)
    det1 = next(p for p in captured if p.variant == "synth-det-2ms" and p.batch_size == 1)
    joint = workflow.routing_variant(exp1, servers=2)
    lat, score = exp1.observations()
    assert joint.servers == 2 and joint.accuracy == pytest.approx(score.mean())
    assert joint.mean_service == pytest.approx(lat.mean() / 1e9)
    plain = workflow.routing_variant(exp1, servers=1, joint=False)
    assert plain.accuracy == pytest.approx(0.70) and plain.mean_service == pytest.approx(exp1.mean_service_ns / 1e9)
    pool = routing.Pool([workflow.routing_variant(det1, 1, joint=False), plain])
    bound = routing.lp_bound(pool, 0.3 * pool.total_capacity, routing.Target(0.70))
    assert bound.mean_latency > 0
    with pytest.raises(ProfileError, match="batch-1"):
        workflow.routing_variant(next(p for p in captured if p.batch_size == 3), servers=1)
    records = workflow.planning_profiles(captured)
    assert [r.name for r in records] == ["synth-exp-2ms", "synth-det-2ms"]
    for r in records:
        assert isinstance(r, planning.VariantProfile) and r.accuracy == pytest.approx(0.70)
        assert r.batches_profiled(1) == (1, 3) and r.threads_profiled == (1,)
        np.testing.assert_allclose(r.service_at(3, 1).seconds,
                                   next(p for p in captured if p.variant == r.name and p.batch_size == 3).service_ns / 1e9)
    with pytest.raises(ProfileError, match="same"):
        workflow.planning_profiles([captured[0], captured[0]])
