"""The pool SUT: n_k servers per model variant behind one dispatcher thread that asks a policy.

A *server* serves one query at a time from its own FCFS queue (the paper's servers, and the
routing simulator's). LoadGen's issue callback only stamps the query and hands it to the
dispatcher's inbox (a ``SimpleQueue.put``, about a microsecond: loadgen-facts §9, late issuing
is charged to the SUT). The **dispatcher** is the one thread that owns the pool's state: it
calls ``policy.choose(state)`` for each arrival, puts the job on the chosen server's queue (or
holds it in a central FCFS queue when the policy returns ``HOLD``) and hears from every server
when a job is done, so ``state`` needs no lock. The policy is duck-typed — anything with
``choose(state) → server`` (``-1`` for HOLD), ``snapshot()`` and ``describe()``; the state
object is made by ``state_factory(servers)`` — so capture imports nothing of the routing room
(the workflow passes ``routing.PoolState`` and a policy built by ``routing.make_policy``).

Every server is a **thread**. Per variant, ``executors[k]`` says where its model computes:
``"thread"`` — in that thread (right for runtimes that release the GIL while they compute:
``time.sleep``, large PyTorch ops), or ``"process"`` — in a worker process of its own, one per
server (``_pool_process.py``), built by ``process_builders[k]()``, for runtimes that hold the
GIL for most of a call (small PyTorch models: their Python-side overhead dominates). The
thread then only passes the inputs over a pipe and waits, the worker measures the service
time, and the sample's bookkeeping stays in the thread, so wait, service and exactly-once
completion are recorded the same way for both. A worker that dies fails the run (status
``failed``, the reason naming the server); every record already captured stays.
``pool_info`` records the executor of every variant and why.

Per sample the record holds the variant and the server (numbered within its variant) that
served it, its wait (issue → start of service, on the wrapper's clock) and its service time
(the backend's ``predict``), and its output. Completion follows ``CaptureSUT``'s rule: a job
sits in ``_pending`` from its issue; whoever pops it first (its server or the watchdog)
completes it, so every sample is completed exactly once. A failing backend makes that
sample's status ``error``; a failing policy cancels the test (the watchdog then completes
every pending sample), so no exception ever reaches LoadGen.
"""

import collections
import queue
import threading
import time

import mlperf_loadgen as lg
import numpy as np

from .._errors import RunFailed
from ._pool_process import ProcessServer, WorkerDied
from ._sut import CaptureSUT, _as_outputs, _one_line, responses_for

HOLD = -1  # the policy's "wait in the central queue" (routing.HOLD; capture does not import it)
_ARRIVAL, _DONE = 0, 1


class PoolBackend:
    """The pool's variants as one backend, for what ``CaptureSession`` does with a backend:
    ``load`` loads every variant, and ``predict`` (the warm-up only) takes the variants in turn,
    so each is warm before LoadGen starts."""

    def __init__(self, names, backends):
        if len(names) != len(backends) or not names:
            raise ValueError("one backend per variant name")
        self.names, self.backends = tuple(names), tuple(backends)
        self._turn = 0

    def load(self):
        for b in self.backends:
            b.load()
        return self

    def name(self):
        return "pool"

    def version(self):
        return "+".join(f"{n}={b.name()}-{b.version()}" for n, b in zip(self.names, self.backends))

    def predict(self, inputs):
        backend = self.backends[self._turn % len(self.backends)]
        self._turn += 1
        return backend.predict(inputs)


class PoolSUT(CaptureSUT):
    """``servers[k]`` servers of variant k (``backend.backends[k]``), routed by a policy.

    Call ``set_policy`` before every LoadGen test (a policy carries state: one per test)."""

    def __init__(self, backend, dataset, servers, state_factory, *, runtimes=None,
                 releases_gil=None, executors=None, process_builders=None, executor_reason=None,
                 watchdog_timeout_s=60.0, cancel_grace_s=10.0, on_stuck=None, log=print):
        super().__init__(backend, dataset, threaded=True, batch_size=1, workers=1,
                         watchdog_timeout_s=watchdog_timeout_s, cancel_grace_s=cancel_grace_s,
                         on_stuck=on_stuck, log=log, scenario="Server")
        self.workers = 0  # CaptureSUT starts no worker threads: the pool runs its own
        servers = [int(n) for n in servers]
        if len(servers) != len(backend.backends) or min(servers) < 1:
            raise ValueError("one server count ≥ 1 per variant")
        self.pool_backend = backend
        self.servers = servers
        self.first = [sum(servers[:k]) for k in range(len(servers))]
        self.type_of = [k for k, n in enumerate(servers) for _ in range(n)]
        self.state_factory = state_factory
        self.runtimes = list(runtimes or [None] * len(servers))
        self.releases_gil = list(releases_gil or [None] * len(servers))
        self.executors = list(executors or ["thread"] * len(servers))
        builders = list(process_builders or [None] * len(servers))
        if len(self.executors) != len(servers) or set(self.executors) - {"thread", "process"}:
            raise ValueError("one executor per variant: 'thread' or 'process'")
        if any(e == "process" and b is None for e, b in zip(self.executors, builders)):
            raise ValueError("a variant served in processes needs a process builder")
        self.process_builders = builders
        self.executor_reason = executor_reason
        self._workers = {}  # server → ProcessServer, started at the first test, kept until close
        self.policy, self.target_qps, self._last = None, None, None
        self._inbox, self._queues, self._pool_threads = None, [], []
        self._handoff = []

    def set_policy(self, policy, target_qps=None):
        self.policy, self.target_qps = policy, target_qps

    # -- LoadGen callback: stamp and hand over, nothing else --------------------------------
    def issue(self, ids, indices):
        keys, t_arrive = self._pend_samples(ids, indices)
        put = self._inbox.put
        for key in keys:
            put((_ARRIVAL, key, t_arrive))

    # -- the dispatcher: the only thread that touches the pool state and the policy ---------
    def _dispatch(self, stats):
        state = self.state_factory(self.servers)
        choose, assign, release = self.policy.choose, state.assign, state.release
        queues, total = self._queues, len(self.type_of)
        held = collections.deque()
        chosen = [0] * len(self.servers)
        stats["chosen"], stats["state"] = chosen, state
        cost = stats["dispatch_ns"]
        clock = time.perf_counter_ns
        while True:
            msg = self._inbox.get()
            if msg is None:
                return
            try:
                if msg[0] == _ARRIVAL:
                    d0 = clock()
                    s = choose(state)
                    if s == HOLD:
                        held.append(msg)
                        stats["held"] += 1
                    else:
                        if not (isinstance(s, (int, np.integer)) and 0 <= s < total):
                            raise ValueError(f"policy chose server {s!r}; the pool has {total}")
                        idle = state.load[s] == 0
                        assign(s)
                        chosen[self.type_of[s]] += 1
                        queues[s].put((msg[1], msg[2], idle))
                    cost.append(clock() - d0)
                else:
                    s = msg[1]
                    release(s)
                    if held and state.load[s] == 0:
                        assign(s)
                        chosen[self.type_of[s]] += 1
                        job = held.popleft()
                        queues[s].put((job[1], job[2], False))
            except BaseException as exc:  # noqa: BLE001 — the watchdog completes what is pending
                self.cancel(f"routing policy failed: {_one_line(exc)}", "error")
                self.log(f"tailq: {self.cancel_reason}; ending the test")

    def _serve(self, s):
        k = self.type_of[s]
        backend, name = self._workers.get(s, self.pool_backend.backends[k]), self.pool_backend.names[k]
        local = s - self.first[k]
        jobs, inbox = self._queues[s], self._inbox
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                wait = self._run_job(job[0], job[1], backend, name, local)
                if job[2] and wait is not None:  # found its server idle: the wait is hand-off
                    self._handoff.append(wait)
            except BaseException as exc:  # noqa: BLE001 — a lost completion would hang LoadGen
                self.cancel(f"internal error in pool server {s}: {_one_line(exc)}", "error")
            finally:
                inbox.put((_DONE, s))

    def _run_job(self, key, t_arrive, backend, name, local):
        # pop, then put back with its start time: if the watchdog completed it in between, it
        # is gone and stays gone (never completed twice)
        item = self._pending.pop(key, None)
        if item is None:
            return None
        t0 = time.perf_counter_ns()
        self._pending[key] = (t0,) + item[1:]
        _, ids, indices, qseq, t_issue = item
        status, error, arr, parts, service = "ok", None, None, None, 0
        if self.cancel_reason is not None:
            status, error = "cancelled", self.cancel_reason
        else:
            try:
                inputs = self.dataset.get_samples(indices)
                c0 = time.perf_counter_ns()
                outs = backend.predict(inputs)
                service = time.perf_counter_ns() - c0
                if isinstance(backend, ProcessServer):  # the worker's own time, not the pipe's
                    service = backend.last_service_ns
                arr, parts = _as_outputs(outs, 1)
            except WorkerDied as exc:  # the server is gone: end the test, keep what was captured
                status, error = "error", _one_line(exc)
                self.cancel(f"pool server failed: {exc}", "error")
                self.log(f"tailq: {self.cancel_reason}; ending the test")
            except BaseException as exc:  # noqa: BLE001 — a failing backend: this sample's error
                status, error = "error", _one_line(exc)
        if self._pending.pop(key, None) is None:
            return None  # the watchdog completed it already
        responses, outputs = responses_for(ids, arr, parts)
        t_done = time.time_ns()
        lg.QuerySamplesComplete(responses)
        self._writer.add((1, qseq, key, indices[0], t_issue, t_done, service, status, error,
                          outputs, (None, None, name, local, t0 - t_arrive, service)))
        return t0 - t_arrive

    # -- one LoadGen test ---------------------------------------------------------------
    def start_test(self, sut, qsl, settings, log_settings, writer, audit_config=""):
        if self.policy is None:
            raise ValueError("PoolSUT: set_policy before each test")
        self.start_workers()
        self._inbox = queue.SimpleQueue()
        self._queues = [queue.SimpleQueue() for _ in self.type_of]
        stats = {"dispatch_ns": [], "held": 0, "chosen": None, "state": None}
        self._handoff = []
        self._pool_threads = [threading.Thread(target=self._dispatch, args=(stats,),
                                               name="tailq-pool-dispatcher", daemon=True)]
        self._pool_threads += [threading.Thread(target=self._serve, args=(s,), daemon=True,
                                                name=f"tailq-pool-server-{s}")
                               for s in range(len(self.type_of))]
        for t in self._pool_threads:
            t.start()
        try:
            super().start_test(sut, qsl, settings, log_settings, writer, audit_config)
        finally:
            for q in self._queues:  # servers finish the job in hand (its record) and leave
                q.put(None)
            for t in self._pool_threads[1:]:
                t.join(timeout=1.0)  # a server stuck in a hung backend is left behind (daemon)
            self._inbox.put(None)
            self._pool_threads[0].join(timeout=1.0)
            self._last = self._test_summary(stats)
            self.policy = None  # a policy's state belongs to one test

    def start_workers(self):
        """Start (once per session) a worker process per server of each process variant, all
        at once, and warm each with one sample, so that no test pays the start-up."""
        wanted = [s for s, k in enumerate(self.type_of)
                  if self.executors[k] == "process" and s not in self._workers]
        if not wanted:
            return
        for s in wanted:
            k = self.type_of[s]
            label = f"pool server {s} ({self.pool_backend.names[k]} #{s - self.first[k]})"
            self._workers[s] = ProcessServer(self.process_builders[k], label).start()
        try:
            warm = self.dataset.get_samples([0])
        except Exception:  # noqa: BLE001 — a dataset that serves loaded samples only: no warm-up
            warm = None
        for s in wanted:
            try:
                self._workers[s].wait_ready()
                if warm is not None:
                    self._workers[s].predict(warm)
            except Exception as exc:  # noqa: BLE001 — no test can run: one line, exit 4
                raise RunFailed(f"{_one_line(exc) if not isinstance(exc, WorkerDied) else exc}") from None

    def worker_pids(self):
        """The worker process of each process server (server → pid)."""
        return {s: w.pid for s, w in self._workers.items()}

    def close(self):
        for w in self._workers.values():
            w.close()
        self._workers = {}
        super().close()

    def _test_summary(self, stats):
        cost = np.asarray(stats["dispatch_ns"], dtype=np.float64)
        handoff = np.asarray(self._handoff, dtype=np.float64)
        policy = self.policy
        out = {"policy": _plain(policy.describe()), "policy_state": _plain(policy.snapshot()),
               "target_qps": self.target_qps,
               "decisions_per_variant": dict(zip(self.pool_backend.names,
                                                 stats["chosen"] or [0] * len(self.servers))),
               "held_jobs": int(stats["held"]), "decisions": int(cost.size),
               "dispatch_ns_per_decision": {
                   "mean": float(cost.mean()) if cost.size else None,
                   "p50": float(np.percentile(cost, 50)) if cost.size else None,
                   "p99": float(np.percentile(cost, 99)) if cost.size else None},
               # issue → start of service for the jobs that found their server idle: the whole
               # cost of the pool's hand-offs, which a simulated pool does not have
               "handoff_ns": {
                   "jobs": int(handoff.size),
                   "mean": float(handoff.mean()) if handoff.size else None,
                   "p50": float(np.percentile(handoff, 50)) if handoff.size else None,
                   "p99": float(np.percentile(handoff, 99)) if handoff.size else None}}
        return out

    def test_record(self):
        """The last test's routing record (``tests[].routing`` in the metadata)."""
        return self._last

    def dispatch_info(self):
        return {"mode": "pool", "max_in_flight": len(self.type_of), "request_batch_size": 1,
                "max_in_flight_requested": 0}

    def pool_info(self):
        """The run's ``pool`` metadata: executor, servers, and per variant what it ran on."""
        variants = []
        for k, (name, b) in enumerate(zip(self.pool_backend.names, self.pool_backend.backends)):
            variants.append({"name": name, "servers": self.servers[k], "first_server": self.first[k],
                             "backend": b.name(), "version": b.version(),
                             "runtime": self.runtimes[k], "releases_gil": self.releases_gil[k],
                             "executor": self.executors[k]})
        kinds = set(self.executors)
        executor = "mixed" if len(kinds) > 1 else ("processes" if kinds == {"process"} else "threads")
        reason = self.executor_reason or (
            "a thread per server; variants marked process compute in a worker process per server")
        return {"executor": executor, "executor_reason": reason,
                "servers": len(self.type_of), "variants": variants}


def _plain(value):
    """Policy records as plain JSON values (tuples and NumPy numbers are fine for to_json;
    non-finite numbers are not: they become null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
