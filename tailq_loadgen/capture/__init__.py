"""Capture: drives MLPerf LoadGen over a harness and records every sample. No statistics."""

from ._runner import CaptureResult, CaptureSession, plan_tests, run_capture
from ._async import ThreadedBackend, is_async
from ._v2 import RemoteHarness, make_remote_backend, parse_remote, remote_harness
from ._settings import MODES, SCENARIOS, Experiment, build_test_settings, cli_overrides, load_experiment

__all__ = ["CaptureResult", "CaptureSession", "Experiment", "MODES", "SCENARIOS", "build_test_settings",
           "cli_overrides", "load_experiment", "plan_tests", "run_capture",
           "RemoteHarness", "ThreadedBackend", "is_async", "make_remote_backend", "parse_remote",
           "remote_harness"]
