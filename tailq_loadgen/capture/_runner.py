"""``run_capture``: drive LoadGen over a harness for one or more tests and keep every sample."""

import dataclasses
import gc
import os
import signal
import sys
import threading
import time

import mlperf_loadgen as lg
import numpy as np

from .. import records
from .._errors import RunAborted, RunFailed, UserError
from . import _guards
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
    status: str = "complete"
    status_reason: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


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


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a LoadGen test: ends the session like Ctrl-C (status interrupted)."""


class CaptureSession:
    """One run directory, filled by one or more rounds of LoadGen tests.

    ``run(modes)`` appends tests (passes) and may be called again — ``tailq estimate`` adds
    rounds of passes until its prediction converges. The directory is created (and its
    metadata written) first, locked for the session's life, and leaving the ``with`` block
    (or ``close()``) records how it ended: ``complete``; ``aborted`` (the watchdog);
    ``interrupted`` (Ctrl-C, SIGTERM — also outside a LoadGen test, e.g. during estimate's
    refit); ``failed`` with the reason (any exception, a write that failed). Never
    ``complete`` after an exception.
    """

    def __init__(self, harness, *, scenario, out, first_mode=None, user_conf=None,
                 experiment=None, overrides=None, count=None, overwrite=False, log=print,
                 mlperf_conf=None, audit_conf=None, progress=None, sut_factory=None):
        self.experiment = experiment = experiment or Experiment()
        # sut_factory(backend, dataset, **watchdog options) → a CaptureSUT of another kind
        # (the pool SUT of _pool.py); None: the capture's own SUT for the scenario
        self.sut_factory = sut_factory
        _guards.check_experiment(experiment)
        prefetch()  # the system description's slow part runs while the backend loads
        if scenario not in SCENARIOS:
            raise UserError(f"--scenario {scenario!r}: unknown; choose one of {', '.join(SCENARIOS)}")
        self.harness, self.scenario, self.out, self.log = harness, scenario, out, log
        self.overrides = dict(overrides or {})
        dataset, backend = harness.dataset, harness.backend
        self.dataset_size = total = int(dataset.get_item_count())
        if total <= 0:
            raise UserError(f"harness {harness.name}: its dataset is empty; nothing to measure")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise UserError(f"--count {count}: must be a whole number ≥ 1")
            total = min(total, count)
        self.total = total
        self.model = getattr(harness, "model", None) or harness.name
        self.progress = progress if progress is not None else NullReporter(log)
        # Build once up front so that a bad config fails before a directory is made: every
        # value is checked there (_guards), and the first test's schedule for this QSL.
        self.first_mode = first_mode or "AccuracyOnly"
        self.settings = SessionSettings(model=self.model, scenario=scenario, harness_name=harness.name,
                                        user_conf=user_conf, mlperf_conf=mlperf_conf,
                                        audit_conf=audit_conf, experiment=experiment,
                                        overrides=self.overrides, first_mode=self.first_mode,
                                        samples=total)
        self.requested = requested = self.settings.requested
        self.base_seeds = {k: requested[k] for k in _SEED_KEYS}
        perf_count = min(total, int(getattr(dataset, "performance_sample_count", total) or total))
        describe = dict(harness.describe())
        describe["args"] = records.source_args(describe.get("source"))
        describe["source"] = records.source_text(describe.get("source"))
        meta = {
            "tailq_version": collect_versions()["tailq_loadgen"], "origin": "capture",
            "versions": collect_versions(),
            "system": collect_system(),
            "code": collect_code(harness),
            "harness": describe,
            "backend": {"name": None, "version": None},
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
            "output": None, "quality": None, "quality_note": None,
        }
        self.rundir = records.RunDirectory.create(out, meta, overwrite=overwrite,
                                                  inputs=[user_conf, mlperf_conf, audit_conf])
        self.meta = self.rundir.meta
        self._closed = False
        self._writer = None
        self.sut = self.lg_sut = self.lg_qsl = None
        self.status_counts = {}
        self._saved_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._saved_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            self._start(harness, dataset, backend, total, perf_count)
        except BaseException as exc:
            self.close(exc)
            raise

    def _start(self, harness, dataset, backend, total, perf_count):
        experiment, meta = self.experiment, self.meta
        try:
            backend.load()
        except Exception as exc:  # noqa: BLE001 — the harness's own code: one line, run kept
            raise RunFailed(f"backend of harness {harness.name} failed to load: "
                            f"{records.one_line(exc)}", run_dir=self.out) from None
        meta["backend"] = {"name": backend.name(), "version": backend.version()}
        self.batch = _batch_size(self.scenario, self.requested, experiment)
        meta["warmup"], hung = _warm_up(backend, dataset, total, experiment.warmup_queries,
                                        self.batch, experiment.watchdog_timeout_s)
        if hung:
            reason = (f"backend did not answer within {experiment.watchdog_timeout_s:g} s during "
                      "warm-up (watchdog); LoadGen was not started")
            self.close(status="aborted", reason=reason)
            raise RunAborted(f"run aborted: {reason}", run_dir=self.out)
        for w in self.settings.warnings:
            self.progress.note(f"warning: {w}")
        measured = self.settings.calibrate(meta["warmup"])
        if measured:
            self.progress.note(f"LoadGen settings for {self.model} {self.scenario}: {measured}")
        meta["settings"] = self.settings.as_dict()
        self.rundir.write_metadata()
        get_sizes = getattr(dataset, "get_sizes", None)
        self.rundir.write_samples(np.asarray(get_sizes(), dtype=np.float64)[:total] if get_sizes
                                  else np.full(total, np.nan))
        watch = dict(watchdog_timeout_s=experiment.watchdog_timeout_s,
                     cancel_grace_s=experiment.cancel_grace_s, on_stuck=self._on_stuck, log=self.log)
        if self.sut_factory is not None:
            self.sut = self.sut_factory(backend, dataset, **watch)
        else:
            self.sut = CaptureSUT(backend, dataset, threaded=self.scenario == "Server",
                                  batch_size=self.batch, workers=experiment.server_workers,
                                  scenario=self.scenario, max_in_flight=experiment.max_in_flight,
                                  **watch)
        meta["dispatch"] = self.sut.dispatch_info()
        pool_info = getattr(self.sut, "pool_info", None)  # a pool SUT (_pool.py) says what ran
        if pool_info is not None:
            meta["pool"] = pool_info()
        self.rundir.write_metadata()
        self.lg_sut = lg.ConstructFastSUT(self.sut.issue, self.sut.flush)
        self.lg_qsl = lg.ConstructQSL(total, perf_count, self.sut.load_samples,
                                      self.sut.unload_samples)
        self.pace_s = None  # seconds per sample of the last AccuracyOnly pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(exc)
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
        # Last resort when LoadGen cannot finish (a backend stuck in native code, a second
        # Ctrl-C, LoadGen never issuing): keep what is captured, say so, leave the process.
        if self._writer is not None:
            try:
                self._writer.flush()
            except Exception:  # noqa: BLE001 — the segments already written stay readable
                pass
        interrupted = self.sut.user_interrupts > 0
        self.rundir.finish("interrupted" if interrupted else "aborted", reason)
        print(f"tailq: run {'interrupted' if interrupted else 'aborted'}: {reason}. Records "
              f"captured so far are in {self.out} (the last pass is partial).", file=sys.stderr,
              flush=True)
        os._exit(130 if interrupted else 3)

    def run(self, modes, overrides=None):
        """Append one LoadGen test per mode; ``overrides`` apply to these tests only."""
        for m in modes:
            if m not in MODES:
                raise UserError(f"test mode {m!r}: unknown; choose one of {', '.join(MODES)}")
        out, experiment, sut = self.out, self.experiment, self.sut
        for test_mode in modes:
            index = self.passes
            ts, _ = self.settings.build(test_mode, overrides)  # checked by the guards
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
                                        wrapper_latency=not trace, log=self.log)
            self._writer = writer
            test = {"pass": index, "mode": test_mode, "seeds": seeds, "started": records.now(),
                    "loadgen_dir": os.path.relpath(lg_dir, out), "complete": False}
            if overrides:
                test["overrides"] = dict(overrides)
            self.meta["tests"].append(test)
            self.meta["tests_requested"].append(test_mode)
            self.rundir.write_metadata()
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
            self._writer = None
            writer.close()  # WriteFailed when rows cannot reach the disk: the run fails loudly
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
            if writer.unstorable:
                self.meta["warnings"].append(
                    f"pass {index}: {writer.unstorable} outputs could not be recorded (status "
                    "error, with the reason)")
            self.meta["output"] = _merge_output(self.meta["output"], writer.outputs.as_dict())
            modes_seen = {t["mode"] for t in self.meta["tests"]}
            self.meta["mode"] = modes_seen.pop() if len(modes_seen) == 1 else "mixed"
            self.rundir.write_metadata()
            if test["mode"] == "AccuracyOnly" and test["complete"]:
                self._score(index)
            self.log(f"pass {index} ({test_mode}): {writer.rows_written} samples, "
                     f"{_counts_text(writer.status_counts)}")
            if sut.cancel_reason is not None:
                self.close()
                raise RunAborted(f"run {'interrupted' if sut.user_interrupts else 'aborted'}: "
                                 f"{sut.cancel_reason}; the records captured so far are in {out}",
                                 run_dir=out, interrupted=sut.user_interrupts > 0)

    def _score(self, index):
        """Store what the harness's metric needs for this pass, so that no reader of the run
        directory ever needs the harness (or its framework) again."""
        outputs = records.pass_outputs(records.load_run(self.out), index, self.meta["output"],
                                       self.dataset_size)
        records.store_pass_quality(self.rundir, index, outputs,
                                   getattr(self.harness, "make_metric", None),
                                   "the harness's metric at capture", self.log)

    def close(self, exc=None, status=None, reason=None):
        """End the session: the status follows ``exc`` (or what the SUT saw), see the class."""
        if self._closed:
            return
        self._closed = True
        if self._saved_sigterm is not None:
            signal.signal(signal.SIGTERM, self._saved_sigterm)
        if self._writer is not None:  # an exception inside a test: keep what can be kept
            writer, self._writer = self._writer, None
            try:
                writer.close_retry_s = 0.0
                writer.close()
            except Exception:  # noqa: BLE001 — its segments on disk stay readable
                pass
        if self.sut is not None:
            self.sut.close()
        if self.lg_qsl is not None:
            lg.DestroyQSL(self.lg_qsl)
        if self.lg_sut is not None:
            lg.DestroySUT(self.lg_sut)
        if status is None:
            status, reason = self._status(exc)
        self.rundir.finish(status, reason)

    def _status(self, exc):
        sut = self.sut
        if sut is not None and sut.cancel_reason is not None:
            if sut.user_interrupts:
                return "interrupted", sut.cancel_reason
            return ("failed" if sut.cancel_status == "error" else "aborted"), sut.cancel_reason
        return records.status_of(exc)

    @property
    def status(self):
        return self.meta["status"]

    def result(self):
        return CaptureResult(self.out, self.passes, sum(self.status_counts.values()),
                             dict(self.status_counts), self.meta["status"] == "complete",
                             self.meta["status"], self.meta.get("status_reason"))


def _raise_terminated(signum, frame):
    raise Terminated("interrupted by SIGTERM")


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
    info = {"ended": records.now(), "samples": writer.rows_written,
            "status_counts": dict(writer.status_counts),
            "loadgen_result": records.loadgen_result(detail),
            "effective_settings": records.effective_settings(detail)}
    info["verdict"] = records.record_verdict(lg_dir, info["loadgen_result"], info["effective_settings"],
                                             pass_index=index)
    trace_samples = None
    if trace:
        trace_samples = records.read_trace_samples(os.path.join(lg_dir, "mlperf_log_trace.json"))
    try:
        report = records.finalize_pass(records.partial_dir(out, index),
                                       records.final_path(out, index), trace_samples)
    except OSError as exc:
        raise RunFailed(f"records of pass {index} could not be finalised ({exc.strerror or exc}); "
                        f"they are kept as segments in {records.partial_dir(out, index)}",
                        run_dir=out) from None
    info["join"] = report.as_dict()
    info["complete"] = sut.cancel_reason is None
    if sut.server_statistics:
        info["server_statistics"] = sut.server_statistics
    if sut.load_error:
        info["load_error"] = sut.load_error
    routing = getattr(sut, "test_record", None)  # a pool SUT: its policy and dispatch costs
    if routing is not None:
        info["routing"] = routing()
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
