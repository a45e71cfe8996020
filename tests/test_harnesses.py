"""Real harnesses through the capture plugin: quality floors, runtime agreement, extras."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tailq_loadgen import harnesses
from tailq_loadgen import load_run, workflow
from tailq_loadgen.capture import run_capture

from conftest import run_tailq

QUIET = dict(log=lambda *_: None)
SHORT_PERF = {"min_duration_ms": 0, "min_query_count": 64, "max_query_count": 64}
FLOORS = {"digits-torch": 0.95, "digits-keras": 0.95, "digits-onnx": 0.95,
          "docstrings-torch": 0.70, "docstrings-onnx": 0.70}
ARGS = {"docstrings-torch": {"samples": 100}, "docstrings-onnx": {"samples": 100}}


def test_harness_listing_one_line_each():
    proc = run_tailq("harnesses")
    assert proc.returncode == 0
    header, *lines = proc.stdout.strip().splitlines()
    assert header.split()[:2] == ["harness", "model"]
    assert [l.split()[0] for l in lines] == sorted(harnesses.REGISTRY)
    assert all(("ready" in l or "needs" in l) and ("samples" in l) for l in lines)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_harness_reaches_its_quality_floor_through_loadgen(tmp_path, name):
    h = harnesses.get_harness(name, **ARGS.get(name, {}))
    acc_dir = str(tmp_path / "acc")
    run_capture(h, scenario="SingleStream", mode="AccuracyOnly", out=acc_dir, **QUIET)
    run = load_run(acc_dir)
    assert run.complete and (run["status"] == "ok").all()
    quality = workflow.run_quality(run)
    assert quality["metric"] == h.metric
    assert quality["value"] >= FLOORS[name], quality
    meta = run.metadata
    assert meta["threads"]["intra_op"] == 1 and meta["warmup"]["queries"] == 32
    assert meta["backend"]["name"] == h.backend.name()
    perf_dir = str(tmp_path / "perf")
    run_capture(h, scenario="SingleStream", mode="PerformanceOnly", out=perf_dir,
                overrides=SHORT_PERF, **QUIET)
    perf = load_run(perf_dir)
    assert len(perf) == 64 and perf.has_latency.all()


@pytest.mark.slow
def test_digits_runtimes_agree():
    preds = {}
    for name in ("digits-torch", "digits-keras", "digits-onnx"):
        h = harnesses.get_harness(name)
        h.backend.load()
        x = h.dataset.get_samples(np.arange(h.dataset.get_item_count()))
        preds[name] = h.backend.predict(x).argmax(1)
    for other in ("digits-keras", "digits-onnx"):
        assert np.mean(preds["digits-torch"] == preds[other]) >= 0.99


@pytest.mark.slow
def test_docstring_sizes_are_tokens_and_vary():
    h = harnesses.get_harness("docstrings-torch", samples=100)
    sizes = h.dataset.get_sizes()
    assert sizes.min() >= 8 and sizes.max() <= 256 and np.unique(sizes).size > 30


def test_missing_runtime_names_the_extra(tmp_path):
    # onnxruntime made unimportable in a fresh interpreter: a one-line error naming the
    # extra, exit 2; the sleep harness still runs in the same environment.
    blocker = ("import sys, importlib.abc\n"
               "class B(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path, target=None):\n"
               "        if name.split('.')[0] == 'onnxruntime':\n"
               "            raise ModuleNotFoundError(\"No module named 'onnxruntime'\", name='onnxruntime')\n"
               "sys.meta_path.insert(0, B())\n"
               "from tailq_loadgen.cli import main\n"
               "sys.exit(main(sys.argv[1:]))\n")
    script = tmp_path / "blocked.py"
    script.write_text(blocker)
    base = [sys.executable, str(script), "run", "--scenario", "SingleStream", "--passes", "1"]
    proc = subprocess.run(base + ["--harness", "digits-onnx", "--out", str(tmp_path / "a")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "tailq-loadgen[onnx]" in proc.stderr
    ok = subprocess.run(base + ["--harness", "sleep", "--harness-arg", "samples=20", "--out",
                                str(tmp_path / "b")], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
