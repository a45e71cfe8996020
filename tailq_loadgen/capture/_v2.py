"""Remote backends over the Open Inference Protocol (KServe V2), through ``tritonclient``.

The same client speaks to Triton, KServe and MLServer. The client side keeps the local
harness's dataset, ground truth and post-processor; the server holds the model. Spelling::

    v2+grpc://HOST:PORT/MODEL[?version=V]      (gRPC, natively asynchronous)
    v2+http://HOST:PORT/MODEL[?version=V]      (HTTP/REST, JSON tensors; one connection per
                                                request in flight, each on its own thread)

Latency stays on LoadGen's clock (its trace). Where the server reports its own timing in the
response parameters ``server_queue_ns`` / ``server_compute_ns`` (our MLServer runtime
``tailq_loadgen.harnesses.mlserver_runtime`` does), it is recorded beside each sample. Where
the server keeps V2 statistics (Triton's ``/v2/models/M/stats``), their change over each test is
recorded in the test's metadata.

Faults: a refused connection, a model the server does not serve, or tensors that do not fit
the model's metadata are input errors (exit 2) before anything is captured. A server that goes
away mid-run ends the run (exit 3) with every record kept; one that stops answering is ended
by the watchdog (exit 3).
"""

import queue
import threading
import urllib.parse

import numpy as np

from .._errors import UserError
from ._async import DEFAULT_MAX_IN_FLIGHT, stop_workers

PROTOCOLS = ("grpc", "http")
_TIMING_KEYS = (("server_queue_ns", "queue_ns"), ("server_compute_ns", "compute_ns"))
_GRPC_FATAL = ("StatusCode.UNAVAILABLE", "StatusCode.CANCELLED")


class ServerLost(ConnectionError):
    """The server stopped answering at the transport level: the run cannot go on."""

    fatal = True


def parse_remote(url):
    """``v2+grpc://host:port/model?version=1`` → dict(protocol, host, port, model, version)."""
    flag = f"--remote {url!r}"
    parts = urllib.parse.urlsplit(url or "")
    scheme = parts.scheme.lower()
    if not scheme.startswith("v2+") or scheme[3:] not in PROTOCOLS:
        raise UserError(f"{flag}: write v2+grpc://HOST:PORT/MODEL or v2+http://HOST:PORT/MODEL")
    try:
        port = parts.port
    except ValueError:
        port = None
    model = parts.path.strip("/")
    if not parts.hostname or port is None or not model or "/" in model:
        raise UserError(f"{flag}: needs a host, a port and one model name, e.g. "
                        "v2+grpc://127.0.0.1:8081/digits")
    query = urllib.parse.parse_qs(parts.query)
    unknown = sorted(set(query) - {"version"})
    if unknown:
        raise UserError(f"{flag}: unknown option(s) {', '.join(unknown)}; only ?version=V")
    version = query.get("version", [""])[0]
    return {"protocol": scheme[3:], "host": parts.hostname, "port": port, "model": model,
            "version": version}


def _v2_datatype(dtype):
    from tritonclient.utils import np_to_triton_dtype

    return np_to_triton_dtype(np.dtype(dtype))


class _V2Backend:
    """What the gRPC and HTTP backends share: connection checks, metadata, timing."""

    protocol = None

    def __init__(self, url, *, connect_timeout_s=10.0):
        self.url = url
        self.target = parse_remote(url)
        self.address = f"{self.target['host']}:{self.target['port']}"
        self.model = self.target["model"]
        self.model_version = self.target["version"]
        self.connect_timeout_s = connect_timeout_s
        self.max_in_flight = DEFAULT_MAX_IN_FLIGHT
        self.server = None
        self.model_metadata = None
        self._connected = False

    # -- vocabulary of a backend -------------------------------------------------------
    def name(self):
        return f"v2-{self.protocol}"

    def version(self):
        return (self.server or {}).get("version")

    def set_max_in_flight(self, k):
        self.max_in_flight = max(1, int(k))

    def load(self):
        if not self._connected:
            self.connect()
        return self

    def describe(self):
        """What the run's metadata records about the remote side."""
        meta = self.model_metadata or {}
        return {"url": self.url, "protocol": self.protocol, "address": self.address,
                "model": self.model, "model_version": self.model_version or None,
                "server": self.server, "model_platform": meta.get("platform"),
                "model_versions": meta.get("versions"), "inputs": meta.get("inputs"),
                "outputs": meta.get("outputs")}

    # -- connecting ---------------------------------------------------------------------
    def connect(self):
        """Check that a V2 server answers and serves the model; read its metadata."""
        client = self._make_client()
        where = f"--remote {self.url}"
        t = self._timeout
        try:
            live = client.is_server_live(**t)
        except Exception as exc:  # noqa: BLE001 — refused, unreachable, not a V2 server
            raise UserError(f"{where}: no V2 inference server answers at {self.address} "
                            f"({_short(exc)}); start the server or correct --remote") from None
        if not live:
            raise UserError(f"{where}: the server at {self.address} says it is not live")
        try:
            ready = client.is_model_ready(self.model, self.model_version, **t)
        except Exception as exc:  # noqa: BLE001
            ready, why = False, _short(exc)
        else:
            why = "not ready"
        if not ready:
            raise UserError(f"{where}: the server at {self.address} does not serve model "
                            f"{self.model!r} ({why}); check the model name in --remote")
        self.server = _plain(client.get_server_metadata(**self._json, **t))
        self.model_metadata = _plain(client.get_model_metadata(self.model, self.model_version,
                                                               **self._json, **t))
        meta = self.model_metadata
        if len(meta.get("inputs") or []) != 1 or not meta.get("outputs"):
            raise UserError(f"{where}: model {self.model!r} has {len(meta.get('inputs') or [])} "
                            "inputs; tailq sends one tensor per request (the dataset's batch)")
        self.input_name = meta["inputs"][0]["name"]
        self.output_name = meta["outputs"][0]["name"]
        self._stats_client = client
        self._connected = True
        return self

    def check_inputs(self, batch):
        """The dataset's tensors against the model's metadata: a clear error, not N failures."""
        spec = self.model_metadata["inputs"][0]
        arr = np.asarray(batch)
        want = [int(d) for d in spec.get("shape") or []]
        got_type = _v2_datatype(arr.dtype) if arr.dtype != object else "BYTES"
        where = f"--remote {self.url}"
        if got_type != spec.get("datatype"):
            raise UserError(f"{where}: the harness's samples are {got_type} but model "
                            f"{self.model!r} takes {spec.get('datatype')}; the harness and the "
                            "served model do not match")
        if want and (arr.ndim != len(want) or any(w not in (-1, d) for w, d in
                                                   zip(want, arr.shape))):
            raise UserError(f"{where}: the harness's samples have shape {list(arr.shape)} "
                            f"(batch first) but model {self.model!r} takes {want}; the harness "
                            "and the served model do not match")

    def statistics(self):
        """Cumulative V2 statistics for the model (Triton), flattened; None if unsupported."""
        try:
            raw = self._stats_client.get_inference_statistics(self.model, self.model_version,
                                                              **self._json, **self._timeout)
        except Exception:  # noqa: BLE001 — MLServer and KServe keep none
            return None
        return flatten_statistics(_plain(raw))

    @staticmethod
    def _timing(params):
        if not params:
            return None
        out = {}
        for key, name in _TIMING_KEYS:
            value = params.get(key)
            if isinstance(value, dict):  # JSON form of a protobuf InferParameter
                value = value.get("int64_param", value.get("int64Param"))
            if value is not None:
                out[name] = int(value)
        return out or None

    def close(self):
        pass


class V2GrpcBackend(_V2Backend):
    """gRPC: ``async_infer`` with a callback; the channel carries every request in flight."""

    protocol = "grpc"
    _json = {"as_json": True}

    @property
    def _timeout(self):  # a host that drops packets must not hang the start (gRPC waits forever)
        return {"client_timeout": self.connect_timeout_s}

    def _make_client(self):
        import tritonclient.grpc as grpcclient

        self._grpc = grpcclient
        return grpcclient.InferenceServerClient(url=self.address)

    def connect(self):
        super().connect()
        self._client = self._stats_client
        self._dtype = self.model_metadata["inputs"][0]["datatype"]
        return self

    def _request(self, batch):
        g = self._grpc
        arr = np.ascontiguousarray(batch)
        inp = g.InferInput(self.input_name, list(arr.shape), self._dtype)
        inp.set_data_from_numpy(arr)
        return [inp], [g.InferRequestedOutput(self.output_name)]

    def predict(self, batch):
        inputs, outputs = self._request(batch)
        try:
            result = self._client.infer(self.model, inputs, model_version=self.model_version,
                                        outputs=outputs)
        except Exception as exc:  # noqa: BLE001
            raise _classify_grpc(exc) from None
        return result.as_numpy(self.output_name)

    def submit(self, batch, done):
        inputs, outputs = self._request(batch)
        name, timing = self.output_name, self._timing

        def on_result(result, error):
            if error is not None:
                done(None, _classify_grpc(error), None)
                return
            try:
                out = result.as_numpy(name)
                params = result.get_response().parameters
                server = timing({k: params[k].int64_param for k in params})
            except Exception as exc:  # noqa: BLE001
                done(None, exc, None)
                return
            done(out, None, server)

        self._client.async_infer(self.model, inputs, on_result, model_version=self.model_version,
                                 outputs=outputs)

    def close(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class V2HttpBackend(_V2Backend):
    """HTTP/REST: JSON tensors (MLServer has no binary-tensor extension); ``max_in_flight``
    threads, each with its own connection, run blocking requests."""

    protocol = "http"
    _json = {}
    _timeout = {}  # the HTTP client's own connection_timeout/network_timeout apply

    def __init__(self, url, **kw):
        super().__init__(url, **kw)
        self._queue = queue.SimpleQueue()
        self._threads = []
        self._lock = threading.Lock()
        self.network_timeout_s = 3600.0  # a stalled server is the watchdog's to end

    def _make_client(self, network_timeout=None):
        import tritonclient.http as httpclient

        self._http = httpclient
        return httpclient.InferenceServerClient(url=self.address, concurrency=1,
                                                connection_timeout=self.connect_timeout_s,
                                                network_timeout=network_timeout or
                                                self.connect_timeout_s)

    def connect(self):
        super().connect()
        self._client = self._make_client(self.network_timeout_s)
        return self

    def _request(self, batch):
        h = self._http
        arr = np.ascontiguousarray(batch)
        inp = h.InferInput(self.input_name, list(arr.shape), self.model_metadata["inputs"][0]["datatype"])
        inp.set_data_from_numpy(arr, binary_data=False)
        return [inp], [h.InferRequestedOutput(self.output_name, binary_data=False)]

    def _infer(self, client, batch):
        inputs, outputs = self._request(batch)
        try:
            result = client.infer(self.model, inputs, model_version=self.model_version,
                                  outputs=outputs)
        except Exception as exc:  # noqa: BLE001
            raise _classify_http(exc) from None
        return result.as_numpy(self.output_name), self._timing(
            (result.get_response() or {}).get("parameters"))

    def predict(self, batch):
        return self._infer(self._client, batch)[0]

    def submit(self, batch, done):
        if len(self._threads) < self.max_in_flight:
            with self._lock:
                while len(self._threads) < self.max_in_flight:
                    t = threading.Thread(target=self._work, daemon=True,
                                         name=f"tailq-v2http-{len(self._threads)}")
                    self._threads.append(t)
                    t.start()
        self._queue.put((batch, done))

    def _work(self):
        client = self._make_client(self.network_timeout_s)  # geventhttpclient: one per thread
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, done = item
            try:
                out, server = self._infer(client, batch)
            except BaseException as exc:  # noqa: BLE001 — handed to the capture as the answer
                done(None, exc, None)
                continue
            done(out, None, server)

    def close(self):
        self._threads = stop_workers(self._queue, self._threads)


def make_remote_backend(url, **kw):
    target = parse_remote(url)
    return (V2GrpcBackend if target["protocol"] == "grpc" else V2HttpBackend)(url, **kw)


class RemoteHarness:
    """A local harness whose backend is a remote V2 server: capture sees ``backend``,
    ``dataset``, ``name``, ``model`` and ``describe()``; the rest (metric, post-processor) is
    the local harness's."""

    def __init__(self, harness, backend):
        self._local = harness
        self.backend = backend

    def __getattr__(self, name):
        return getattr(self._local, name)

    def describe(self):
        d = dict(self._local.describe())
        d["local_backend"] = {"runtime": d.get("runtime"), "threads": d.get("threads")}
        d["runtime"] = f"remote {self.backend.name()}"
        d["threads"] = None  # the server's, not ours: see "remote"
        d["remote"] = self.backend.describe()
        return d


def remote_harness(harness, url, **kw):
    """``harness`` with its backend replaced by the V2 server at ``url`` (connected and
    checked now, so that a bad ``--remote`` fails before a run directory is made)."""
    backend = make_remote_backend(url, **kw).connect()
    dataset = harness.dataset
    dataset.load_query_samples([0])
    try:
        sample = dataset.get_samples([0])
    finally:
        dataset.unload_query_samples([0])
    backend.check_inputs(sample)
    return RemoteHarness(harness, backend)


def flatten_statistics(raw):
    """Triton's ``model_stats`` (JSON form) → one flat dict of ints summed over versions."""
    out = {}
    for model in (raw or {}).get("model_stats", []):
        for key in ("inference_count", "execution_count"):
            out[key] = out.get(key, 0) + int(model.get(key, 0))
        for phase, v in (model.get("inference_stats") or {}).items():
            for field in ("count", "ns"):
                k = f"{phase}_{field}"
                out[k] = out.get(k, 0) + int((v or {}).get(field, 0))
    return out or None


def _plain(obj):
    """A protobuf message (or JSON dict) as plain JSON values."""
    if hasattr(obj, "DESCRIPTOR"):
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(obj, preserving_proto_field_name=True)
    return obj


def _short(exc):
    text = getattr(exc, "message", None)
    text = text() if callable(text) else (text or str(exc))
    first = (text or type(exc).__name__).strip().splitlines()
    return (first[0] if first else type(exc).__name__)[:300]


def _classify_grpc(exc):
    status = getattr(exc, "status", None)
    status = status() if callable(status) else status
    if status in _GRPC_FATAL:
        return ServerLost(f"gRPC {status}: {_short(exc)}")
    return exc


def _classify_http(exc):
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, InferenceServerException):
        return exc
    if isinstance(exc, (OSError, EOFError)) or "connection" in type(exc).__name__.lower():
        return ServerLost(f"HTTP connection failed: {type(exc).__name__}: {_short(exc)}")
    return exc
