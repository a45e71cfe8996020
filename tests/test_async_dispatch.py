"""Asynchronous dispatch: issuing returns at once, answers come from other threads, at most
``max_in_flight`` requests are outstanding, and every sample completes exactly once."""

import os
import threading
import time

import numpy as np
import pytest

from tailq_loadgen import RunAborted, load_run, records
from tailq_loadgen.capture import Experiment, run_capture
from tailq_loadgen.harnesses import Harness

from conftest import FAST, EchoDataset, echo_harness, echo_output

QUIET = dict(log=lambda *_: None)
SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]


class CountingBackend:
    """Synchronous; sleeps a little and records how many calls overlap."""

    def __init__(self, delay_s=0.002):
        self.delay_s = delay_s
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def name(self):
        return "counting"

    def version(self):
        return "1"

    def load(self):
        return self

    def predict(self, indices):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay_s)
        with self.lock:
            self.active -= 1
        return echo_output(indices)


class CallbackBackend:
    """Natively asynchronous: answers from a timer thread; ``drop`` samples never answer;
    ``fatal_after`` requests, every answer is a fatal error (a server that went away)."""

    def __init__(self, drop=(), fatal_after=None, timing=True):
        self.drop = set(drop)
        self.fatal_after = fatal_after
        self.timing = timing
        self.requests = 0
        self.outstanding = 0
        self.peak = 0
        self.lock = threading.Lock()

    def name(self):
        return "callback"

    def version(self):
        return "1"

    def load(self):
        return self

    def predict(self, indices):
        return echo_output(indices)

    def submit(self, indices, done):
        with self.lock:
            self.requests += 1
            self.outstanding += 1
            self.peak = max(self.peak, self.outstanding)
            n = self.requests
        if self.drop.intersection(np.atleast_1d(indices).tolist()):
            return

        def answer():
            with self.lock:
                self.outstanding -= 1
            if self.fatal_after is not None and n > self.fatal_after:
                err = ConnectionError("server went away")
                err.fatal = True
                done(None, err, None)
                return
            done(echo_output(indices), None,
                 {"queue_ns": 1000 + n, "compute_ns": 5000} if self.timing else None)

        threading.Timer(0.001, answer).start()


def _harness(backend, n=40):
    return Harness(name="echo", task="test", runtime="python", backend=backend,
                   dataset=EchoDataset(n))


def _check_against_trace(out):
    run = load_run(out)
    trace = records.read_trace_samples(os.path.join(records.loadgen_dir(out, 0),
                                                    "mlperf_log_trace.json"))
    order, rec = np.argsort(trace["sample_seq"]), np.argsort(run["sample_seq"])
    assert np.array_equal(run["sample_seq"][rec], trace["sample_seq"][order])
    assert np.array_equal(run["latency_ns"][rec], trace["complete_ns"][order])
    assert np.array_equal(run["sample_index"][rec], trace["sample_idx"][order])
    np.testing.assert_array_equal(run.outputs(), echo_output(run["sample_index"]))
    return run


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_in_process_backend_with_threads_keeps_the_limit(tmp_path, scenario):
    out = str(tmp_path / "run")
    backend = CountingBackend(delay_s=0.005)
    # Offline's 64 samples as 16 requests of 4: overlap is certain even on a loaded machine
    run_capture(_harness(backend), scenario=scenario, mode="PerformanceOnly", out=out,
                overrides=FAST, experiment=Experiment(max_in_flight=4, warmup_queries=0,
                                                      offline_batch_size=4), **QUIET)
    run = _check_against_trace(out)
    assert (run["status"] == "ok").all()
    meta = run.metadata
    assert meta["dispatch"]["max_in_flight_requested"] == 4
    if scenario == "SingleStream":  # in-process SingleStream stays inline, one at a time
        assert meta["dispatch"]["mode"] == "inline" and backend.peak == 1
        assert meta["dispatch"]["max_in_flight"] == 1
    else:
        assert meta["dispatch"]["mode"] == "async-threads"
        assert meta["dispatch"]["max_in_flight"] == 4
        assert backend.peak <= 4
    if scenario == "MultiStream":  # the 8 samples of a query go out as 4 requests of 2
        assert meta["dispatch"]["request_batch_size"] == 2
        assert backend.peak >= 2
    if scenario == "Offline":
        assert backend.peak >= 2  # concurrent requests really overlapped
    assert run["server_queue_ns"].tolist() == [-1] * len(run)  # in-process: no server timing


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_native_async_backend_every_scenario(tmp_path, scenario):
    out = str(tmp_path / "run")
    backend = CallbackBackend()
    run_capture(_harness(backend), scenario=scenario, mode="AccuracyOnly", out=out,
                overrides=FAST, experiment=Experiment(max_in_flight=3, warmup_queries=0), **QUIET)
    run = _check_against_trace(out)
    assert sorted(run["sample_index"].tolist()) == list(range(40))
    assert run.metadata["dispatch"]["mode"] == "async"
    assert backend.peak <= (1 if scenario == "SingleStream" else 3)
    assert (run["server_compute_ns"] == 5000).all()
    assert (run["server_queue_ns"] > 1000).all()


def test_unanswered_request_is_ended_by_the_watchdog(tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(RunAborted, match="watchdog"):
        run_capture(_harness(CallbackBackend(drop={17})), scenario="Offline", passes=2, out=out,
                    experiment=Experiment(watchdog_timeout_s=1.0, warmup_queries=0,
                                          offline_batch_size=4), **QUIET)
    run = load_run(out)
    assert run.metadata["status"] == "aborted"
    assert len(run) == 40 and np.unique(run["sample_index"]).size == 40  # each exactly once
    assert (run["status"][run["sample_index"] == 17] == "timeout").all()
    assert (run["status"] == "ok").sum() >= 1


def test_fatal_backend_error_ends_the_run_and_keeps_records(tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(RunAborted, match="server went away"):
        run_capture(_harness(CallbackBackend(fatal_after=10)), scenario="Server", passes=2,
                    out=out, overrides={"server_target_qps": 2000.0},
                    experiment=Experiment(warmup_queries=0), **QUIET)
    run = load_run(out)
    assert run.metadata["status"] == "aborted"
    assert len(run) == 40 and np.unique(run["sample_index"]).size == 40
    assert (run["status"] == "ok").sum() >= 10
    assert set(run["status"]) <= {"ok", "error"}


def test_submit_that_raises_is_an_error_row(tmp_path):
    class Raising(CallbackBackend):
        def submit(self, indices, done):
            if 5 in np.atleast_1d(indices).tolist():
                raise RuntimeError("cannot send")
            super().submit(indices, done)

    out = str(tmp_path / "run")
    run_capture(_harness(Raising()), scenario="Server", passes=1, out=out,
                overrides={"server_target_qps": 2000.0}, experiment=Experiment(warmup_queries=0),
                **QUIET)
    run = load_run(out)
    assert run.complete
    bad = run["status"] == "error"
    assert run["sample_index"][bad].tolist() == [5] and "cannot send" in run["error"][bad][0]


def test_default_dispatch_unchanged_for_in_process_backends(tmp_path):
    out = str(tmp_path / "run")
    run_capture(echo_harness(40), scenario="Offline", passes=1, out=out, **QUIET)
    assert load_run(out).metadata["dispatch"] == {"mode": "inline", "max_in_flight": 1,
                                                  "request_batch_size": 32,
                                                  "max_in_flight_requested": 0}


def test_synchronous_answers_and_failing_submits_do_not_recurse(tmp_path):
    """A backend may answer inside submit; thousands of such answers must not nest calls."""
    class Immediate(CallbackBackend):
        def submit(self, indices, done):
            if 3 in np.atleast_1d(indices).tolist():
                raise RuntimeError("cannot send")
            done(echo_output(indices), None, None)

    out = str(tmp_path / "run")
    n = 4000  # Offline, one sample per request: 4000 answers given inside submit
    run_capture(_harness(Immediate(), n=n), scenario="Offline", passes=1, out=out,
                experiment=Experiment(max_in_flight=2, warmup_queries=0, offline_batch_size=1),
                **QUIET)
    run = load_run(out)
    assert len(run) == n and run.complete
    assert run["sample_index"][run["status"] == "error"].tolist() == [3]
