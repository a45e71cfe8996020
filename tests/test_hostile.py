"""Hostile input for every reader: each case ends in a result or one line naming the input
(exit code 2) — never a traceback, a hang, a MemoryError, or code run from data.

Families (issue 12): code named in metadata, mangled metadata (recursion, wrong types,
sample_count 1e12 …), damaged record files, huge integers in LoadGen logs, memory that must
follow the sample count, encodings (UTF-8 with a BOM reads; UTF-16 is named), FIFOs.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tailq_loadgen import UserError, harnesses, load_run, records, workflow
from tailq_loadgen.capture import run_capture

from conftest import REPO, run_tailq

FIXTURE = os.path.join(REPO, "tests", "fixtures", "external")
V1 = os.path.join(REPO, "tests", "fixtures", "v1")
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    run_capture(harnesses.get_harness("sleep", samples=24, base_ms=0.1, per_unit_ms=0.0),
                scenario="SingleStream", passes=3, out=str(out), **QUIET)
    return out


@pytest.fixture
def run_copy(good_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(good_run, dst)
    return dst


def one_line_user_error(fn, *args, needle=None):
    with pytest.raises(UserError) as err:
        fn(*args)
    text = str(err.value)
    assert "\n" not in text, text
    if needle:
        assert needle in text, text
    return text


def every_reader(path):
    """What a user does with a run directory, in-process: each either works or raises one
    UserError line."""
    outcomes = []
    for name, fn in (("load", lambda: len(load_run(path))),
                     ("show", lambda: workflow.summarize(path)),
                     ("check", lambda: workflow.check_run(path)),
                     ("export", lambda: records.export_run(load_run(path), "csv", open(os.devnull, "wb"))),
                     ("analyze", lambda: workflow.analyze_run(path, mc=50, write=False))):
        try:
            fn()
            outcomes.append((name, "ok"))
        except UserError as exc:
            assert "\n" not in str(exc), (name, str(exc))
            outcomes.append((name, "error"))
    return outcomes


# -- a run directory never runs code -----------------------------------------------------------
@pytest.mark.parametrize("schema", [1, 2])
def test_metadata_naming_code_never_runs_it(tmp_path, good_run, schema):
    marker = tmp_path / "PWNED"
    dst = tmp_path / "run"
    shutil.copytree(os.path.join(V1, "captured") if schema == 1 else good_run, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    if schema == 1:  # schema 1 stored a factory and arguments, and readers called them
        meta["harness"]["source"] = {"harness": "os:system", "args": {"command": f"touch {marker}"}}
    else:
        meta["harness"]["source"] = f"os:system touch {marker}"
    meta["harness"]["name"] = "os:system"
    (dst / "metadata.json").write_text(json.dumps(meta))
    for cmd in (["show", str(dst)], ["check", str(dst)], ["analyze", str(dst), "--mc", "50"],
                ["report", str(dst), "--html", str(tmp_path / "r.html")],
                ["compare", str(dst), str(dst), "--force"],
                ["export", str(dst), "--format", "jsonl", "-o", str(tmp_path / "x.jsonl")]):
        p = run_tailq(*cmd)
        assert "Traceback" not in p.stderr, (cmd, p.stderr)
        assert p.returncode in (0, 1, 2), (cmd, p.returncode, p.stderr)
        assert not marker.exists(), cmd
    if schema == 2:  # the run still scores: from its stored quality, not from the harness
        assert run_tailq("analyze", str(dst), "--mc", "50").returncode == 0


def test_readers_never_import_a_harness(run_copy, monkeypatch):
    import importlib

    def refuse(name, *a, **k):
        raise AssertionError(f"a reader imported {name}")

    monkeypatch.setattr(importlib, "import_module", refuse)
    monkeypatch.setattr(harnesses, "get_harness", refuse)
    assert every_reader(str(run_copy)) == [(n, "ok") for n in ("load", "show", "check", "export", "analyze")]


# -- mangled metadata ------------------------------------------------------------------------------
def _set(path, value):
    def edit(meta):
        node = meta
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return meta
    return edit


def _drop(path):
    def edit(meta):
        node = meta
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]
        return meta
    return edit


def _nested(depth):
    v = 0
    for _ in range(depth):
        v = {"a": v}
    return v


RAW = {  # whole-file manglings: raw bytes
    "empty": b"",
    "truncated": None,  # filled from the real file below
    "not json": b"metadata, but not as you know it",
    "a list": b"[]",
    "null": b"null",
    "a string": b'"tailq-run"',
    "deep list (recursion)": b"[" * 200_000 + b"]" * 200_000,
    "huge integer literal": b'{"format": "tailq-run", "schema_version": ' + b"9" * 5000 + b"}",
    "NaN literal": None,
    "Infinity literal": None,
    "latin-1 bytes": None,
    "utf-16": None,
}
EDITS = {
    "sample_count 1e12 (float)": _set(["sample_count"], 1e12),
    "sample_count 10**12": _set(["sample_count"], 10**12),
    "sample_count 2**63": _set(["sample_count"], 2**63),
    "sample_count -1": _set(["sample_count"], -1),
    "sample_count text": _set(["sample_count"], "48"),
    "sample_count true": _set(["sample_count"], True),
    "sample_count larger than samples.parquet": _set(["sample_count"], 100),
    "no sample_count": _drop(["sample_count"]),
    "status unknown": _set(["status"], "finished"),
    "status a number": _set(["status"], 5),
    "complete but aborted": lambda m: dict(m, complete=True, status="aborted"),
    "format wrong": _set(["format"], "pyperf"),
    "schema_version text": _set(["schema_version"], "2"),
    "schema_version 0": _set(["schema_version"], 0),
    "schema_version newer": _set(["schema_version"], 99),
    "harness a list": _set(["harness"], []),
    "no harness": _drop(["harness"]),
    "tests not a list": _set(["tests"], {"0": {}}),
    "test without pass": lambda m: (m["tests"][0].pop("pass"), m)[1],
    "test pass text": lambda m: (m["tests"][0].update({"pass": "0"}), m)[1],
    "test mode unknown": lambda m: (m["tests"][0].update({"mode": "Fast"}), m)[1],
    "output dtype object": _set(["output", "dtype"], "O"),
    "output dtype huge void": _set(["output", "dtype"], "V99999999999"),
    "output shape negative": _set(["output", "shape"], [-1]),
    "output shape float": _set(["output", "shape"], [1e10]),
    "latency_source unknown": _set(["latency_source"], "stopwatch"),
    "warnings a string": _set(["warnings"], "careful"),
    "quality kind unknown": _set(["quality", "kind"], "mAP"),
    "quality passes negative": _set(["quality", "passes"], [-1]),
    "params nested 100 deep": _set(["harness", "params"], {"x": _nested(100)}),
    "a key that is not short": _set(["x" * 500], 1),
    "system a number": _set(["system"], 7),
    "huge string": _set(["status_reason"], "x" * 200_000),
}


def _variants(good):
    text = (good / "metadata.json").read_bytes()
    raw = dict(RAW)
    raw["truncated"] = text[: len(text) // 2]
    raw["NaN literal"] = text.replace(b'"warnings": []', b'"warnings": [], "x": NaN')
    raw["Infinity literal"] = text.replace(b'"warnings": []', b'"warnings": [], "x": Infinity')
    raw["latin-1 bytes"] = text.replace(b'"warnings": []', b'"warnings": ["caf\xe9"]')
    raw["utf-16"] = text.decode().encode("utf-16")
    for name, edit in EDITS.items():
        raw[name] = json.dumps(edit(json.loads(text))).encode()
    return raw


VARIANTS = sorted(set(RAW) | set(EDITS))


@pytest.mark.parametrize("name", VARIANTS)
def test_mangled_metadata_is_one_line(good_run, run_copy, name):
    (run_copy / "metadata.json").write_bytes(_variants(good_run)[name])
    outcomes = every_reader(str(run_copy))
    assert outcomes[0] == ("load", "error"), outcomes  # every variant above is refused on read


def test_mangled_metadata_cli_exit_2(good_run, run_copy):
    for name in ("sample_count 1e12 (float)", "deep list (recursion)", "utf-16", "output dtype object"):
        (run_copy / "metadata.json").write_bytes(_variants(good_run)[name])
        p = run_tailq("show", str(run_copy))
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, (name, p.stderr)


def test_metadata_with_a_utf8_bom_reads(run_copy):
    path = run_copy / "metadata.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert every_reader(str(run_copy))[0] == ("load", "ok")


def test_unknown_metadata_keys_are_carried_not_trusted(run_copy):
    path = run_copy / "metadata.json"
    meta = json.loads(path.read_text())
    meta["from_a_newer_tailq"] = {"gpu": "H200", "clock_mhz": 1980}
    path.write_text(json.dumps(meta))
    assert load_run(str(run_copy)).metadata["from_a_newer_tailq"]["gpu"] == "H200"


def test_metadata_that_is_not_a_regular_file(run_copy):
    path = run_copy / "metadata.json"
    path.unlink()
    os.mkfifo(path)
    one_line_user_error(load_run, str(run_copy), needle="FIFO")  # never blocks on the FIFO
    path.unlink()
    path.mkdir()
    one_line_user_error(load_run, str(run_copy), needle="directory")


def test_oversized_metadata_is_refused_unread(run_copy):
    path = run_copy / "metadata.json"
    with open(path, "r+b") as f:
        f.truncate(65 * 2**20)  # sparse: costs nothing on disk
    one_line_user_error(load_run, str(run_copy), needle="bytes")


# -- damaged record files ---------------------------------------------------------------------------
def _rewrite_pass(run_dir, fn, index=1):
    path = run_dir / "records" / f"pass-{index:05d}.parquet"
    table = pq.read_table(path)
    pq.write_table(fn(table), path)


def _set_col(name, values):
    def fn(t):
        return t.set_column(t.schema.get_field_index(name), name, values(t))
    return fn


@pytest.mark.parametrize("case,needle", [
    ("negative latency", "negative latencies"),
    ("unknown status", "status"),
    ("sample index outside", "outside the dataset"),
    ("rows of another pass", "another pass"),
    ("latency as text", "expected int64"),
    ("missing column", "missing"),
    ("truncated file", "unreadable"),
    ("fifo", "not a regular file"),
    ("samples.parquet too short", "one row per sample"),
    ("score out of range", "[0, 1]"),
    ("score NaN", "[0, 1]"),
    ("quality rows missing", "one row per sample"),
])
def test_damaged_records_are_one_line(run_copy, case, needle):
    path = run_copy / "records" / "pass-00001.parquet"
    if case == "negative latency":
        _rewrite_pass(run_copy, _set_col("latency_ns", lambda t: pa.array(np.full(t.num_rows, -5, np.int64))))
    elif case == "unknown status":
        _rewrite_pass(run_copy, _set_col("status", lambda t: pa.array(["weird"] * t.num_rows)))
    elif case == "sample index outside":
        _rewrite_pass(run_copy, _set_col("sample_index", lambda t: pa.array(np.arange(t.num_rows) + 10**9)))
    elif case == "rows of another pass":
        _rewrite_pass(run_copy, _set_col("pass", lambda t: pa.array(np.zeros(t.num_rows, np.int32))))
    elif case == "latency as text":
        _rewrite_pass(run_copy, _set_col("latency_ns", lambda t: pa.array(["1"] * t.num_rows)))
    elif case == "missing column":
        _rewrite_pass(run_copy, lambda t: t.drop(["sample_index"]))
    elif case == "truncated file":
        path.write_bytes(path.read_bytes()[:200])
    elif case == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif case == "samples.parquet too short":
        t = pq.read_table(run_copy / "samples.parquet")
        pq.write_table(t.slice(0, 5), run_copy / "samples.parquet")
    elif case.startswith("score"):
        q = run_copy / "quality" / "pass-00001.parquet"
        t = pq.read_table(q)
        bad = 2.0 if case == "score out of range" else float("nan")
        pq.write_table(t.set_column(1, "score", pa.array(np.full(t.num_rows, bad))), q)
    elif case == "quality rows missing":
        q = run_copy / "quality" / "pass-00001.parquet"
        pq.write_table(pq.read_table(q).slice(0, 3), q)
    outcomes = dict(every_reader(str(run_copy)))
    assert "error" in outcomes.values(), outcomes
    with pytest.raises(UserError, match=None) as err:
        if case.startswith("score") or case == "quality rows missing":
            workflow.analyze_run(str(run_copy), mc=50, write=False)
        elif case == "samples.parquet too short":
            workflow.analyze_run(str(run_copy), mc=50, write=False)
        else:
            records.export_run(load_run(str(run_copy)), "csv", open(os.devnull, "wb"))
    assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_stored_f1_state_is_bounded(run_copy):
    meta = json.loads((run_copy / "metadata.json").read_text())
    meta["quality"].update(kind="labels", metric="f1_macro",
                           params={"average": "macro", "n_classes": 10**9})
    (run_copy / "metadata.json").write_text(json.dumps(meta))
    for p in range(3):
        q = run_copy / "quality" / f"pass-{p:05d}.parquet"
        t = pq.read_table(q)
        n = t.num_rows
        pq.write_table(records.build_table(records.QUALITY_SCHEMA, sample_index=np.arange(n),
                                           prediction=np.zeros(n, np.int64),
                                           label=np.zeros(n, np.int64)), q)
    one_line_user_error(lambda: workflow.analyze_run(str(run_copy), mc=50, write=False),
                        needle="n_classes")


# -- LoadGen logs: huge integers, and memory that follows the sample count -------------------------
def _imp(dirs, out, correctness):
    return workflow.import_run(dirs, out, correctness=correctness)


def _copy_external(tmp_path):
    dst = tmp_path / "ext"
    shutil.copytree(FIXTURE, dst)
    return dst


def _edit_first_sample(path, fn):
    lines = open(path, "rb").read().splitlines(keepends=True)
    i = next(k for k, l in enumerate(lines) if b'"Sample"' in l and b'"ph":"b"' in l)
    lines[i] = fn(lines[i])
    open(path, "wb").writelines(lines)


@pytest.mark.parametrize("value", [b"18446744073709551616", b"9" * 30])
def test_huge_integers_in_the_trace_are_one_line(tmp_path, value):
    dst = _copy_external(tmp_path)
    import re

    _edit_first_sample(dst / "pass-0" / "mlperf_log_trace.json",
                       lambda l: re.sub(rb'"complete_ns":\d+', b'"complete_ns":' + value, l))
    one_line_user_error(_imp, [str(dst / "pass-0")], str(tmp_path / "o"),
                        str(dst / "correctness.csv"), needle="64 bits")


def test_huge_integers_in_the_json_fallback_are_one_line(tmp_path):
    dst = _copy_external(tmp_path)
    _edit_first_sample(dst / "pass-0" / "mlperf_log_trace.json",
                       lambda l: l.replace(b'"sample_seq":', b'"x":1,"sample_seq":', 1)
                       .replace(b'"query_seq":', b'"query_seq":' + b"9" * 25 + b', "q":', 1))
    one_line_user_error(_imp, [str(dst / "pass-0")], str(tmp_path / "o"),
                        str(dst / "correctness.csv"))


@pytest.mark.parametrize("value", [b"10" + b"0" * 29, b"1e12", b"-4", b"NaN"])
def test_dataset_size_in_detail_log_is_bounded(tmp_path, value):
    dst = _copy_external(tmp_path)
    path = dst / "pass-0" / "mlperf_log_detail.txt"
    path.write_bytes(path.read_bytes().replace(b'"qsl_reported_total_count", "value": 48',
                                               b'"qsl_reported_total_count", "value": ' + value))
    one_line_user_error(_imp, [str(dst / "pass-0")], str(tmp_path / "o"),
                        str(dst / "correctness.csv"))


def test_odd_values_in_detail_log_do_not_reach_metadata(tmp_path):
    dst = _copy_external(tmp_path)
    path = dst / "pass-0" / "mlperf_log_detail.txt"
    extra = (':::MLLOG {"key": "effective_huge", "value": ' + "7" * 40 + '}\n'
             ':::MLLOG {"key": "effective_nan", "value": NaN}\n'
             ':::MLLOG {"key": "effective_nested", "value": ' + "[" * 50 + "]" * 50 + '}\n')
    path.write_bytes(path.read_bytes() + extra.encode())
    meta = workflow.import_run([str(dst / "pass-0")], str(tmp_path / "o"),
                               correctness=str(dst / "correctness.csv"))
    eff = meta["tests"][0]["effective_settings"]
    assert not {"huge", "nan", "nested"} & set(eff) and eff["scenario"] == "SingleStream"
    load_run(str(tmp_path / "o"))


def test_import_memory_follows_the_sample_count_not_the_sequence_number(tmp_path):
    # One trace event with sample_seq 3e8 once made the importer allocate 2.5 GB.
    dst = _copy_external(tmp_path)
    _edit_first_sample(dst / "pass-0" / "mlperf_log_trace.json",
                       lambda l: l.replace(b'"sample_seq":', b'"sample_seq":300000000', 1))
    tracemalloc.start()
    try:
        meta = workflow.import_run([str(dst / "pass-0")], str(tmp_path / "o"),
                                   correctness=str(dst / "correctness.csv"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak  # the 48 samples' arrays, not 300 million slots
    assert "no trace event" in " ".join(meta["warnings"])  # its accuracy entry lost its event


# -- encodings and FIFOs in input files ------------------------------------------------------------
def _import_with_csv(tmp_path, data):
    csv_path = tmp_path / "c.csv"
    csv_path.write_bytes(data)
    return workflow.import_run([os.path.join(FIXTURE, "pass-0")], str(tmp_path / "o"),
                               correctness=str(csv_path))


def test_correctness_csv_with_a_utf8_bom_reads(tmp_path):
    data = open(os.path.join(FIXTURE, "correctness.csv"), "rb").read()
    meta = _import_with_csv(tmp_path, b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
    assert meta["quality"]["kind"] == "scores"


@pytest.mark.parametrize("encoding,needle", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
                                             ("utf-32", "UTF-32"), ("latin-1", "not UTF-8")])
def test_correctness_csv_in_another_encoding_is_named(tmp_path, encoding, needle):
    text = open(os.path.join(FIXTURE, "correctness.csv")).read().replace("sample_index", "sample_index")
    data = text.encode(encoding) if encoding != "latin-1" else text.encode() + "0,caf\xe9\n".encode("latin-1")
    one_line_user_error(_import_with_csv, tmp_path, data, needle=needle)
    assert not os.path.exists(tmp_path / "o")  # refused before anything was written


def _fifo_never_blocks(fn, *args):
    """Run ``fn`` in a thread: a reader that opened the FIFO would block forever."""
    result = {}

    def target():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 — inspected below
            result["exc"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the reader blocked on a FIFO"
    return result.get("exc")


def test_fifo_as_correctness_file(tmp_path):
    fifo = tmp_path / "c.csv"
    os.mkfifo(fifo)
    exc = _fifo_never_blocks(_imp, [os.path.join(FIXTURE, "pass-0")], str(tmp_path / "o"),
                             str(fifo))
    assert isinstance(exc, UserError) and "FIFO" in str(exc)


def test_fifo_as_experiment_file(tmp_path):
    from tailq_loadgen.capture import load_experiment

    fifo = tmp_path / "exp.yaml"
    os.mkfifo(fifo)
    exc = _fifo_never_blocks(load_experiment, str(fifo))
    assert isinstance(exc, UserError) and "FIFO" in str(exc)


def test_fifo_in_a_loadgen_directory(tmp_path):
    dst = _copy_external(tmp_path)
    trace = dst / "pass-0" / "mlperf_log_trace.json"
    trace.unlink()
    os.mkfifo(trace)
    exc = _fifo_never_blocks(_imp, [str(dst / "pass-0")], str(tmp_path / "o"),
                             str(dst / "correctness.csv"))
    assert isinstance(exc, UserError) and "regular file" in str(exc)


@pytest.mark.parametrize("data,needle", [
    ("trace: true\n".encode("utf-16"), "UTF-16"),
    (b"trace: true\nwatchdog_timeout_s: 5\n\xff\n", "not UTF-8"),
    (b"loadgen: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "--experiment"),
])
def test_experiment_file_encodings_and_depth(tmp_path, data, needle):
    from tailq_loadgen.capture import load_experiment

    path = tmp_path / "exp.yaml"
    path.write_bytes(data)
    one_line_user_error(load_experiment, str(path), needle=needle)


def test_experiment_file_with_a_utf8_bom_reads(tmp_path):
    from tailq_loadgen.capture import load_experiment

    path = tmp_path / "exp.yaml"
    path.write_bytes(b"\xef\xbb\xbfwatchdog_timeout_s: 5.0\n")
    assert load_experiment(str(path)).watchdog_timeout_s == 5.0


def test_hostile_analysis_json_is_one_line(run_copy):
    (run_copy / "analysis.json").write_bytes(b"[" * 100_000)
    p = run_tailq("report", str(run_copy), "--html", str(run_copy / "r.html"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
