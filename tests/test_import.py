"""Importing LoadGen directories of other harnesses, and every way their files can be broken."""

import json
import os
import random
import re
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tailq_loadgen import UserError, load_run, report, workflow
from tailq_loadgen.capture import run_capture

from tailq_loadgen import harnesses
from conftest import REPO, run_tailq

FIXTURE = os.path.join(REPO, "tests", "fixtures", "external")
PASSES = [os.path.join(FIXTURE, f"pass-{i}") for i in range(3)]
CORRECTNESS = os.path.join(FIXTURE, "correctness.csv")


def test_external_reference_style_harness_imports_and_analyses(tmp_path):
    out = tmp_path / "imp"
    p = run_tailq("import", *PASSES, "--correctness", CORRECTNESS, "--out", str(out))
    assert p.returncode == 0, p.stderr
    run = load_run(str(out))
    assert run.complete and len(run) == 3 * 48
    assert sorted(set(run["pass"].tolist())) == [0, 1, 2]
    for k in range(3):
        assert sorted(run["sample_index"][run["pass"] == k].tolist()) == list(range(48))
    assert run.has_latency.all() and (run["latency_ns"] > 0).all()
    assert workflow.run_quality(run)["value"] == pytest.approx(41 / 48)
    p = run_tailq("analyze", str(out), "--thresholds", "p90,p99", "--mc", "200")
    assert p.returncode == 0, p.stderr
    assert run_tailq("show", str(out)).returncode == 0


def test_import_equals_capture_for_the_same_passes(tmp_path):
    # The plugin's own LoadGen directories, imported: the same latencies (LoadGen's trace),
    # the same outputs (the accuracy log holds the bytes we handed to LoadGen), the same analysis.
    cap = str(tmp_path / "cap")
    run_capture(harnesses.get_harness("sleep", samples=80), scenario="SingleStream", passes=4,
                out=cap, log=lambda *_: None)
    dirs = [os.path.join(cap, "loadgen", f"pass-{i:05d}") for i in range(4)]
    imp = str(tmp_path / "imp")
    workflow.import_run(dirs, imp, harness=harnesses.get_harness("sleep", samples=80))
    a, _ = workflow.analyze_run(cap, thresholds="p90,p99,1ms", mc=300, seed=3, write=False)
    b, _ = workflow.analyze_run(imp, thresholds="p90,p99,1ms", mc=300, seed=3, write=False)
    assert json.dumps(a.as_dict(), sort_keys=True) == json.dumps(b.as_dict(), sort_keys=True)


# -- hostile inputs ------------------------------------------------------------------------
def _copy(tmp_path):
    dst = tmp_path / "ext"
    shutil.copytree(FIXTURE, dst)
    return dst


def _lines(path):
    return open(path, "rb").read().splitlines(keepends=True)


def _sample_lines(lines):
    return [i for i, l in enumerate(lines) if b'"Sample"' in l and b'"ph":"b"' in l]


def _import(dst, passes=1):
    return workflow.import_run([str(dst / f"pass-{i}") for i in range(passes)],
                               str(dst / "out"), correctness=str(dst / "correctness.csv"))


def _edit(path, fn):
    lines = _lines(path)
    open(path, "wb").writelines(fn(lines))


def test_reordered_trace_lines_change_nothing(tmp_path):
    dst = _copy(tmp_path)
    trace = dst / "pass-0" / "mlperf_log_trace.json"

    def shuffle(lines):
        idx = _sample_lines(lines)
        picked = [lines[i] for i in idx]
        random.Random(0).shuffle(picked)
        for i, l in zip(idx, picked):
            lines[i] = l
        return lines

    _edit(trace, shuffle)
    _import(dst)
    a = load_run(str(dst / "out"))
    b_dst = tmp_path / "clean"
    workflow.import_run([PASSES[0]], str(b_dst), correctness=CORRECTNESS)
    b = load_run(str(b_dst))
    order_a, order_b = np.argsort(a["sample_seq"]), np.argsort(b["sample_seq"])
    assert np.array_equal(a["latency_ns"][order_a], b["latency_ns"][order_b])


@pytest.mark.parametrize("case,needle", [
    ("duplicate_trace_line", "appears twice"),
    ("truncated_trace", "unreadable Sample event"),
    ("corrupt_accuracy_line", "not an accuracy-log entry"),
    ("duplicate_accuracy_line", "appears twice"),
    ("index_out_of_range", "outside the dataset"),
    ("accuracy_disagrees_on_sample", "do not belong to the same run"),
    ("empty_trace", "empty"),
    ("missing_detail_key", "missing qsl_reported_total_count"),
    ("null_detail_value", "qsl_reported_total_count=None is not what LoadGen writes"),
    ("text_detail_value", "effective_scenario=7 is not what LoadGen writes"),
    ("correctness_missing_rows", "have no row"),
    ("correctness_bad_value", "must be 0 or 1"),
    ("correctness_bad_header", "header must name"),
])
def test_broken_files_give_one_clear_error(tmp_path, case, needle):
    dst = _copy(tmp_path)
    d = dst / "pass-0"
    trace, acc, detail = d / "mlperf_log_trace.json", d / "mlperf_log_accuracy.json", d / "mlperf_log_detail.txt"
    corr = dst / "correctness.csv"
    if case == "duplicate_trace_line":
        _edit(trace, lambda ls: ls + [ls[_sample_lines(ls)[3]]])
    elif case == "truncated_trace":
        _edit(trace, lambda ls: ls[:_sample_lines(ls)[10]] + [ls[_sample_lines(ls)[10]][:60]])
    elif case == "corrupt_accuracy_line":
        _edit(acc, lambda ls: ls[:5] + [b'{ "seq_id" : 4, "qsl_idx" : zz }\n'] + ls[6:])
    elif case == "duplicate_accuracy_line":
        _edit(acc, lambda ls: ls[:5] + [ls[5], ls[5]] + ls[6:])
    elif case == "index_out_of_range":
        _edit(trace, lambda ls: [l.replace(b'"sample_idx":', b'"sample_idx":9', 1)
                                 if i == _sample_lines(ls)[2] else l for i, l in enumerate(ls)])
    elif case == "accuracy_disagrees_on_sample":
        text = open(acc).read()
        entries = json.loads(text)
        entries[3]["qsl_idx"] = (entries[3]["qsl_idx"] + 1) % 48
        open(acc, "w").write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    elif case == "empty_trace":
        open(trace, "w").close()
    elif case == "missing_detail_key":
        _edit(detail, lambda ls: [l for l in ls if b"qsl_reported_total_count" not in l])
    elif case == "null_detail_value":  # found by benchmarks/fuzz_parsers.py
        _edit(detail, lambda ls: [re.sub(rb'("key": "qsl_reported_total_count", "value": )\d+', rb"\1null", l)
                                  for l in ls])
    elif case == "text_detail_value":
        _edit(detail, lambda ls: [re.sub(rb'("key": "effective_scenario", "value": )"\w+"', rb"\g<1>7", l)
                                  for l in ls])
    elif case == "correctness_missing_rows":
        _edit(corr, lambda ls: ls[:-3])
    elif case == "correctness_bad_value":
        _edit(corr, lambda ls: ls[:2] + [b"1,7\n"] + ls[3:])
    elif case == "correctness_bad_header":
        _edit(corr, lambda ls: [b"idx,correct\n"] + ls[1:])
    with pytest.raises(UserError, match=needle) as err:
        _import(dst)
    assert "\n" not in str(err.value)


def test_disagreeing_counts_and_bad_latency_are_warnings_with_counts(tmp_path):
    dst = _copy(tmp_path)
    trace = dst / "pass-0" / "mlperf_log_trace.json"
    # drop two samples' trace events and zero one latency: the rest is still sound
    _edit(trace, lambda ls: [l for i, l in enumerate(ls) if i not in _sample_lines(ls)[:2]])
    _edit(trace, lambda ls: [l.replace(b'"complete_ns":', b'"complete_ns":0,"x":', 1)
                             if i == _sample_lines(ls)[5] else l for i, l in enumerate(ls)])
    meta = _import(dst)
    text = " ".join(meta["warnings"])
    assert "2 accuracy-log entries have no trace event" in text
    assert "1 samples with a zero or negative latency" in text
    run = load_run(str(dst / "out"))
    assert int(np.sum(run["status"] == "error")) == 3 and len(run) == 48


def test_import_cli_errors(tmp_path):
    p = run_tailq("import", str(tmp_path / "nowhere"), "--correctness", CORRECTNESS, "--out",
                  str(tmp_path / "o"))
    assert p.returncode == 2 and "no such LoadGen output directory" in p.stderr
    p = run_tailq("import", *PASSES, "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "--harness" in p.stderr
    p = run_tailq("import", *PASSES, "--harness", "sleep", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "do not join" in p.stderr


# -- property-based: any mangling of the logs gives a result or a UserError, nothing else ---
MUTATIONS = ("delete", "duplicate", "swap", "truncate", "flip", "insert_garbage", "blank")


def _mutate(data, ops, rnd):
    lines = data.splitlines(keepends=True)
    for op in ops:
        if not lines:
            break
        i = rnd.randrange(len(lines))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate":
            lines = lines[:i] + [lines[i][:rnd.randrange(len(lines[i]) + 1)]]
        elif op == "flip" and lines[i]:
            k = rnd.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + bytes([rnd.randrange(256)]) + lines[i][k + 1:]
        elif op == "insert_garbage":
            lines.insert(i, bytes(rnd.randrange(256) for _ in range(rnd.randrange(40))) + b"\n")
        elif op == "blank":
            lines[i] = b"\n"
    return b"".join(lines)


ORIGINAL = {name: open(os.path.join(FIXTURE, "pass-0", name), "rb").read()
            for name in ("mlperf_log_trace.json", "mlperf_log_accuracy.json", "mlperf_log_detail.txt")}


@given(target=st.sampled_from(sorted(ORIGINAL)),
       ops=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=6),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mangled_logs_never_crash(tmp_path_factory, target, ops, seed):
    dst = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(FIXTURE, dst / "ext")
    path = dst / "ext" / "pass-0" / target
    path.write_bytes(_mutate(ORIGINAL[target], ops, random.Random(seed)))
    try:
        workflow.import_run([str(dst / "ext" / "pass-0")], str(dst / "out"),
                            correctness=str(dst / "ext" / "correctness.csv"))
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    use_imported(str(dst / "out"))


def use_imported(out):
    """What a user does next with an imported run: read it, ``show`` it, ``check`` it.

    A successful import must be a readable, consistent run that these never crash on."""
    run = load_run(out)
    assert not np.any(run["sample_index"] >= 48)
    report.format_summary(workflow.summarize(out))
    workflow.format_check(workflow.check_run(out))
