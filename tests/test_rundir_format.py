"""The format itself: documented key by key, versioned, and old directories still read
(golden schema-1 fixtures written by tailq 0.1.0 before the format changed)."""

import json
import os
import re
import shutil

import numpy as np
import pytest

from tailq_loadgen import harnesses, load_run, records, workflow
from tailq_loadgen.metrics import F1, Accuracy, RecallAtK, Scores, metric_from_state, metric_state
from tailq_loadgen.records._metadata import KEYS, MetadataError, validate

from conftest import REPO, run_tailq

DOC = open(os.path.join(REPO, "docs", "record-format.md")).read()
V1 = os.path.join(REPO, "tests", "fixtures", "v1")


def test_every_metadata_key_and_column_is_documented():
    missing = [k for k in KEYS if f"`{k}`" not in DOC]
    assert not missing, f"docs/record-format.md lacks {missing}"
    cols = [c for c in records.COLUMN_NAMES if f"`{c}`" not in DOC]
    assert not cols, cols
    for status in ("running", "complete", "aborted", "interrupted", "failed"):
        assert f"`{status}`" in DOC
    assert f"**{records.SCHEMA_VERSION}**" in DOC  # the format history reaches this version


def test_a_key_is_one_declaration(monkeypatch):
    from tailq_loadgen.records import _metadata as m

    monkeypatch.setattr(m, "KEYS", dict(m.KEYS))
    monkeypatch.setattr(m, "_CHILDREN", {k: dict(v) for k, v in m._CHILDREN.items()})
    m.declare("system.tdp_watts", m.Nullable(m.Float(0)), "thermal design power (W)")
    meta = json.load(open(os.path.join(V1, "imported", "metadata.json")))
    meta = records._migrate.migrate(meta, {"correctness.parquet"}, 2)
    meta["system"]["tdp_watts"] = 280.0
    validate(meta)
    meta["system"]["tdp_watts"] = "hot"
    with pytest.raises(MetadataError, match="system.tdp_watts: must be a number"):
        validate(meta)


# -- golden schema-1 directories --------------------------------------------------------------
def test_v1_captured_run_reads(tmp_path):
    run = load_run(os.path.join(V1, "captured"))
    meta = run.metadata
    assert meta["schema_version"] == 2 and meta["origin"] == "capture"  # migrated on read
    assert meta["status"] == "complete" and run.complete and meta["status_reason"] is None
    assert meta["harness"]["source"] == "sleep samples=16"  # text only now
    assert len(run) == 32 and run.has_latency.all()
    assert run["server_queue_ns"].tolist() == [-1] * 32  # columns added in schema 2: null
    assert run["variant"].tolist() == [None] * 32
    assert run.outputs().shape == (32,)
    assert not run.quality and "tailq import RUN/loadgen/pass-*" in meta["quality_note"]
    assert "--harness sleep --harness-arg samples=16" in meta["quality_note"]
    shown = workflow.summarize(os.path.join(V1, "captured"))
    assert shown["quality"] is None and shown["status"] == "complete"
    assert [f.level for f in workflow.check_run(os.path.join(V1, "captured"))].count("problem") == 0


def test_v1_captured_run_scores_through_the_command_its_note_gives(tmp_path):
    src = os.path.join(V1, "captured", "loadgen")
    dirs = [os.path.join(src, d) for d in sorted(os.listdir(src))]
    out = tmp_path / "re"
    p = run_tailq("import", *dirs, "--harness", "sleep", "--harness-arg", "samples=16", "--out", str(out))
    assert p.returncode == 0, p.stderr
    q = workflow.run_quality(load_run(str(out)))
    assert q["value"] == pytest.approx(0.9375)  # what tailq 0.1.0's show printed for it
    a = load_run(os.path.join(V1, "captured"))
    b = load_run(str(out))
    oa, ob = np.lexsort((a["sample_seq"], a["pass"])), np.lexsort((b["sample_seq"], b["pass"]))
    assert np.array_equal(a["latency_ns"][oa], b["latency_ns"][ob])


def test_v1_imported_run_scores_from_its_correctness_file(tmp_path):
    dst = tmp_path / "imp"
    shutil.copytree(os.path.join(V1, "imported"), dst)
    run = load_run(str(dst))
    assert run.metadata["origin"] == "import" and run.quality.info["every_pass"]
    assert workflow.run_quality(run)["value"] == pytest.approx(41 / 48)
    analysis, _ = workflow.analyze_run(str(dst), mc=100, thresholds="p90,p99")
    assert analysis.n_samples == 48 and analysis.n_passes == 2
    p = run_tailq("export", str(dst), "--format", "csv")
    assert p.returncode == 0 and p.stdout.count("\n") == 97
    header = p.stdout.splitlines()[0].split(",")
    assert header == list(records.COLUMN_NAMES)


def test_v1_interrupted_status_is_migrated(tmp_path):
    dst = tmp_path / "cap"
    shutil.copytree(os.path.join(V1, "captured"), dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta.update(status="aborted", complete=False, abort_reason="interrupted by SIGINT")
    (dst / "metadata.json").write_text(json.dumps(meta))
    meta = load_run(str(dst)).metadata
    assert meta["status"] == "interrupted" and meta["status_reason"] == "interrupted by SIGINT"


def test_v2_metadata_round_trips_through_validation(tmp_path):
    out = tmp_path / "r"
    from tailq_loadgen.capture import run_capture

    run_capture(harnesses.get_harness("sleep", samples=16), scenario="Offline", passes=2,
                out=str(out), log=lambda *_: None)
    meta = json.loads((out / "metadata.json").read_text())
    assert validate(meta) is meta
    assert meta["quality"] == {"metric": "accuracy", "kind": "scores", "params": {},
                               "source": "the harness's metric at capture", "passes": [0, 1],
                               "every_pass": False}
    assert sorted(os.listdir(out / "quality")) == ["pass-00000.parquet", "pass-00001.parquet"]
    assert not os.path.exists(out / ".tailq-reserve")  # given back at the end


# -- stored metric state --------------------------------------------------------------------------
def test_metric_state_round_trips_with_the_failure_rule():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.8, labels, (labels + 1) % 4)
    valid = rng.random((200, 7)) < 0.9
    for metric in (Accuracy(pred, labels), F1(pred, labels, "macro"), F1(pred, labels, "weighted"),
                   RecallAtK(np.stack([pred, labels], 1), labels, k=2),
                   Scores(rng.random(200), "score")):
        kind, params, columns = metric_state(metric)
        again = metric_from_state(kind, params, columns)
        assert again.name == metric.name
        np.testing.assert_array_equal(again.evaluate(valid), metric.evaluate(valid))
        # a subset's state is its first rows: the metric on the subset
        sub = metric_from_state(kind, params, {k: v[:50] for k, v in columns.items()})
        assert sub.evaluate(valid[:50]).shape == (7,)


@pytest.mark.parametrize("kind,params,columns,needle", [
    ("scores", {"name": "x"}, {"score": np.array([0.5, 1.5])}, "[0, 1]"),
    ("scores", {"name": "x"}, {"score": np.array([np.nan])}, "[0, 1]"),
    ("scores", {"name": 7}, {"score": np.array([0.5])}, "name"),
    ("labels", {"name": "f1", "average": "macro", "n_classes": 10**9},
     {"prediction": np.zeros(3, int), "label": np.zeros(3, int)}, "n_classes"),
    ("labels", {"name": "f1", "average": "macro", "n_classes": 3},
     {"prediction": np.zeros(3, int), "label": np.array([0, 5, -1])}, "labels"),
    ("labels", {"name": "f1", "average": "micro", "n_classes": 3},
     {"prediction": np.zeros(3, int), "label": np.zeros(3, int)}, "average"),
    ("mAP", {"name": "m"}, {}, "kind"),
])
def test_stored_states_are_checked(kind, params, columns, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        metric_from_state(kind, params, columns)
