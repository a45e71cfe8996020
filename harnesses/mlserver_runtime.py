"""An MLServer custom runtime that serves an ONNX model (e.g. the digits CNN) over the Open
Inference Protocol (KServe V2), and reports its own timing in each response.

It runs *inside MLServer's process* (its own virtual environment, ``.venv-mlserver``, which
``make test`` creates): ``mlserver`` and ``tritonclient.grpc`` cannot share one Python process
(both register the ``inference.*`` protobuf symbols), and MLServer pins protobuf below what
TensorFlow's wheel brings. It imports nothing from tailq beyond this file.

Model settings (``model-settings.json``, written by ``tailq_loadgen.workflow.MLServerProcess``)::

    {"name": "digits", "implementation": "tailq_loadgen.harnesses.mlserver_runtime.OnnxModel",
     "parameters": {"uri": "/path/model.onnx",
                    "extra": {"intra_threads": 1, "inter_threads": 1, "model_threads": 1,
                              "stall_after": null}}}

``model_threads`` model runs may proceed at once (a thread pool; ONNX Runtime releases the
GIL). Each response carries two int64 parameters:

* ``server_queue_ns`` — from the runtime receiving the decoded request to the model run
  starting (waiting for a free model thread);
* ``server_compute_ns`` — the model run itself (``InferenceSession.run``).

``stall_after: N`` makes every request after the N-th wait forever: a fault for tests of the
client's watchdog.
"""

import asyncio
import concurrent.futures
import time

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, Parameters

_DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64",
              "tensor(int32)": "INT32", "tensor(uint8)": "UINT8"}


def _shape(dims):
    return [d if isinstance(d, int) else -1 for d in dims]


class OnnxModel(MLModel):
    async def load(self) -> bool:
        import onnxruntime as ort

        params = self.settings.parameters
        extra = dict(params.extra or {})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(extra.get("intra_threads", 1))
        opts.inter_op_num_threads = int(extra.get("inter_threads", 1))
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(params.uri, opts, providers=["CPUExecutionProvider"])
        self._in = self._session.get_inputs()[0]
        self._out = self._session.get_outputs()[0]
        self._pool = concurrent.futures.ThreadPoolExecutor(int(extra.get("model_threads", 1)))
        self._stall_after = extra.get("stall_after")
        self._requests = 0
        # what V2 model metadata answers: the client checks its tensors against it
        self.inputs = [MetadataTensor(name=self._in.name, datatype=_DATATYPES[self._in.type],
                                      shape=_shape(self._in.shape))]
        self.outputs = [MetadataTensor(name=self._out.name, datatype=_DATATYPES[self._out.type],
                                       shape=_shape(self._out.shape))]
        self._want = _shape(self._in.shape)
        self._dtype = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64,
                       "INT32": np.int32, "UINT8": np.uint8}[_DATATYPES[self._in.type]]
        return True

    def _run(self, x):
        t0 = time.perf_counter_ns()
        y = self._session.run([self._out.name], {self._in.name: x})[0]
        return y, t0, time.perf_counter_ns()

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        t_in = time.perf_counter_ns()
        self._requests += 1
        if self._stall_after is not None and self._requests > int(self._stall_after):
            await asyncio.sleep(3600)
        if len(payload.inputs) != 1:
            raise InferenceError(f"expected 1 input tensor, got {len(payload.inputs)}")
        x = NumpyCodec.decode_input(payload.inputs[0])
        want = self._want
        if x.ndim != len(want) or any(w != -1 and w != d for w, d in zip(want, x.shape)):
            raise InferenceError(f"input of shape {list(x.shape)} does not fit the model's "
                                 f"{want}")
        x = np.ascontiguousarray(x, dtype=self._dtype)
        loop = asyncio.get_running_loop()
        y, t0, t1 = await loop.run_in_executor(self._pool, self._run, x)
        return InferenceResponse(
            model_name=self.name, model_version=self.version,
            outputs=[NumpyCodec.encode_output(self._out.name, y)],
            parameters=Parameters(server_queue_ns=int(t0 - t_in), server_compute_ns=int(t1 - t0)))
