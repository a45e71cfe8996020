"""Capture: drives MLPerf LoadGen over a harness and records every sample. No statistics."""

from ._calibrate import format_duration
from ._runner import CaptureResult, CaptureSession, plan_tests, run_capture
from ._async import ThreadedBackend, is_async
from ._v2 import RemoteHarness, make_remote_backend, parse_remote, remote_harness
from ._settings import (MODES, SCENARIOS, Experiment, SessionSettings,
                        build_test_settings, cli_overrides, load_experiment)

__all__ = ["CaptureResult", "CaptureSession", "Experiment", "MODES",
           "SCENARIOS", "SessionSettings", "build_test_settings", "cli_overrides",
           "format_duration", "load_experiment", "plan_tests", "run_capture",
           "RemoteHarness", "ThreadedBackend", "is_async", "make_remote_backend", "parse_remote",
           "remote_harness"]
