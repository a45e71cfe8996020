"""The pool SUT under a real LoadGen Server test: records, exactly-once completion, failures.

Deterministic 0.5 ms synthetic variants keep each test about a second long."""

import numpy as np
import pytest

from tailq_loadgen import records, routing
from tailq_loadgen._errors import RunAborted
from tailq_loadgen.capture import CaptureSession, Experiment
from tailq_loadgen.capture._pool import PoolBackend, PoolSUT
from tailq_loadgen.harnesses import synthetic_family

NAMES = ("fast", "slow")
QUERIES = 400


def _harnesses():
    return [synthetic_family.make_harness("deterministic", 0.5, accuracy=0.7, samples=100, seed=1,
                                          name="fast"),
            synthetic_family.make_harness("deterministic", 1.0, accuracy=0.9, samples=100, seed=2,
                                          name="slow")]


class _Failing:
    """A backend whose every other call raises."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def load(self):
        return self.inner.load()

    def name(self):
        return "failing"

    def version(self):
        return "0"

    def predict(self, inputs):
        self.calls += 1
        if self.calls % 2 == 0:
            raise RuntimeError("model exploded\nsecond line")
        return self.inner.predict(inputs)


class _BrokenPolicy:
    """Chooses server 0, then raises on the 50th decision."""

    def __init__(self):
        self.n = 0

    def choose(self, state):
        self.n += 1
        if self.n == 50:
            raise RuntimeError("policy bug")
        return 0

    def snapshot(self):
        return {"n": self.n}

    def describe(self):
        return {"policy": "broken"}


def _session(tmp_path, backends, servers=(2, 1), qps=300, queries=QUERIES, experiment=None):
    hs = _harnesses()
    import dataclasses
    harness = dataclasses.replace(hs[0], name="pool:test", backend=PoolBackend(NAMES, backends))

    def factory(backend, dataset, **watch):
        return PoolSUT(backend, dataset, list(servers), routing.PoolState, **watch)

    return CaptureSession(harness, scenario="Server", out=str(tmp_path / "run"), sut_factory=factory,
                          overrides={"server_target_qps": qps, "min_duration_ms": 0,
                                     "min_query_count": queries, "max_query_count": queries},
                          log=lambda *a: None, experiment=experiment)


def _pool(servers=(2, 1)):
    return routing.Pool.exponential([2000, 1000], [0.7, 0.9], list(servers), names=list(NAMES))


def test_every_sample_once_with_variant_server_wait_and_service(tmp_path):
    hs = _harnesses()
    pool = _pool()
    with _session(tmp_path, [h.backend for h in hs]) as s:
        for name in ("pop", "central-queue"):  # central-queue HOLDs jobs: the dispatcher's queue
            s.sut.set_policy(routing.make_policy(name, pool, routing.Target(0.75), rng=3), 300)
            s.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    meta = run.metadata
    assert meta["pool"]["executor"] == "threads" and meta["pool"]["servers"] == 3
    assert [v["name"] for v in meta["pool"]["variants"]] == list(NAMES)
    assert meta["dispatch"]["mode"] == "pool"
    for p in (0, 1):
        sel = run["pass"] == p
        assert sel.sum() == QUERIES
        assert np.unique(run["sample_seq"][sel]).size == QUERIES  # each completed exactly once
        assert set(run["status"][sel]) == {"ok"}
        variant, server = run["variant"][sel], run["server"][sel]
        assert set(variant) <= set(NAMES)
        assert np.all(server[variant == "fast"] < 2) and np.all(server[variant == "slow"] == 0)
        wait, service, latency = run["wait_ns"][sel], run["service_ns"][sel], run["latency_ns"][sel]
        assert np.all(wait >= 0) and np.all(service >= 0.5e6 * (variant == "fast"))
        # LoadGen's latency holds the wait and the service (its clock starts before ours)
        assert np.all(latency >= wait + service)
        routing_rec = meta["tests"][p]["routing"]
        assert routing_rec["decisions"] == QUERIES
        assert sum(routing_rec["decisions_per_variant"].values()) == QUERIES
        assert routing_rec["dispatch_ns_per_decision"]["p50"] > 0
        # outputs are the serving variant's answers
        fast, slow = (h.dataset.answers for h in hs)
        out = np.array([np.frombuffer(b, dtype="<i8")[0] for b in run["output"][sel]])
        idx = run["sample_index"][sel]
        assert np.array_equal(out, np.where(variant == "fast", fast[idx], slow[idx]))
    assert meta["tests"][1]["routing"]["held_jobs"] > 0
    assert meta["tests"][0]["routing"]["policy"]["policy"] == "pop"


def test_a_failing_backend_fails_its_samples_only(tmp_path):
    hs = _harnesses()
    with _session(tmp_path, [_Failing(hs[0].backend), hs[1].backend]) as s:
        s.sut.set_policy(routing.make_policy("jsq", _pool(), routing.Target(0.75)), 300)
        s.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    status, variant = run["status"], run["variant"]
    assert len(status) == QUERIES
    assert set(status[variant == "slow"]) == {"ok"}
    errors = run["error"][status == "error"]
    assert errors.size > 0 and all(e == "RuntimeError: model exploded" for e in errors)


def test_a_failing_policy_cancels_the_test_and_completes_every_sample(tmp_path):
    hs = _harnesses()
    with pytest.raises(RunAborted, match="routing policy failed: RuntimeError: policy bug"):
        with _session(tmp_path, [h.backend for h in hs], queries=200) as s:
            s.sut.set_policy(_BrokenPolicy(), 300)
            s.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    assert run.metadata["status"] == "failed"
    assert np.unique(run["sample_seq"]).size == len(run["sample_seq"])  # none twice
    assert (run["status"] == "ok").sum() >= 49 and (run["status"] != "ok").sum() > 0


def test_set_policy_is_needed_for_every_test(tmp_path):
    hs = _harnesses()
    with _session(tmp_path, [h.backend for h in hs], queries=100) as s:
        s.sut.set_policy(routing.make_policy("jsq", _pool(), routing.Target(0.75)), 300)
        s.run(["PerformanceOnly"])
        with pytest.raises(ValueError, match="set_policy"):
            s.run(["PerformanceOnly"])


class _Hangs:
    """A backend whose 30th call hangs for 3 s (the watchdog's timeout is 0.5 s)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def load(self):
        return self.inner.load()

    def name(self):
        return "hangs"

    def version(self):
        return "0"

    def predict(self, inputs):
        self.calls += 1
        if self.calls == 30:
            import time
            time.sleep(3.0)
        return self.inner.predict(inputs)


def test_the_watchdog_ends_a_test_whose_server_hangs(tmp_path):
    hs = _harnesses()
    experiment = Experiment(watchdog_timeout_s=0.5, warmup_queries=0)
    with pytest.raises(RunAborted, match="did not answer within 0.5 s"):
        with _session(tmp_path, [_Hangs(hs[0].backend), hs[1].backend], servers=(1, 1), queries=300,
                      experiment=experiment) as s:
            s.sut.set_policy(routing.make_policy("fastest-idle", _pool((1, 1)),
                                                 routing.Target(0.75)), 300)
            s.run(["PerformanceOnly"])
    run = records.load_run(str(tmp_path / "run"))
    assert run.metadata["status"] == "aborted"
    status = run["status"]
    assert len(status) == 300 and np.unique(run["sample_seq"]).size == 300  # each once
    # the hung job and those still waiting when the watchdog fired are completed as timed
    # out; those a server took afterwards, as cancelled
    assert (status == "ok").sum() >= 29 and (status == "timeout").sum() >= 1
    assert set(status[status != "ok"]) <= {"timeout", "cancelled"}


# -- servers in worker processes (capture/_pool_process.py) -------------------------------
PROC_NAMES = ("synth-det-2ms", "synth-exp-2ms")


def _process_session(tmp_path, executors, queries=300, qps=250):
    import dataclasses

    from tailq_loadgen import harnesses
    from tailq_loadgen.cli._route import process_builder

    hs = [harnesses.get_harness(n) for n in PROC_NAMES]
    harness = dataclasses.replace(hs[0], name="pool:test",
                                  backend=PoolBackend(PROC_NAMES, [h.backend for h in hs]))
    builders = [process_builder(n) if e == "process" else None for n, e in zip(PROC_NAMES, executors)]

    def factory(backend, dataset, **watch):
        return PoolSUT(backend, dataset, [1, 1], routing.PoolState, executors=list(executors),
                       process_builders=builders, releases_gil=[e == "thread" for e in executors],
                       **watch)

    session = CaptureSession(harness, scenario="Server", out=str(tmp_path / "run"),
                             sut_factory=factory, log=lambda *a: None,
                             overrides={"server_target_qps": qps, "min_duration_ms": 0,
                                        "min_query_count": queries, "max_query_count": queries})
    return session, hs


def _proc_pool():
    return routing.Pool.exponential([500, 500], [0.7, 0.7], [1, 1], names=list(PROC_NAMES))


def test_process_servers_record_every_sample_once_with_wait_service_and_output(tmp_path):
    session, hs = _process_session(tmp_path, ["process", "thread"])
    with session as s:
        s.sut.set_policy(routing.make_policy("jsq", _proc_pool(), routing.Target(0.7)), 250)
        s.run(["PerformanceOnly"])
        pids = s.sut.worker_pids()
        assert list(pids) == [0] and pids[0] is not None
    run = records.load_run(str(tmp_path / "run"))
    meta = run.metadata
    assert meta["status"] == "complete" and meta["pool"]["executor"] == "mixed"
    assert [v["executor"] for v in meta["pool"]["variants"]] == ["process", "thread"]
    assert run["status"].size == 300 and set(run["status"]) == {"ok"}
    assert np.unique(run["sample_seq"]).size == 300
    variant, service, wait = run["variant"], run["service_ns"], run["wait_ns"]
    assert set(variant) == set(PROC_NAMES)
    # the worker measured its deterministic 2 ms sleep (plus the sleep's overshoot, which a
    # loaded machine stretches: the bound is loose)
    det = service[variant == PROC_NAMES[0]]
    assert np.all(det >= 2.0e6) and np.median(det) < 4e6
    assert np.all(wait >= 0) and np.all(run["latency_ns"] >= wait + service)
    out = np.array([np.frombuffer(b, dtype="<i8")[0] for b in run["output"]])
    answers = [h.dataset.answers for h in hs]
    idx = run["sample_index"]
    assert np.array_equal(out, np.where(variant == PROC_NAMES[0], answers[0][idx], answers[1][idx]))
    from tailq_loadgen.cli._route import registered_backend
    with pytest.raises(Exception, match="registered harnesses only"):
        registered_backend("os:system")


def test_a_worker_that_dies_fails_the_run_and_keeps_what_was_captured(tmp_path):
    import os
    import signal
    import threading

    session, _ = _process_session(tmp_path, ["process", "process"], queries=600, qps=200)
    with pytest.raises(RunAborted, match=r"pool server failed: pool server 1 \(synth-exp-2ms #0\): its "
                                         r"worker process \(pid \d+\) died with exit code -9"):
        with session as s:
            s.sut.set_policy(routing.make_policy("jsq", _proc_pool(), routing.Target(0.7)), 200)
            assert s.sut.worker_pids() == {}  # none before the first test, or until asked
            s.sut.start_workers()
            # kill server 1's worker once the test has run for a second (of ≈ 3)
            killer = threading.Timer(1.0, os.kill, (s.sut.worker_pids()[1], signal.SIGKILL))
            killer.start()
            try:
                s.run(["PerformanceOnly"])
            finally:
                killer.cancel()
    run = records.load_run(str(tmp_path / "run"))
    assert run.metadata["status"] == "failed"
    status = run["status"]
    assert status.size == 600 and np.unique(run["sample_seq"]).size == 600  # each once
    assert (status == "ok").sum() >= 20 and (status == "error").sum() >= 1
    assert set(status) <= {"ok", "error", "cancelled"}  # cancelled: taken by a server after it


def test_a_worker_that_cannot_build_its_backend_fails_the_run_in_one_line(tmp_path):
    import functools

    from tailq_loadgen._errors import RunFailed
    from tailq_loadgen.cli._route import registered_backend

    session, _ = _process_session(tmp_path, ["process", "thread"], queries=100)
    session.sut.process_builders[0] = functools.partial(registered_backend, "no-such-harness")
    with pytest.raises(RunFailed, match=r"pool server 0 \(synth-det-2ms #0\): its worker process could "
                                        r"not build the backend \(UserError: harness 'no-such-harness'"):
        with session as s:
            s.sut.set_policy(routing.make_policy("jsq", _proc_pool(), routing.Target(0.7)), 250)
            s.run(["PerformanceOnly"])
    assert records.load_run(str(tmp_path / "run")).metadata["status"] == "failed"


def test_the_worker_pipe_carries_plain_arrays_only():
    from tailq_loadgen.capture._pool_process import _pack, _unpack

    arr = np.arange(12, dtype="<f4").reshape(3, 4)
    header, back = _unpack(_pack({"ok": True, "service_ns": 5}, arr))
    assert header["ok"] and header["service_ns"] == 5 and np.array_equal(back, arr)
    assert _unpack(_pack({"ok": False, "error": "x"})) == ({"ok": False, "error": "x"}, None)
    with pytest.raises(TypeError, match="Python objects"):
        _pack({}, np.array([object()], dtype=object))
    # a header that claims an object dtype is refused, not decoded
    forged = _pack({"dtype": "|O", "shape": [1]})
    with pytest.raises(ValueError, match="Python objects"):
        _unpack(forged + b"\0" * 8)
