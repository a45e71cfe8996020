"""Start and stop a real MLServer (V2 protocol) on this machine, serving ONNX models through
``tailq_loadgen.harnesses.mlserver_runtime.OnnxModel``.

MLServer runs as its own process from its own virtual environment (``.venv-mlserver``, made
by ``make test``/``make mlserver``): it cannot share a process with ``tritonclient.grpc`` and
pins protobuf below TensorFlow's. Found as ``$TAILQ_MLSERVER`` (the ``mlserver`` executable),
else ``.venv-mlserver/bin/mlserver`` beside the source tree, else ``mlserver`` on the PATH.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from .._errors import UserError

RUNTIME = "tailq_loadgen.harnesses.mlserver_runtime.OnnxModel"


def find_mlserver():
    """The ``mlserver`` executable, or None."""
    env = os.environ.get("TAILQ_MLSERVER")
    if env:
        return env if os.access(env, os.X_OK) else None
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    local = os.path.join(here, ".venv-mlserver", "bin", "mlserver")
    if os.access(local, os.X_OK):
        return local
    return shutil.which("mlserver")


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MLServerProcess:
    """``with MLServerProcess([{"name": "digits", "uri": path}]) as server: server.url("grpc")``.

    ``models``: dicts with ``name``, ``uri`` (the .onnx file) and optional ``extra`` (the
    runtime's options: intra_threads, inter_threads, model_threads, stall_after). Ports are
    free ones on 127.0.0.1 unless given. ``stop()`` ends it (SIGTERM, then SIGKILL);
    ``kill()`` kills it at once (a server that dies mid-run).
    """

    def __init__(self, models, *, host="127.0.0.1", http_port=None, grpc_port=None,
                 mlserver=None, workdir=None, start_timeout_s=180.0, parallel_workers=0):
        self.models = [dict(m) for m in models]
        self.host = host
        self.http_port = http_port or free_port(host)
        self.grpc_port = grpc_port or free_port(host)
        self.metrics_port = free_port(host)
        self.mlserver = mlserver or find_mlserver()
        self.workdir = workdir
        self.start_timeout_s = start_timeout_s
        self.parallel_workers = parallel_workers
        self.proc = None
        self._own_dir = None

    def url(self, protocol, model=None):
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"v2+{protocol}://{self.host}:{port}/{model or self.models[0]['name']}"

    @property
    def log_path(self):
        return os.path.join(self.workdir, "mlserver.log")

    def _write_repository(self):
        if self.workdir is None:
            self._own_dir = self.workdir = tempfile.mkdtemp(prefix="tailq-mlserver-")
        os.makedirs(self.workdir, exist_ok=True)
        settings = {"host": self.host, "http_port": self.http_port, "grpc_port": self.grpc_port,
                    "metrics_port": self.metrics_port, "parallel_workers": self.parallel_workers,
                    "debug": False, "load_models_at_startup": True}
        with open(os.path.join(self.workdir, "settings.json"), "w", encoding="utf-8") as f:
            json.dump(settings, f, indent=2)
        for m in self.models:
            d = os.path.join(self.workdir, m["name"])
            os.makedirs(d, exist_ok=True)
            doc = {"name": m["name"], "implementation": m.get("implementation", RUNTIME),
                   "parameters": {"uri": os.path.abspath(m["uri"]), "extra": m.get("extra", {})}}
            with open(os.path.join(d, "model-settings.json"), "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=2)

    def start(self):
        if self.mlserver is None:
            raise UserError("MLServer is not installed: `make mlserver` creates .venv-mlserver "
                            "(or set TAILQ_MLSERVER to an mlserver executable)")
        self._write_repository()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.mlserver, "start", self.workdir], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MLServer exited with code {self.proc.returncode} while "
                                   f"starting; its log:\n{self.log_tail()}")
            if all(self._ready(m["name"]) for m in self.models):
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"MLServer did not become ready in {self.start_timeout_s:g} s; its "
                           f"log:\n{self.log_tail()}")

    def _ready(self, model):
        url = f"http://{self.host}:{self.http_port}/v2/models/{model}/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, grace_s=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
