import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tailq_loadgen.harnesses import Harness
from tailq_loadgen import capture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Short LoadGen runs: no minimum duration, few queries.
FAST = {"min_duration_ms": 0, "min_query_count": 64, "max_query_count": 64,
        "single_stream_expected_latency_ns": 200000, "multi_stream_expected_latency_ns": 800000,
        "server_target_qps": 2000.0, "offline_expected_qps": 2000.0}


class EchoDataset:
    def __init__(self, n):
        self.n = n

    def get_item_count(self):
        return self.n

    def load_query_samples(self, indices):
        pass

    def unload_query_samples(self, indices):
        pass

    def get_samples(self, indices):
        return np.asarray(indices, dtype=np.int64)

    def get_sizes(self):
        return np.arange(self.n, dtype=np.float64) % 7 + 1

    def ground_truth(self):
        return np.arange(self.n) % 10


def echo_output(index):
    """What EchoBackend answers for a sample: a deterministic function of its index."""
    index = np.asarray(index, dtype=np.float32)
    return np.stack([index, index * 0.5, -index], axis=-1)


class EchoBackend:
    def __init__(self, fail_on=(), delay_s=0.0):
        self.fail_on = set(fail_on)
        self.delay_s = delay_s

    def name(self):
        return "echo"

    def version(self):
        return "1"

    def load(self):
        return self

    def predict(self, indices):
        if self.fail_on.intersection(indices.tolist()):
            raise RuntimeError("simulated failure")
        if self.delay_s:
            import time
            time.sleep(self.delay_s)
        return echo_output(indices)


def echo_harness(n=40, **kw):
    return Harness(name="echo", task="test", runtime="python", backend=EchoBackend(**kw),
                   dataset=EchoDataset(n), metric=None)


@pytest.fixture
def fast_overrides():
    return dict(FAST)


def wait_for(pred, timeout=60):
    """Poll ``pred`` every 50 ms until it holds (True) or ``timeout`` seconds pass (False)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.05)
    return False


def run_tailq(*args, timeout=120, **kw):
    """Run the CLI in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "tailq_loadgen.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=kw.pop("cwd", None), **kw)


def assert_one_line_error(res, named):
    """A CLI run that failed as bad input must: exit 2, one stderr line naming ``named``."""
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tailq: error:"), res.stderr
    assert named in lines[0], lines[0]


def experiment(**kw):
    return capture.Experiment(**kw)
