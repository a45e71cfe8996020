"""``run_capture``: drive LoadGen over a harness for one or more tests and keep every sample."""

import dataclasses
import datetime
import gc
import os
import sys
import threading
import time

import mlperf_loadgen as lg
import numpy as np
import pyarrow as pa

from .. import records
from .._errors import RunAborted, UserError
from ._calibrate import describe_tests, estimate_test, tests_label
from ._progress import NullReporter, PassProgress
from ._settings import MODES, SCENARIOS, Experiment, SessionSettings, snapshot
from ._sut import CaptureSUT
from ._system import collect_code, collect_system, collect_versions, prefetch

_SEED_KEYS = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")


@dataclasses.dataclass(frozen=True)
class CaptureResult:
    """What a capture produced: where, how many samples per status, and whether it finished."""

    run_dir: str
    passes: int
    samples: int
    status_counts: dict
    complete: bool
    abort_reason: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _pass_seeds(base, pass_index):
    """Distinct, reproducible LoadGen seeds per pass (pass 0 keeps mlperf.conf's own)."""
    if pass_index == 0:
        return dict(base)
    out = {}
    for key, value in base.items():
        state = np.random.SeedSequence([int(value), pass_index]).generate_state(1, np.uint64)
        out[key] = int(state[0])
    return out


def plan_tests(mode, passes):
    """The list of LoadGen test modes a capture runs: K AccuracyOnly passes, or one test."""
    if passes is None:
        mode = mode or "PerformanceOnly"
        if mode not in MODES:
            raise UserError(f"--mode {mode!r}: unknown; choose one of {', '.join(MODES)}")
        return [mode]
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise UserError(f"--passes {passes!r}: must be a whole number ≥ 1")
    if mode not in (None, "AccuracyOnly"):
        raise UserError(f"--passes runs AccuracyOnly passes; drop --mode {mode} or --passes")
    return ["AccuracyOnly"] * passes


def run_capture(harness, *, scenario, out, mode=None, passes=None, tests=None,
                user_conf=None, experiment=None, overrides=None, count=None, overwrite=False,
                log=print, mlperf_conf=None, audit_conf=None, progress=None):
    """Run ``harness`` under LoadGen and write a run directory at ``out``.

    ``tests`` (a list of LoadGen modes, one per test) overrides ``mode``/``passes``. Every
    test is one "pass" of the record (its index is the ``pass`` column). Raises UserError for
    bad input before anything is written, RunAborted when the watchdog or the user ended it.
    """
    modes = list(tests) if tests is not None else plan_tests(mode, passes)
    with CaptureSession(harness, scenario=scenario, out=out, first_mode=modes[0] if modes else None,
                        user_conf=user_conf, experiment=experiment, overrides=overrides,
                        count=count, overwrite=overwrite, log=log, mlperf_conf=mlperf_conf,
                        audit_conf=audit_conf, progress=progress) as session:
        session.announce(modes)
        session.run(modes)
    return session.result()


class CaptureSession:
    """One run directory, filled by one or more rounds of LoadGen tests.

    ``run(modes)`` appends tests (passes) and may be called again — ``tailq estimate`` adds
    rounds of passes until its prediction converges. Leaving the ``with`` block (or
    ``close()``) marks the run complete, or aborted with the reason.
    """

    def __init__(self, harness, *, scenario, out, first_mode=None, user_conf=None,
                 experiment=None, overrides=None, count=None, overwrite=False, log=print,
                 mlperf_conf=None, audit_conf=None, progress=None):
        self.experiment = experiment = experiment or Experiment()
        prefetch()  # the system description's slow part runs while the backend loads
        if scenario not in SCENARIOS:
            raise UserError(f"--scenario {scenario!r}: unknown; choose one of {', '.join(SCENARIOS)}")
        self.harness, self.scenario, self.out, self.log = harness, scenario, out, log
        self.overrides = dict(overrides or {})
        dataset, backend = harness.dataset, harness.backend
        total = int(dataset.get_item_count())
        if total <= 0:
            raise UserError(f"harness {harness.name}: its dataset is empty; nothing to measure")
        if count is not None:
            if count < 1:
                raise UserError(f"--count {count}: must be at least 1")
            total = min(total, int(count))
        self.total = total
        self.model = getattr(harness, "model", harness.name)
        self.progress = progress if progress is not None else NullReporter(log)
        # Build once up front so that a bad config fails before a directory is made.
        self.settings = SessionSettings(model=self.model, scenario=scenario, harness_name=harness.name,
                                        user_conf=user_conf, mlperf_conf=mlperf_conf,
                                        audit_conf=audit_conf, experiment=experiment,
                                        overrides=self.overrides, first_mode=first_mode or "AccuracyOnly")
        requested = self.settings.requested
        self.base_seeds = {k: requested[k] for k in _SEED_KEYS}
        records.create_run_dir(out, overwrite=overwrite)

        backend.load()
        perf_count = min(total, int(getattr(dataset, "performance_sample_count", total) or total))
        describe = harness.describe()
        self.meta = meta = {
            "tailq_version": collect_versions()["tailq_loadgen"],
            "versions": collect_versions(),
            "system": collect_system(),
            "code": collect_code(harness),
            "harness": describe,
            "backend": {"name": backend.name(), "version": backend.version()},
            "scenario": scenario,
            "mode": first_mode,
            "tests_requested": [],
            "sample_count": total,
            "performance_sample_count": perf_count,
            "latency_source": "loadgen_trace" if experiment.trace else "wrapper",
            "latency_note": None if experiment.trace else
            "trace-less run: latency_ns is the wrapper's issue-to-complete time, which falls "
            "short of LoadGen's by its scheduling overhead (see docs/capture.md)",
            "settings": self.settings.as_dict(),
            "seeds": {"loadgen": self.base_seeds, "per_pass_seeds": experiment.vary_seeds_per_pass,
                      "harness": describe.get("seed")},
            "threads": describe.get("threads"),
            "started": _now(), "ended": None, "complete": False, "status": "running",
            "abort_reason": None, "tests": [], "output": None, "warnings": [],
        }
        self.batch = _batch_size(scenario, requested, experiment)
        meta["warmup"], hung = _warm_up(backend, dataset, total, experiment.warmup_queries,
                                        self.batch, experiment.watchdog_timeout_s)
        if hung:
            reason = (f"backend did not answer within {experiment.watchdog_timeout_s:g} s during "
                      "warm-up (watchdog); LoadGen was not started")
            meta.update(status="aborted", abort_reason=reason, ended=_now())
            records.write_metadata(out, meta)
            raise RunAborted(f"run aborted: {reason}", run_dir=out)
        for w in self.settings.warnings:
            self.progress.note(f"warning: {w}")
        measured = self.settings.calibrate(meta["warmup"])
        if measured:
            self.progress.note(f"LoadGen settings for {self.model} {scenario}: {measured}")
        meta["settings"] = self.settings.as_dict()
        records.write_metadata(out, meta)
        _write_samples(out, dataset, total)

        self._writer = None
        self.sut = CaptureSUT(backend, dataset, threaded=scenario == "Server",
                              batch_size=self.batch, workers=experiment.server_workers,
                              watchdog_timeout_s=experiment.watchdog_timeout_s,
                              cancel_grace_s=experiment.cancel_grace_s, on_stuck=self._on_stuck,
                              log=log, scenario=scenario, max_in_flight=experiment.max_in_flight)
        meta["dispatch"] = self.sut.dispatch_info()
        records.write_metadata(out, meta)
        self.lg_sut = lg.ConstructFastSUT(self.sut.issue, self.sut.flush)
        self.lg_qsl = lg.ConstructQSL(total, perf_count, self.sut.load_samples,
                                      self.sut.unload_samples)
        self.status_counts = {}
        self.pace_s = None  # seconds per sample of the last AccuracyOnly pass
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def passes(self):
        return len(self.meta["tests"])

    def announce(self, modes, label=None, overrides=None):
        """Say how long ``modes`` will take, before they run (from the warm-up's timing)."""
        by_mode = {m: estimate_test(self.scenario, m, snapshot(self.settings.build(m, overrides)[0]),
                                    samples=self.total, warmup=self.meta["warmup"], pace_s=self.pace_s)
                   for m in set(modes)}
        self.progress.note(describe_tests(label or tests_label(modes), [by_mode[m] for m in modes]))

    def _on_stuck(self, reason):
        # Last resort when LoadGen cannot finish (a backend stuck in native code, or a
        # second Ctrl-C): keep what is captured, say so, and leave the process.
        if self._writer is not None:
            self._writer.flush()
        self.meta.update(status="aborted", abort_reason=reason, ended=_now(), complete=False)
        records.write_metadata(self.out, self.meta)
        print(f"tailq: run aborted: {reason}. Records captured so far are in {self.out} "
              "(the last pass is partial).", file=sys.stderr, flush=True)
        os._exit(130 if self.sut.user_interrupts else 3)

    def run(self, modes, overrides=None):
        """Append one LoadGen test per mode; ``overrides`` apply to these tests only."""
        for m in modes:
            if m not in MODES:
                raise UserError(f"test mode {m!r}: unknown; choose one of {', '.join(MODES)}")
        out, experiment, sut = self.out, self.experiment, self.sut
        for test_mode in modes:
            index = self.passes
            ts, _ = self.settings.build(test_mode, overrides)
            seeds = _pass_seeds(self.base_seeds, index) if experiment.vary_seeds_per_pass \
                else self.base_seeds
            for key, value in seeds.items():
                setattr(ts, key, value)
            lg_dir = records.loadgen_dir(out, index)
            os.makedirs(lg_dir, exist_ok=True)  # LoadGen silently does nothing without it
            log_settings = lg.LogSettings()
            log_settings.log_output.outdir = lg_dir
            log_settings.log_output.copy_summary_to_stdout = False
            # FindPeakPerformance runs many tests inside one StartTest and LoadGen's trace
            # numbers each afresh, so it cannot be joined: its latencies are the wrapper's.
            trace = experiment.trace and test_mode != "FindPeakPerformance"
            log_settings.enable_trace = trace
            writer = records.PassWriter(records.partial_dir(out, index), index,
                                        rows_per_segment=experiment.segment_rows,
                                        seconds_per_segment=experiment.segment_seconds,
                                        wrapper_latency=not trace)
            self._writer = writer
            test = {"pass": index, "mode": test_mode, "seeds": seeds, "started": _now(),
                    "loadgen_dir": os.path.relpath(lg_dir, out), "complete": False}
            if overrides:
                test["overrides"] = dict(overrides)
            self.meta["tests"].append(test)
            self.meta["tests_requested"].append(test_mode)
            records.write_metadata(out, self.meta)
            gc_was_enabled = gc.isenabled()
            if not experiment.gc_during_test:
                gc.disable()
            plan = estimate_test(self.scenario, test_mode, snapshot(ts), samples=self.total,
                                 warmup=self.meta["warmup"], pace_s=self.pace_s)
            test["expected"] = plan
            t0 = time.monotonic()
            try:
                with PassProgress(self.progress, f"pass {index} ({test_mode})", writer,
                                  self.batch, plan["samples"], plan["seconds"]):
                    sut.start_test(self.lg_sut, self.lg_qsl, ts, log_settings, writer,
                                   audit_config=self.settings.audit_conf or "")
            finally:
                if gc_was_enabled:
                    gc.enable()
            if test_mode == "AccuracyOnly" and writer.rows_written and self.scenario != "Server":
                # the real pace, LoadGen's round trip included, for the next estimates
                self.pace_s = (time.monotonic() - t0) / writer.rows_written
            writer.close()
            self._writer = None
            test.update(_finish_test(out, index, lg_dir, writer, trace, sut))
            ran = (test.get("effective_settings") or {}).get("test_mode")
            if ran in MODES and ran != test_mode:  # an audit config sets its own mode
                test.update(mode=ran, requested_mode=test_mode)
            if trace != experiment.trace:
                test["latency_source"] = "wrapper"
            if test_mode == "SubmissionRun":
                # LoadGen runs the accuracy phase (every sample once) first, then performance,
                # in one test: sample_seq below this count belongs to the accuracy phase.
                override = int(snapshot(ts).get("accuracy_sample_count_override") or 0)
                test["accuracy_phase_samples"] = override if override > 0 else self.total
            for k, v in writer.status_counts.items():
                self.status_counts[k] = self.status_counts.get(k, 0) + v
            self.meta["output"] = _merge_output(self.meta["output"], writer.outputs.as_dict())
            modes_seen = {t["mode"] for t in self.meta["tests"]}
            self.meta["mode"] = modes_seen.pop() if len(modes_seen) == 1 else "mixed"
            records.write_metadata(out, self.meta)
            self.log(f"pass {index} ({test_mode}): {writer.rows_written} samples, "
                     f"{_counts_text(writer.status_counts)}")
            if sut.cancel_reason is not None:
                self.close()
                raise RunAborted(f"run aborted: {sut.cancel_reason}; the records captured so far "
                                 f"are in {out}", run_dir=out, interrupted=sut.user_interrupts > 0)

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.sut.close()
        lg.DestroyQSL(self.lg_qsl)
        lg.DestroySUT(self.lg_sut)
        aborted = self.sut.cancel_reason
        self.meta.update(ended=_now(), complete=aborted is None,
                         status="complete" if aborted is None else "aborted", abort_reason=aborted)
        records.write_metadata(self.out, self.meta)

    def result(self):
        return CaptureResult(self.out, self.passes, sum(self.status_counts.values()),
                             dict(self.status_counts), self.sut.cancel_reason is None,
                             self.sut.cancel_reason)


def _batch_size(scenario, requested, experiment):
    if scenario == "MultiStream":
        return int(requested.get("multi_stream_samples_per_query") or 8)
    if scenario == "Offline":
        return experiment.offline_batch_size
    return 1


def _warm_up(backend, dataset, total, queries, batch, timeout_s):
    """Run the backend on a few real samples before LoadGen starts; time it separately.

    A failing call is counted, not fatal (LoadGen's run will record the errors); a backend
    that does not finish warming up within the watchdog's timeout ends the run before
    LoadGen starts. Returns (info, hung).
    """
    if queries <= 0:
        return {"queries": 0}, False
    indices = list(range(min(total, max(batch, 8))))  # the same few samples, again and again
    times, errors = [], []

    def work():
        for q in range(queries):
            chunk = [indices[(q * batch + j) % len(indices)] for j in range(batch)]
            t0 = time.perf_counter_ns()
            try:
                backend.predict(dataset.get_samples(chunk))
            except Exception as exc:  # noqa: BLE001 — counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
            times.append(time.perf_counter_ns() - t0)

    dataset.load_query_samples(indices)
    try:
        worker = threading.Thread(target=work, name="tailq-warmup", daemon=True)
        worker.start()
        worker.join(timeout_s)
    finally:
        if not worker.is_alive():
            dataset.unload_query_samples(indices)
    info = {"queries": len(times), "batch_size": batch, "seconds": sum(times) / 1e9,
            "errors": len(errors), "first_error": errors[0] if errors else None}
    if times:
        info.update(first_ms=times[0] / 1e6, median_ms=float(np.median(times)) / 1e6)
    return info, worker.is_alive()


def _finish_test(out, index, lg_dir, writer, trace, sut):
    detail_path = os.path.join(lg_dir, "mlperf_log_detail.txt")
    detail = records.read_detail_log(detail_path) if os.path.exists(detail_path) else {}
    info = {"ended": _now(), "samples": writer.rows_written,
            "status_counts": dict(writer.status_counts),
            "loadgen_result": records.loadgen_result(detail),
            "effective_settings": records.effective_settings(detail)}
    info["verdict"] = records.record_verdict(lg_dir, info["loadgen_result"], info["effective_settings"],
                                             pass_index=index)
    trace_samples = None
    if trace:
        trace_samples = records.read_trace_samples(os.path.join(lg_dir, "mlperf_log_trace.json"))
    report = records.finalize_pass(records.partial_dir(out, index), records.final_path(out, index),
                                   trace_samples)
    info["join"] = report.as_dict()
    info["complete"] = sut.cancel_reason is None
    if sut.server_statistics:
        info["server_statistics"] = sut.server_statistics
    if sut.load_error:
        info["load_error"] = sut.load_error
    return info


def _merge_output(current, new):
    if new.get("dtype") is None and new.get("shape") is None:
        return current
    if current is None or current == new:
        return new
    return {"dtype": current["dtype"] if current["dtype"] == new["dtype"] else None,
            "shape": current["shape"] if current["shape"] == new["shape"] else None}


def _counts_text(counts):
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in records.STATUSES if counts.get(s))


def _write_samples(out, dataset, total):
    get_sizes = getattr(dataset, "get_sizes", None)
    sizes = np.asarray(get_sizes(), dtype=np.float64)[:total] if get_sizes else np.full(total, np.nan)
    table = pa.Table.from_arrays([pa.array(np.arange(total, dtype=np.int64)), pa.array(sizes)],
                                 schema=records.SAMPLES_SCHEMA)
    records.write_parquet_atomic(table, os.path.join(out, "samples.parquet"))
