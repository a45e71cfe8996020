"""``--remote`` spelling, and the V2 statistics a Triton server keeps (no server needed)."""

import pytest

from tailq_loadgen import UserError
from tailq_loadgen.capture import _sut, parse_remote
from tailq_loadgen.capture._v2 import _V2Backend, flatten_statistics


def test_spellings():
    assert parse_remote("v2+grpc://127.0.0.1:8081/digits") == {
        "protocol": "grpc", "host": "127.0.0.1", "port": 8081, "model": "digits", "version": ""}
    assert parse_remote("V2+HTTP://server.lab:8000/resnet?version=3")["version"] == "3"


@pytest.mark.parametrize("url, match", [
    ("grpc://127.0.0.1:8081/digits", "write v2\\+grpc"),
    ("v2+tcp://127.0.0.1:8081/digits", "write v2\\+grpc"),
    ("v2+grpc://127.0.0.1/digits", "needs a host, a port"),
    ("v2+grpc://127.0.0.1:8081/", "needs a host, a port"),
    ("v2+grpc://127.0.0.1:8081/a/b", "one model name"),
    ("v2+grpc://127.0.0.1:99999/digits", "needs a host, a port"),
    ("v2+http://127.0.0.1:8000/digits?batch=4", "unknown option"),
])
def test_bad_spellings_name_the_flag(url, match):
    with pytest.raises(UserError, match=match) as e:
        parse_remote(url)
    assert str(e.value).startswith("--remote")


def test_triton_statistics_are_flattened_and_differenced():
    before = {"model_stats": [{"name": "m", "version": "1", "inference_count": "10",
                               "execution_count": "5",
                               "inference_stats": {"success": {"count": "10", "ns": "1000"},
                                                   "queue": {"count": "10", "ns": "300"},
                                                   "compute_infer": {"count": "10", "ns": "500"}}}]}
    after = {"model_stats": [{"name": "m", "version": "1", "inference_count": "30",
                              "execution_count": "12",
                              "inference_stats": {"success": {"count": "30", "ns": "4000"},
                                                  "queue": {"count": "30", "ns": "900"},
                                                  "compute_infer": {"count": "30", "ns": "2000"}}}]}
    b, a = flatten_statistics(before), flatten_statistics(after)
    assert a["queue_ns"] == 900 and a["compute_infer_count"] == 30
    delta = _sut._statistics_delta(b, a)
    assert delta["inference_count"] == 20 and delta["queue_ns"] == 600
    assert delta["compute_infer_ns"] == 1500
    assert flatten_statistics({}) is None and _sut._statistics_delta(None, a) is None


def test_server_timing_parameters_in_both_encodings():
    assert _V2Backend._timing({"server_queue_ns": 5, "server_compute_ns": 7}) == {
        "queue_ns": 5, "compute_ns": 7}
    assert _V2Backend._timing({"server_compute_ns": {"int64_param": "9"}}) == {"compute_ns": 9}
    assert _V2Backend._timing({"other": 1}) is None and _V2Backend._timing(None) is None
