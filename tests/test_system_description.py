"""The system description: collected with psutil/py-cpuinfo, complete, shown by `show`."""

import os
import pathlib
import subprocess
import sys

from tailq_loadgen import load_run
from tailq_loadgen.harnesses import Harness
from tailq_loadgen.capture import _system, run_capture

from conftest import echo_harness, run_tailq

KEYS = ("hostname", "os", "kernel", "cpu_model", "cpu_vendor", "cpu_count_logical",
        "cpu_count_physical", "smt_threads_per_core", "smt_active", "numa_nodes", "cpu_freq_mhz",
        "cpu_governor", "cache_bytes", "memory_total_bytes", "accelerators", "thread_env", "python")


def test_description_has_every_documented_key(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    s = _system.collect_system()
    assert set(KEYS) <= set(s)
    assert s["cpu_model"] and s["cpu_count_logical"] >= 1 and s["memory_total_bytes"] > 2 ** 20
    assert s["kernel"] and s["numa_nodes"] in (None,) or s["numa_nodes"] >= 1
    assert s["thread_env"]["OMP_NUM_THREADS"] == "3"
    doc = pathlib.Path(__file__).resolve().parent.parent / "docs" / "vendor-evaluation.md"
    text = doc.read_text()
    missing = [k for k in s if f"`{k}`" not in text]
    assert not missing, f"undocumented system keys: {missing}"


def test_no_hand_parsing_of_proc():
    src = pathlib.Path(_system.__file__).read_text()
    assert "/proc/" not in src


def test_nvidia_smi_is_read_when_present(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H200, 570.86.15, 143771, 1980, 00000000:19:00.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    gpus = _system.accelerators()
    assert gpus == [{"vendor": "nvidia", "name": "NVIDIA H200", "driver": "570.86.15",
                     "memory_mib": 143771.0, "max_sm_clock_mhz": 1980.0,
                     "pci_bus_id": "00000000:19:00.0"}]


def test_harness_code_commit_is_recorded(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "userharness14.py").write_text("class Backend:\n    pass\n\n\nclass Dataset:\n    pass\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "x"], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    sys.path.insert(0, str(repo))
    try:
        import userharness14 as m
        h = Harness(name="u", task="t", runtime="python", backend=m.Backend(), dataset=m.Dataset())
        code = _system.collect_code(h)
        assert code == [{"file": str(repo / "userharness14.py"), "repository": str(repo),
                         "commit": head, "dirty": False}]
        (repo / "userharness14.py").write_text("# edited\n")
        assert _system.collect_code(h)[0]["dirty"] is True
    finally:
        sys.path.remove(str(repo))
        sys.modules.pop("userharness14", None)
    # code with no source file (built-ins) has nothing to describe
    assert _system.collect_code(Harness(name="x", task="t", runtime="python", backend=1,
                                        dataset=1.0)) == []


def test_run_metadata_and_show_display_it(tmp_path):
    out = str(tmp_path / "run")
    run_capture(echo_harness(16), scenario="SingleStream", passes=1, out=out, log=lambda *_: None)
    meta = load_run(out).metadata
    assert set(KEYS) <= set(meta["system"])
    assert meta["code"][0]["commit"] and meta["versions"]["numpy"]
    r = run_tailq("show", out)
    line = next(l for l in r.stdout.splitlines() if l.startswith("system"))
    assert meta["system"]["cpu_model"] in line and "NUMA" in line and "code " in line
