"""The pipeline SUT (capture/_pipeline.py) and its plan check (workflow/_pipeline_verify.py)
under short real LoadGen Server tests, with synthetic stages (deterministic sleeps) so each
test runs in about a second; and stage profiles round-tripping through the run directory."""

import dataclasses
import threading
import time

import numpy as np
import pytest

from tailq_loadgen import records
from tailq_loadgen._errors import UserError
from tailq_loadgen.capture._pipeline import PipelineBackend, _Stage
from tailq_loadgen.harnesses import synthetic_family
from tailq_loadgen.workflow import _pipeline_verify as pv

QUERIES = 400
MIN_Q = pv.MIN_QUERIES


class _Relay:
    """A second stage: sleeps ``ms`` per batch and passes its input rows on unchanged."""

    def __init__(self, ms=0.3, fail_every=0, hang_at=0):
        self.s, self.fail_every, self.hang_at, self.calls = ms / 1e3, fail_every, hang_at, 0

    def load(self):
        return self

    def name(self):
        return "relay"

    def version(self):
        return "1"

    def predict(self, rows):
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError("stage exploded\nsecond line")
        time.sleep(3.0 if self.calls == self.hang_at else self.s)
        return np.asarray(rows)


def _stages(fail_every=0, hang_at=0):
    first = synthetic_family.make_harness("deterministic", 0.5, accuracy=0.7, samples=100, seed=1,
                                          name="enc")
    return first, [("encoder", "enc", first.backend),
                   ("classifier", "clf", _Relay(0.3, fail_every, hang_at))]


def _session(tmp_path, batches, replicas, qps=400, queries=QUERIES, timeout=0.005, fail_every=0,
             hang_at=0, experiment=None):
    harness, stages = _stages(fail_every, hang_at)
    return harness, pv.deploy_pipeline(stages, harness, batches=batches, replicas=replicas,
                                       out=str(tmp_path / "run"), qps=qps, queries=queries,
                                       batch_timeout_s=timeout, log=lambda *a: None,
                                       experiment=experiment)


def test_every_sample_completed_once_through_batching_stages(tmp_path):
    harness, session = _session(tmp_path, batches=[4, 2], replicas=[2, 1])
    with session:
        session.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    assert len(run["status"]) == QUERIES
    assert np.unique(run["sample_seq"]).size == QUERIES  # each completed exactly once
    assert set(run["status"]) == {"ok"}
    assert set(run["variant"]) == {"enc/clf"}
    wait, service, latency = run["wait_ns"], run["service_ns"], run["latency_ns"]
    assert np.all(wait >= 0) and np.all(service >= 0.8e6)  # 0.5 ms + 0.3 ms of sleep
    assert np.all(latency >= wait + service)                 # LoadGen's clock starts first
    # outputs are the first stage's answers, carried through the second
    out = np.array([np.frombuffer(b, dtype="<i8")[0] for b in run["output"]])
    assert np.array_equal(out, harness.dataset.answers[run["sample_index"]])
    rec = run.metadata["tests"][0]["routing"]
    assert [s["batch"] for s in rec["stages"]] == [4, 2]
    for s in rec["stages"]:
        assert s["batches"] >= QUERIES / s["batch"]
        assert 1 <= s["mean_batch"] <= s["batch"]
    # LoadGen's last queries never fill a batch: the timeout released them
    assert rec["stages"][0]["timed_out_batches"] >= 1
    assert run.metadata["dispatch"]["mode"] == "pipeline"
    assert [v["replicas"] for v in run.metadata["pool"]["variants"]] == [2, 1]


def test_a_failing_stage_fails_its_batches_samples_only(tmp_path):
    _, session = _session(tmp_path, batches=[1, 1], replicas=[1, 1], fail_every=3)
    with session:
        session.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    status = run["status"]
    assert len(status) == QUERIES and np.unique(run["sample_seq"]).size == QUERIES
    errors = run["error"][status == "error"]
    assert 100 <= errors.size <= 170  # every third batch of one
    assert all(e == "RuntimeError: stage exploded" for e in errors)


def test_the_watchdog_ends_a_test_whose_second_stage_hangs(tmp_path):
    from tailq_loadgen._errors import RunAborted
    from tailq_loadgen.capture import Experiment

    _, session = _session(tmp_path, batches=[2, 1], replicas=[1, 1], queries=300, hang_at=30,
                          experiment=Experiment(watchdog_timeout_s=0.5, warmup_queries=0))
    with pytest.raises(RunAborted, match="did not answer within 0.5 s"):
        with session:
            session.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    assert run.metadata["status"] == "aborted"
    status = run["status"]
    assert len(status) == 300 and np.unique(run["sample_seq"]).size == 300  # each once
    assert (status == "ok").sum() >= 29 and (status == "timeout").sum() >= 1
    assert set(status[status != "ok"]) <= {"timeout", "cancelled"}


def test_stage_batches_wait_for_b_or_the_timeout():
    st = _Stage(0, batch=3, replicas=1, timeout_ns=int(50e6))
    now = time.perf_counter_ns()
    for k in range(3):
        st.put((k, now, None))
    jobs, timed_out = st.take()
    assert [j[0] for j in jobs] == [0, 1, 2] and not timed_out
    st.put((3, time.perf_counter_ns(), None))
    t0 = time.perf_counter()
    jobs, timed_out = st.take()
    assert [j[0] for j in jobs] == [3] and timed_out
    assert time.perf_counter() - t0 >= 0.045
    got = []
    t = threading.Thread(target=lambda: got.append(st.take()))
    t.start()
    st.stop()
    t.join(2)
    assert got == [(None, False)]


class _Catalog:
    """What the CLI hands in (the harness registry), for synthetic stages."""

    def __init__(self):
        self.asked = None

    def build_pipeline(self, name, choices):
        self.asked = (name, choices)
        return _stages()


def _plan(batch=(2, 1), replicas=(1, 1), qps=300.0):
    return {"mode": "pipeline", "qps": qps, "slo_s": 0.004, "objective": "tq",
            "choices": [{"stage": s, "variant": v, "batch": b, "replicas": r, "threads": 1}
                        for s, v, b, r in zip(("encoder", "classifier"), ("enc", "clf"), batch, replicas)],
            "accuracy": 0.7, "predicted_tail_quality": 0.65, "predicted_on_time": 0.93,
            "predicted_p99_s": 0.0045, "predicted_mean_s": 0.002, "predictor": "analytic"}


def test_verify_scores_every_sample_end_to_end(tmp_path):
    cat = _Catalog()
    doc = pv.verify_pipeline_plan(_plan(), cat, out=str(tmp_path / "v"), queries=QUERIES, seed=3,
                                  log=lambda *a: None)
    assert cat.asked == (None, [("encoder", "enc", 1), ("classifier", "clf", 1)])
    run = records.load_run(str(tmp_path / "v"))
    harness, _ = _stages()
    order = np.argsort(run["wrapper_issue_ns"], kind="stable")
    keep = order[int(round(0.1 * QUERIES)):]  # the warm-up share (_route.WARMUP) is left out
    idx = run["sample_index"][keep]
    m = doc["measured"]
    assert m["samples"] == keep.size
    # the pipeline's answers are the synthetic variant's: right exactly where it is right
    assert m["accuracy"] == pytest.approx(harness.dataset.correct[idx].mean(), abs=1e-12)
    lat = run["latency_ns"][keep] / 1e9
    assert m["slo_violations"] == pytest.approx(np.mean(lat > 0.004), abs=1e-12)
    assert m["tail_quality"] == pytest.approx(
        np.mean(harness.dataset.correct[idx] & (lat <= 0.004)), abs=1e-12)
    srt = np.sort(lat)
    assert m["p99_s"] == pytest.approx(srt[int(np.floor(0.99 * srt.size))], rel=1e-9)
    pred = doc["predicted"]
    assert pred["analytic"]["tail_quality"] == 0.65 and pred["simulated"] is None
    assert pred["diff_tail_quality_analytic"] == pytest.approx(m["tail_quality"] - 0.65)
    assert pred["z_tail_quality_analytic"] == pytest.approx((m["tail_quality"] - 0.65)
                                                            / m["tail_quality_se"])
    assert pred["analytic"]["slo_violations"] == pytest.approx(0.07)
    assert m["stages"][0]["batch"] == 2 and doc["deployed"][0]["variant"] == "enc"
    assert (tmp_path / "v" / pv.VERIFY_FILE).is_file()
    with pytest.raises(UserError, match="already holds"):
        pv.verify_pipeline_plan(_plan(), cat, out=str(tmp_path / "v"), queries=QUERIES, seed=3)


@pytest.mark.parametrize("plan, match", [
    ({"mode": "variant-set", "choices": [{}]}, "not a pipeline plan"),
    (dict(_plan(), qps=0), "qps must be a positive"),
    (dict(_plan(), choices=[dict(_plan()["choices"][0], replicas=0)]), "replicas must be"),
])
def test_verify_rejects_a_bad_plan_in_one_line(tmp_path, plan, match):
    with pytest.raises(UserError, match=match) as err:
        pv.verify_pipeline_plan(plan, _Catalog(), out=str(tmp_path / "v"), queries=QUERIES)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "v").exists()


def test_measure_standard_errors_and_warmup():
    rng = np.random.default_rng(0)
    lat = rng.exponential(0.002, 2000)
    cor = rng.random(2000) < 0.9
    ok = np.ones(2000, bool)
    ok[1500] = False  # an error is neither correct nor on time
    m = pv.measure(lat, cor, ok, 0.004)
    keep = slice(200, None)
    assert m["warmup_samples"] == 200 and m["samples"] == 1800 and m["status_not_ok"] == 1
    assert m["tail_quality"] == pytest.approx(np.mean((cor & ok & (lat <= 0.004))[keep]))
    assert m["slo_violations"] == pytest.approx(np.mean((~ok | (lat > 0.004))[keep]))
    # independent rows: the batch-means SE is near the binomial one
    p = m["tail_quality"]
    # (a 20-batch SE over the binomial one: sd ≈ 0.16; bounds beyond 4 sd)
    assert 0.35 < m["tail_quality_se"] / np.sqrt(p * (1 - p) / 1800) < 2.0
    with pytest.raises(UserError, match="too few"):
        pv.measure(lat[:30], cor[:30], ok[:30], 0.004)


def test_verify_reads_a_plan_json_document(tmp_path):
    cat = _Catalog()
    doc = pv.verify_pipeline_plan({"format": "tailq-plan", "plan": _plan()}, cat,
                                  out=str(tmp_path / "v"), queries=MIN_Q, log=lambda *a: None)
    assert doc["plan"]["mode"] == "pipeline" and doc["measured"]["samples"] == MIN_Q - MIN_Q // 10


def test_stage_profiles_round_trip_with_their_stage(tmp_path):
    from tailq_loadgen.workflow import _profile_records
    from tailq_loadgen.workflow._profile import load_profile
    from tailq_loadgen.workflow._profile_capture import capture_profile

    h = synthetic_family.make_harness("deterministic", 0.2, accuracy=0.8, samples=50, seed=4,
                                      name="pipe-enc-x")
    h = dataclasses.replace(h, params=dict(h.params, pipeline_stage="encoder"))
    p = capture_profile(h, out=str(tmp_path / "p"), batch_size=2, queries=50, log=lambda *a: None)
    back = load_profile(str(tmp_path / "p"))
    assert p.stage == back.stage == "encoder" and back.summary()["stage"] == "encoder"
    plain = synthetic_family.make_harness("deterministic", 0.2, accuracy=0.8, samples=50, seed=4,
                                          name="plain")
    q = capture_profile(plain, out=str(tmp_path / "q"), queries=50, log=lambda *a: None)
    assert q.stage is None
    vp, = _profile_records.planning_profiles([back])
    assert vp.stage == "encoder" and vp.service[0].batch == 2
    assert _profile_records.planning_profiles([q], stage="x")[0].stage == "x"

    class Pipe:
        name, stages = "p", (("encoder", ("pipe-enc-x",)),)
    vp, = pv.pipeline_planning_profiles([back, q], Pipe)
    assert vp.name == "enc-x" and vp.stage == "encoder"


def test_in_pipeline_profiles_take_the_measured_busy_times():
    from tailq_loadgen import planning as P

    alone = P.VariantProfile("enc", [P.ServiceSamples(1, 1, [1e-3, 1e-3]),
                                     P.ServiceSamples(4, 1, [2e-3, 4e-3])], accuracy=0.9,
                             stage="encoder")
    other = P.VariantProfile("clf", [P.ServiceSamples(1, 1, [1e-4])], accuracy=0.9,
                             stage="classifier")
    docs = [{"measured": {"stage_samples": [{"stage": "encoder", "variant": "enc", "batch": 1,
                                             "samples_s": [2e-3, 4e-3]}]}},
            {"measured": {"stage_samples": [{"stage": "encoder", "variant": "enc", "batch": 1,
                                             "samples_s": [3e-3]}]}}]
    (enc, clf), ratios = pv.in_pipeline_profiles([alone, other], docs)
    assert ratios == {"enc": pytest.approx(3.0)}
    assert enc.service_at(1, 1).seconds.tolist() == [2e-3, 4e-3, 3e-3]  # both runs pooled
    assert enc.service_at(4, 1).seconds.tolist() == pytest.approx([6e-3, 12e-3])
    assert clf is other and enc.stage == "encoder" and enc.accuracy == 0.9
