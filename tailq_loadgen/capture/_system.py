"""Metadata about the machine and software, collected automatically for every run."""

import importlib.metadata
import os
import platform
import socket
import sys


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpuinfo():
    model, physical = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model is None:
                    model = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and phys is not None:
                    physical.add((phys, core))
                    phys = core = None
    except OSError:
        pass
    return model or platform.processor() or None, len(physical) or None


def _mem_total_bytes():
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def collect_system():
    """Host, CPU, memory, OS and Python facts (keys documented in docs/record-format.md)."""
    model, physical = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": model,
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": physical,
        "cpu_affinity": affinity,
        "memory_total_bytes": _mem_total_bytes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


def collect_versions():
    return {name: _version(dist) for name, dist in (
        ("tailq_loadgen", "tailq-loadgen"), ("mlcommons_loadgen", "mlcommons-loadgen"),
        ("numpy", "numpy"), ("pyarrow", "pyarrow"), ("scipy", "scipy"), ("pyyaml", "PyYAML"))}
