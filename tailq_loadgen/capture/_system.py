"""The system description recorded with every run, fit for a vendor's report.

Collected automatically, with well-kept libraries where they exist: psutil (counts, frequency,
memory, load) and py-cpuinfo (model, vendor, caches, advertised frequency). What neither
knows is read from sysfs, one value per file, as pyperf does: the frequency governor, whether
SMT is active, the NUMA nodes. Accelerators come from ``nvidia-smi`` when it is on the PATH.
Every key is documented in ``docs/vendor-evaluation.md``; ``None`` means "not known here".

py-cpuinfo takes about a second (it runs CPUID in a child process), so ``prefetch()`` starts it
on a thread while the backend loads.
"""

import glob
import importlib.metadata
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading

# Environment variables that set how many threads a framework or math library uses, or where.
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "MKL_NUM_THREADS",
              "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME", "GOMP_CPU_AFFINITY",
              "CUDA_VISIBLE_DEVICES", "MALLOC_ARENA_MAX")
# Frameworks and servers whose versions change what is measured (only installed ones are kept).
FRAMEWORKS = (("torch", "torch"), ("tensorflow", "tensorflow"), ("tensorflow_cpu", "tensorflow-cpu"),
              ("keras", "keras"), ("onnxruntime", "onnxruntime"), ("onnx", "onnx"),
              ("transformers", "transformers"), ("scikit_learn", "scikit-learn"),
              ("tritonclient", "tritonclient"), ("mlserver", "mlserver"))

_cpuinfo_result = {}
_cpuinfo_thread = None
_cpuinfo_lock = threading.Lock()


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _fill_cpuinfo():
    try:
        import cpuinfo

        _cpuinfo_result.update(cpuinfo.get_cpu_info())
    except Exception:  # noqa: BLE001 — a description without it is still a description
        _cpuinfo_result["error"] = True


def prefetch():
    """Start py-cpuinfo on a thread (it is slow); ``collect_system`` waits for it."""
    global _cpuinfo_thread
    with _cpuinfo_lock:
        if _cpuinfo_thread is None:
            _cpuinfo_thread = threading.Thread(target=_fill_cpuinfo, name="tailq-cpuinfo",
                                               daemon=True)
            _cpuinfo_thread.start()


def _cpu_details():
    prefetch()
    _cpuinfo_thread.join(timeout=30)
    return dict(_cpuinfo_result)


def _governors():
    found = {_read(p) for p in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor")}
    found.discard(None)
    return ",".join(sorted(found)) or None


def _numa_nodes():
    nodes = [p for p in glob.glob("/sys/devices/system/node/node[0-9]*") if os.path.isdir(p)]
    return len(nodes) or None


def accelerators(run=subprocess.run):
    """GPUs as ``nvidia-smi`` reports them (name, driver, memory, max SM clock), or []."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = run([exe, "--query-gpu=name,driver_version,memory.total,clocks.max.sm,pci.bus_id",
                   "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return parse_nvidia_smi(out.stdout)


def parse_nvidia_smi(text):
    gpus = []
    for line in text.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5:
            continue
        name, driver, mem, clock, bus = fields[:5]
        gpus.append({"vendor": "nvidia", "name": name, "driver": driver,
                     "memory_mib": _number(mem), "max_sm_clock_mhz": _number(clock),
                     "pci_bus_id": bus})
    return gpus


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def collect_system():
    """Host, CPU, memory, kernel, accelerators, thread settings (docs/vendor-evaluation.md)."""
    import psutil

    info = _cpu_details()
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    logical, physical = psutil.cpu_count(logical=True), psutil.cpu_count(logical=False)
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, FileNotFoundError):
        freq = None
    smt = _read("/sys/devices/system/cpu/smt/active")
    mem = psutil.virtual_memory()
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        os_name = None
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "os": os_name,
        "kernel": platform.release(),
        "cpu_model": info.get("brand_raw") or platform.processor() or None,
        "cpu_vendor": info.get("vendor_id_raw"),
        "cpu_family_model_stepping": [info.get("family"), info.get("model"), info.get("stepping")],
        "cpu_flags_avx512": sorted(f for f in info.get("flags", []) if f.startswith("avx512")),
        "cpu_count_logical": logical,
        "cpu_count_physical": physical,
        "cpu_affinity": affinity,
        "smt_threads_per_core": (logical // physical) if logical and physical else None,
        "smt_active": None if smt is None else smt == "1",
        "numa_nodes": _numa_nodes(),
        "cpu_freq_mhz": None if freq is None else {
            "current": freq.current, "min": freq.min or None, "max": freq.max or None},
        "cpu_freq_advertised_hz": (info.get("hz_advertised") or [None])[0],
        "cpu_governor": _governors(),
        "cache_bytes": {"l1d": info.get("l1_data_cache_size"), "l2": info.get("l2_cache_size"),
                        "l3": info.get("l3_cache_size")},
        "memory_total_bytes": int(mem.total),
        "memory_available_bytes": int(mem.available),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "accelerators": accelerators(),
        "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


def collect_versions():
    out = {name: _version(dist) for name, dist in (
        ("tailq_loadgen", "tailq-loadgen"), ("mlcommons_loadgen", "mlcommons-loadgen"),
        ("numpy", "numpy"), ("pyarrow", "pyarrow"), ("scipy", "scipy"), ("pyyaml", "PyYAML"))}
    for name, dist in FRAMEWORKS:
        v = _version(dist)
        if v is not None:
            out[name] = v
    return out


def _git(args, cwd):
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def collect_code(harness):
    """The git commit (and whether it had uncommitted changes) of the files that define the
    harness's backend and dataset, when they live in a git repository."""
    local = getattr(harness, "_local", harness)  # a remote harness: the local one's code
    files = []
    for obj in (getattr(local, "backend", None), getattr(local, "dataset", None)):
        mod = sys.modules.get(type(obj).__module__)
        path = getattr(mod, "__file__", None)
        if path and os.path.abspath(path) not in files:
            files.append(os.path.abspath(path))
    out = []
    for path in files:
        where = os.path.dirname(path)
        top = _git(["rev-parse", "--show-toplevel"], where)
        entry = {"file": path, "repository": top, "commit": None, "dirty": None}
        if top:
            entry["commit"] = _git(["rev-parse", "HEAD"], where)
            status = _git(["status", "--porcelain", "--", path], where)
            entry["dirty"] = None if status is None else bool(status)
        out.append(entry)
    return out
