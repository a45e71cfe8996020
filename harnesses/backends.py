"""Backends per runtime, in MLPerf reference-harness vocabulary: name, version, load, predict.

Thread counts are set explicitly (intra-op and inter-op) and reported through ``threads()``;
models run in inference mode; ``predict`` returns host arrays, so any device work has
finished before the capture's clock stops.
"""

import numpy as np


class TorchBackend:
    def __init__(self, make_module, intra_threads=1, inter_threads=1, device="cpu"):
        self.make_module = make_module
        self.intra, self.inter, self.device = intra_threads, inter_threads, device
        self.module = None

    def name(self):
        return "pytorch"

    def version(self):
        import torch

        return torch.__version__

    def threads(self):
        return {"intra_op": self.intra, "inter_op": self.inter, "device": self.device}

    def load(self):
        import torch

        torch.set_num_threads(self.intra)
        try:
            torch.set_num_interop_threads(self.inter)
        except RuntimeError:
            pass  # may be set once per process only; torch.get_num_interop_threads() says which
        self.inter = torch.get_num_interop_threads()
        self.module = self.make_module().to(self.device).eval()
        self._torch = torch
        return self

    def predict(self, batch):
        torch = self._torch
        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(batch)).to(self.device))
            if self.device != "cpu":
                torch.cuda.synchronize()
            return out.cpu().numpy()


class KerasBackend:
    def __init__(self, make_model, input_spec, intra_threads=1, inter_threads=1, to_model_input=None):
        self.make_model = make_model
        self.input_spec = input_spec  # (shape without batch, dtype)
        self.intra, self.inter = intra_threads, inter_threads
        self.to_model_input = to_model_input or (lambda x: x)
        self.fn = None

    def name(self):
        return "tensorflow"

    def version(self):
        import tensorflow as tf

        return tf.__version__

    def threads(self):
        return {"intra_op": self.intra, "inter_op": self.inter}

    def load(self):
        import tensorflow as tf

        try:  # only possible before TensorFlow's runtime has started in this process
            tf.config.threading.set_intra_op_parallelism_threads(self.intra)
            tf.config.threading.set_inter_op_parallelism_threads(self.inter)
        except RuntimeError:
            pass
        self.intra = tf.config.threading.get_intra_op_parallelism_threads() or self.intra
        self.inter = tf.config.threading.get_inter_op_parallelism_threads() or self.inter
        model = self.make_model()
        shape, dtype = self.input_spec
        self.fn = tf.function(lambda x: model(x, training=False),
                              input_signature=[tf.TensorSpec((None,) + tuple(shape), dtype)],
                              reduce_retracing=True)
        self._tf = tf
        return self

    def predict(self, batch):
        return self.fn(self._tf.constant(self.to_model_input(batch))).numpy()


class OnnxBackend:
    def __init__(self, model_path, intra_threads=1, inter_threads=1):
        self.model_path = model_path
        self.intra, self.inter = intra_threads, inter_threads
        self.session = None

    def name(self):
        return "onnxruntime"

    def version(self):
        import onnxruntime

        return onnxruntime.__version__

    def threads(self):
        return {"intra_op": self.intra, "inter_op": self.inter}

    def load(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.intra
        opts.inter_op_num_threads = self.inter
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(self.model_path(), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        return self

    def predict(self, batch):
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})[0]
