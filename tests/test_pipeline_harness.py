"""The digits pipeline (harnesses/pipeline.py): stage variants, measured combination accuracy,
deterministic classifier training, the registry's pipeline entry and its one-line errors."""

import numpy as np
import pytest

pytest.importorskip("torch")

from tailq_loadgen import harnesses  # noqa: E402
from tailq_loadgen._errors import UserError  # noqa: E402
from tailq_loadgen.harnesses import pipeline  # noqa: E402
from tailq_loadgen.harnesses.digits import load_split  # noqa: E402


def test_combinations_are_measured_end_to_end_through_the_deployed_stages():
    combo = harnesses.pipeline_accuracy("digits-pipe")
    assert set(combo) == {(e, c) for e in pipeline.ENCODERS for c in pipeline.CLASSIFIERS}
    assert all(0.9 < a <= 1.0 for a in combo.values())
    _, _, x, y = load_split()
    harness, stages = harnesses.build_pipeline(
        "digits-pipe", [("encoder", "enc-cnn", 1), ("classifier", "clf-linear", 1)])
    assert [(s, v) for s, v, _ in stages] == [("encoder", "enc-cnn"), ("classifier", "clf-linear")]
    out = x
    for _, _, backend in stages:
        out = backend.load().predict(out)
    assert out.shape == (len(y), 10)
    assert harness.make_metric(out).scores.mean() == pytest.approx(combo[("enc-cnn", "clf-linear")])
    # the classifier's weights depend on the encoder: the same head on another encoder differs
    assert combo[("enc-cnn", "clf-linear")] != combo[("enc-mlp", "clf-linear")]


def test_a_classifier_trains_the_same_weights_again(tmp_path):
    cached = pipeline.head_weights("enc-mlp", "clf-linear", log=lambda *a: None)
    # a fresh cache (the encoder's digits network is trained there too): bit for bit the same
    fresh = pipeline.head_weights("enc-mlp", "clf-linear", cache=str(tmp_path), log=lambda *a: None)
    assert set(cached) == set(fresh)
    assert all(np.array_equal(cached[k], fresh[k]) for k in cached)


def test_stage_variants_are_harnesses_that_name_their_stage():
    pipe = harnesses.get_pipeline("digits-pipe")
    assert pipe.variant_names("encoder") == ("enc-mlp", "enc-cnn", "enc-wide")
    for stage, names in pipe.stages:
        for name in names:
            h = harnesses.get_harness(name)
            assert h.params["pipeline_stage"] == stage and name in harnesses.REGISTRY
    enc = harnesses.get_harness("pipe-enc-mlp")
    feats = enc.backend.load().predict(enc.dataset.get_samples(np.arange(5)))
    assert feats.shape == (5, 128) and enc.output_shape == (128,)


def test_a_plan_names_variants_by_stage_or_harness_name():
    choices = [("encoder", "pipe-enc-mlp", 1), ("classifier", "clf-mlp", 1)]
    assert harnesses.pipeline_of(choices) == "digits-pipe"
    harness, stages = harnesses.build_pipeline(None, choices)
    assert [v for _, v, _ in stages] == ["enc-mlp", "clf-mlp"]
    assert harness.params["pipeline"] == "digits-pipe"
    with pytest.raises(UserError, match="no registered pipeline has the stage variants"):
        harnesses.pipeline_of([("encoder", "enc-x", 1)])


def test_pipeline_errors_are_one_line():
    with pytest.raises(UserError, match="--pipeline 'nope': unknown; choose one of digits-pipe"):
        harnesses.get_pipeline("nope")
    with pytest.raises(UserError, match="stage 'encoder' has no variant 'enc-x'") as err:
        harnesses.build_pipeline("digits-pipe", [("encoder", "enc-x", 1), ("classifier", "clf-mlp", 1)])
    assert "\n" not in str(err.value)


def test_the_digits_pipeline_verified_under_loadgen_scores_each_sample_end_to_end(tmp_path):
    from tailq_loadgen import records
    from tailq_loadgen.workflow import _pipeline_verify as pv

    plan = {"mode": "pipeline", "qps": 200.0, "slo_s": 0.02, "objective": "tq",
            "choices": [{"stage": "encoder", "variant": "pipe-enc-mlp", "batch": 2, "replicas": 1,
                         "threads": 1},
                        {"stage": "classifier", "variant": "clf-linear", "batch": 1, "replicas": 2,
                         "threads": 1}],
            "accuracy": 0.9611, "predicted_tail_quality": 0.95, "predicted_on_time": 0.99,
            "predicted_p99_s": 0.003, "predicted_mean_s": 0.001, "predictor": "analytic"}
    doc = pv.verify_pipeline_plan(plan, harnesses, out=str(tmp_path / "v"), queries=300, seed=5,
                                  log=lambda *a: None)
    assert doc["pipeline"] == "digits-pipe"
    _, _, x, y = load_split()
    logits = pipeline._run(pipeline.classifier_module("enc-mlp", "clf-linear"),
                           pipeline._run(pipeline.encoder_module("enc-mlp"), x))
    right = logits.argmax(1) == y
    run = records.load_run(str(tmp_path / "v"))
    assert set(run["variant"]) == {"enc-mlp/clf-linear"} and set(run["status"]) == {"ok"}
    order = np.argsort(run["wrapper_issue_ns"], kind="stable")[30:]  # after the 10% warm-up
    assert doc["measured"]["accuracy"] == pytest.approx(right[run["sample_index"][order]].mean(),
                                                        abs=1e-12)
    assert [s["replicas"] for s in doc["measured"]["stages"]] == [1, 2]


def test_pipeline_profiled_planned_and_verified_through_the_cli(tmp_path):
    """tailq profile (stage-tagged) → tailq plan (IPA mode, stages in the pipeline's order
    whatever the order of --profiles, the measured combination's accuracy) → tailq plan
    --verify on the pipeline SUT under LoadGen."""
    import json
    import os

    from conftest import run_tailq

    prof = str(tmp_path / "prof")
    names = ["pipe-enc-mlp", "pipe-enc-cnn", "pipe-clf-linear", "pipe-clf-mlp"]
    r = run_tailq("profile", "--harness", ",".join(names), "--queries", "200", "--out", prof,
                  timeout=300)
    assert r.returncode == 0, r.stderr
    plan = str(tmp_path / "plan.json")
    # classifiers listed first: the registered pipeline, not the order given, orders the stages
    r = run_tailq("plan", "--profiles", *(os.path.join(prof, n) for n in reversed(names)),
                  "--slo", "20ms", "--qps", "200", "--cores", "2", "--out", plan)
    assert r.returncode == 0, r.stderr
    doc = json.load(open(plan))["plan"]
    assert doc["mode"] == "pipeline"
    assert [c["stage"] for c in doc["choices"]] == ["encoder", "classifier"]
    combo = harnesses.pipeline_accuracy("digits-pipe")
    chosen = tuple(c["variant"][len("pipe-"):] for c in doc["choices"])
    assert doc["accuracy"] == pytest.approx(combo[chosen])
    out = str(tmp_path / "verify")
    r = run_tailq("plan", "--verify", plan, "--out", out, "--queries", "600", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "pipeline plan" in r.stdout and "tail quality" in r.stdout
    v = json.load(open(os.path.join(out, "verify.json")))
    assert v["mode"] == "pipeline" and v["measured"]["samples"] > 0
    assert [d["stage"] for d in v["deployed"]] == ["encoder", "classifier"]
