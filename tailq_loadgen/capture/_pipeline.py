"""The pipeline SUT: stage pools in series, each with a batch size and replicas (server threads).

A query enters stage 0 when LoadGen issues it and leaves the last stage when it is completed;
LoadGen's latency is therefore end to end. Per stage, queries wait in one FCFS queue; a
replica that is free forms the next **batch**: it leaves when ``batch`` queries wait, or when
its oldest query has waited ``batch_timeout_s`` at this stage (so LoadGen's last queries, which
no later arrival will ever fill up, are not stranded). Replicas form batches one at a time
(a lock), so the stage behaves as the planner's model of it — a batcher in front of k servers,
FCFS — except where the timeout fires; the test record counts those batches. The stage's
backend ``predict`` runs on the whole batch; each row of its output is the next stage's input.

Replicas are **threads** (right for runtimes that release the GIL while they compute, such as
PyTorch; issue 15's trap: tiny models that hold it for their Python overhead run slower in a
threaded pool than alone — profile them under the conditions they run in).

Per sample the record holds ``variant`` = the variants of the stages joined by ``/`` (e.g.
``enc-cnn/clf-mlp``), ``wait_ns`` = its waiting summed over stages (batch formation and
queueing, on the wrapper's clock) and ``service_ns`` = the service of the batches it was in,
summed over stages; ``server`` is left null. Per stage, every batch's size, service time
(``predict``), busy time (the replica's whole time on the batch: inputs, ``predict``, hand-off
or completion — what the next batch waits behind) and whether its timeout fired are kept for
the test record and :meth:`PipelineSUT.stage_batches`.

Completion follows ``CaptureSUT``'s rule: a sample sits in ``_pending`` from its issue; whoever
pops it first (the last stage, a failing stage, or the watchdog) completes it, so every sample
is completed exactly once. A failing backend completes its batch's samples with status
``error``; an internal failure cancels the test (the watchdog then completes every pending
sample), so no exception ever reaches LoadGen.
"""

import collections
import threading
import time

import mlperf_loadgen as lg
import numpy as np

from ._pool import PoolBackend
from ._sut import CaptureSUT, _as_outputs, _one_line, responses_for


class PipelineBackend(PoolBackend):
    """The stages' backends as one, for what ``CaptureSession`` does with a backend: ``load``
    loads each (the pool's), and ``predict`` (the warm-up) runs a batch through every stage in
    series."""

    def __init__(self, stages, variants, backends):
        if not (len(stages) == len(variants) == len(backends)) or not stages:
            raise ValueError("one stage name, variant and backend per stage")
        super().__init__(variants, backends)
        self.stages, self.variants = tuple(stages), tuple(variants)

    @property
    def label(self):
        return "/".join(self.variants)

    def name(self):
        return "pipeline"

    def version(self):
        return "+".join(f"{s}:{v}={b.name()}-{b.version()}"
                        for s, v, b in zip(self.stages, self.variants, self.backends))

    def predict(self, inputs):
        for b in self.backends:
            inputs = b.predict(inputs)
        return inputs


class _Stage:
    """One stage's queue, batching rule and statistics (its replicas are the SUT's threads)."""

    def __init__(self, index, batch, replicas, timeout_ns):
        self.index, self.batch, self.replicas, self.timeout_ns = index, batch, replicas, timeout_ns
        self.jobs = collections.deque()     # (key, arrival at this stage, input row or None)
        self.cond = threading.Condition()
        self.forming = threading.Lock()     # one replica forms a batch at a time
        self.stopping = False
        self.batches = []                   # (size, service_ns, timed out)

    def put(self, job):
        with self.cond:
            self.jobs.append(job)
            n = len(self.jobs)
            if n == 1 or n >= self.batch:
                self.cond.notify()

    def take(self):
        """The next batch (a list of jobs, and whether the timeout released it), or None to stop."""
        with self.forming, self.cond:
            while not self.jobs:
                if self.stopping:
                    return None, False
                self.cond.wait()
            deadline = self.jobs[0][1] + self.timeout_ns
            while len(self.jobs) < self.batch and not self.stopping:
                left = deadline - time.perf_counter_ns()
                if left <= 0:
                    break
                self.cond.wait(left / 1e9)
            n = min(self.batch, len(self.jobs))
            return [self.jobs.popleft() for _ in range(n)], n < self.batch

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


class PipelineSUT(CaptureSUT):
    """Stage k: ``backend.backends[k]`` on ``replicas[k]`` server threads, batches of
    ``batches[k]`` (released early after ``batch_timeout_s`` at that stage)."""

    def __init__(self, backend, dataset, batches, replicas, *, batch_timeout_s,
                 watchdog_timeout_s=60.0, cancel_grace_s=10.0, on_stuck=None, log=print):
        super().__init__(backend, dataset, threaded=True, batch_size=1, workers=1,
                         watchdog_timeout_s=watchdog_timeout_s, cancel_grace_s=cancel_grace_s,
                         on_stuck=on_stuck, log=log, scenario="Server")
        self.workers = 0  # CaptureSUT starts no worker threads: the stages run their own
        n = len(backend.backends)
        batches, replicas = [int(b) for b in batches], [int(r) for r in replicas]
        if len(batches) != n or len(replicas) != n or min(batches) < 1 or min(replicas) < 1:
            raise ValueError("one batch size ≥ 1 and one replica count ≥ 1 per stage")
        if not batch_timeout_s > 0:
            raise ValueError("batch_timeout_s must be positive")
        self.pipeline = backend
        self.batches, self.replicas = batches, replicas
        self.batch_timeout_s = float(batch_timeout_s)
        self._stages, self._pipe_threads, self._last = [], [], None
        self._acc = {}  # key → [wait_ns, service_ns] summed over the stages so far

    # -- LoadGen callback: stamp and hand over, nothing else --------------------------------
    def issue(self, ids, indices):
        keys, t_arrive = self._pend_samples(ids, indices)
        first = self._stages[0]
        for key in keys:
            first.put((key, t_arrive, None))

    # -- a replica of stage k ---------------------------------------------------------------
    def _serve(self, k):
        stage = self._stages[k]
        try:
            while True:
                jobs, timed_out = stage.take()
                if jobs is None:
                    return
                self._run_batch_of(k, stage, jobs, timed_out)
        except BaseException as exc:  # noqa: BLE001 — a lost completion would hang LoadGen
            self.cancel(f"internal error in pipeline stage {k}: {_one_line(exc)}", "error")

    def _run_batch_of(self, k, stage, jobs, timed_out):
        t0 = time.perf_counter_ns()
        live = []
        for key, t_arrive, row in jobs:
            if k == 0:  # the watchdog times a sample from the start of its first service
                item = self._pending.pop(key, None)
                if item is None:
                    continue  # completed already (the watchdog)
                self._pending[key] = (t0,) + item[1:]
                self._acc[key] = [t0 - t_arrive, 0]
                row = item[2][0]  # stage 0's input is the sample's index in the dataset
            elif key not in self._pending:
                continue
            else:
                self._acc[key][0] += t0 - t_arrive
            live.append((key, row))
        if not live:
            return
        if self.cancel_reason is not None:
            self._finish(live, "cancelled", self.cancel_reason, None)
            return
        status, error, arr, service = "ok", None, None, 0
        try:
            if k == 0:
                inputs = self.dataset.get_samples(np.array([row for _, row in live]))
            else:
                inputs = np.stack([row for _, row in live])
            c0 = time.perf_counter_ns()
            outs = self.pipeline.backends[k].predict(inputs)
            service = time.perf_counter_ns() - c0
            arr, _ = _as_outputs(outs, len(live))
            if arr is None:
                raise TypeError("a pipeline stage must return one array with a row per sample")
        except BaseException as exc:  # noqa: BLE001 — a failing backend: this batch's error
            status, error = "error", _one_line(exc)
        for key, _ in live:
            acc = self._acc.get(key)
            if acc is not None:
                acc[1] += service
        if status != "ok" or k == len(self._stages) - 1:
            self._finish(live, status, error, arr)
        else:
            t_next = time.perf_counter_ns()
            nxt = self._stages[k + 1]
            for j, (key, _) in enumerate(live):
                nxt.put((key, t_next, arr[j]))
        # busy: the replica's whole time on this batch (inputs, predict, hand-off or completion),
        # which is what keeps the next batch waiting; service: predict alone
        stage.batches.append((len(live), service, timed_out, time.perf_counter_ns() - t0))

    def _finish(self, live, status, error, arr):
        label = self.pipeline.label
        for j, (key, _) in enumerate(live):
            item = self._pending.pop(key, None)
            wait, service = self._acc.pop(key, (0, 0))
            if item is None:
                continue  # the watchdog completed it already
            _, ids, indices, qseq, t_issue = item
            row = arr[j:j + 1] if arr is not None and status == "ok" else None
            responses, outputs = responses_for(ids, row, None)
            t_done = time.time_ns()
            lg.QuerySamplesComplete(responses)
            self._writer.add((1, qseq, key, indices[0], t_issue, t_done, service, status, error,
                              outputs, (None, None, label, None, wait, service)))

    # -- one LoadGen test ---------------------------------------------------------------
    def start_test(self, sut, qsl, settings, log_settings, writer, audit_config=""):
        timeout_ns = int(self.batch_timeout_s * 1e9)
        self._stages = [_Stage(k, b, r, timeout_ns)
                        for k, (b, r) in enumerate(zip(self.batches, self.replicas))]
        self._acc = {}
        self._pipe_threads = [threading.Thread(target=self._serve, args=(k,), daemon=True,
                                               name=f"tailq-pipe-{k}-{i}")
                              for k, st in enumerate(self._stages) for i in range(st.replicas)]
        for t in self._pipe_threads:
            t.start()
        try:
            super().start_test(sut, qsl, settings, log_settings, writer, audit_config)
        finally:
            for st in self._stages:
                st.stop()
            for t in self._pipe_threads:
                t.join(timeout=1.0)  # a replica stuck in a hung backend is left behind (daemon)
            self._last = self._test_summary()

    def stage_batches(self):
        """Per stage of the last test: arrays (batch size, service ns, timed out) per batch."""
        out = []
        for st in self._stages:
            rows = np.array(st.batches, dtype=np.int64).reshape(-1, 4)
            out.append({"size": rows[:, 0], "service_ns": rows[:, 1], "timed_out": rows[:, 2] > 0,
                        "busy_ns": rows[:, 3]})
        return out

    def _test_summary(self):
        stages = []
        for k, b in enumerate(self.stage_batches()):
            full = b["size"] == self.batches[k]
            svc = b["service_ns"][full].astype(np.float64)
            busy = b["busy_ns"][full].astype(np.float64)
            stages.append({
                "stage": self.pipeline.stages[k], "variant": self.pipeline.variants[k],
                "batch": self.batches[k], "replicas": self.replicas[k],
                "batches": int(b["size"].size), "timed_out_batches": int(b["timed_out"].sum()),
                "mean_batch": float(b["size"].mean()) if b["size"].size else None,
                "full_batch_service_ns": {
                    "n": int(svc.size), "mean": float(svc.mean()) if svc.size else None,
                    "p99": float(np.percentile(svc, 99)) if svc.size else None},
                "full_batch_busy_ns": {
                    "mean": float(busy.mean()) if busy.size else None,
                    "p99": float(np.percentile(busy, 99)) if busy.size else None}})
        return {"pipeline": self.pipeline.label, "batch_timeout_s": self.batch_timeout_s,
                "stages": stages}

    def test_record(self):
        """The last test's per-stage record (``tests[].routing`` in the metadata)."""
        return self._last

    def dispatch_info(self):
        return {"mode": "pipeline", "max_in_flight": int(sum(self.replicas)),
                "request_batch_size": 1, "max_in_flight_requested": 0}

    def pool_info(self):
        """The run's ``pool`` metadata: executor, and per stage its variant, batch and replicas."""
        stages = [{"stage": s, "name": v, "batch": b, "replicas": r, "servers": r,
                   "backend": be.name(), "version": be.version(), "executor": "thread"}
                  for s, v, b, r, be in zip(self.pipeline.stages, self.pipeline.variants,
                                            self.batches, self.replicas, self.pipeline.backends)]
        return {"executor": "threads", "kind": "pipeline",
                "executor_reason": "a thread per replica: the stages' runtimes release the GIL "
                                   "while they compute (servers in processes are not built)",
                "servers": int(sum(self.replicas)), "batch_timeout_s": self.batch_timeout_s,
                "variants": stages}
