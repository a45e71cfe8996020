"""Variant families: every variant builds, serves its family's dataset, and reaches its quality
floor through LoadGen; the family's accuracy ordering is the one docs/variants.md states.

Accuracy of a trained model on fixed data is deterministic, so it is asserted; speed is not
(it is measured by benchmarks/variants.py)."""

import numpy as np
import pytest

from tailq_loadgen import harnesses, load_run, workflow
from tailq_loadgen.capture import run_capture
from tailq_loadgen._errors import UserError
from tailq_loadgen.harnesses import digits, digits_family, text_family

from conftest import run_tailq

QUIET = dict(log=lambda *_: None)
# Quality floors: the measured values of docs/variants.md rounded down (digits: all 719 test
# images; docstrings: the first 80 docstrings of Python 3.11's corpus).
DIGITS_FLOORS = {"digits-linear": 0.935, "digits-mlp": 0.963, "digits-torch": 0.980,
                 "digits-cnn-wide": 0.987}
TEXT_SAMPLES = 80


def test_every_family_variant_is_registered_and_families_are_named():
    for family in harnesses.FAMILIES.values():
        assert family.variants and len(set(family.variants)) == len(family.variants)
        for name in family.variants:
            assert name in harnesses.REGISTRY, name
            assert family.name in harnesses.family_of(name)
            assert harnesses.REGISTRY[name].metric == family.metric
    assert harnesses.get_family("digits").variants[2] == "digits-torch"  # the CNN, unchanged


def test_synthetic_and_digits_variants_carry_their_registered_model_name():
    # LoadGen matches user.conf keys on the model name: the listing must show the real one
    for family in ("synthetic", "synthetic-laws", "digits"):
        for name in harnesses.get_family(family).variants:
            assert harnesses.get_harness(name).model == harnesses.REGISTRY[name].model_name, name
            assert len(harnesses.REGISTRY[name].model_name) <= 13  # the listing's column


def test_unknown_family_is_a_one_line_error():
    with pytest.raises(UserError) as err:
        harnesses.get_family("nope")
    assert "digits" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_digits_variants_serve_one_dataset_and_are_ordered_by_accuracy():
    accuracies = {}
    reference = digits.DigitsDataset()
    for name in harnesses.get_family("digits").variants:
        h = harnesses.get_harness(name)
        assert h.dataset.get_item_count() == 719
        np.testing.assert_array_equal(h.dataset.ground_truth(), reference.ground_truth())
        np.testing.assert_array_equal(h.dataset.get_samples(np.arange(719)),
                                      reference.get_samples(np.arange(719)))
        h.backend.load()
        outputs = h.backend.predict(h.dataset.get_samples(np.arange(719)))
        accuracies[name] = h.make_metric(outputs).no_limit()
    order = harnesses.get_family("digits").variants
    values = [accuracies[n] for n in order]
    assert values == sorted(values) and len(set(values)) == len(values), accuracies
    for name, floor in DIGITS_FLOORS.items():
        assert accuracies[name] >= floor, (name, accuracies[name])
    assert values[-1] - values[0] > 0.04  # a spread that makes routing a real choice


@pytest.mark.slow
def test_family_trainer_reproduces_the_cnn_bit_for_bit(tmp_path):
    # digits-torch stays what it was: the family's trainer, given the CNN, gives its weights.
    weights, accuracy = digits_family.train(digits._torch_net)
    cached = digits.trained_weights()
    assert sorted(weights) == sorted(cached)
    for key in cached:
        np.testing.assert_array_equal(weights[key], cached[key])
    assert accuracy == pytest.approx(0.9805, abs=5e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DIGITS_FLOORS))
def test_digits_variant_reaches_its_floor_through_loadgen(tmp_path, name):
    h = harnesses.get_harness(name)
    out = str(tmp_path / "acc")
    run_capture(h, scenario="SingleStream", mode="AccuracyOnly", out=out, **QUIET)
    run = load_run(out)
    assert run.complete and (run["status"] == "ok").all() and len(run) == 719
    quality = workflow.run_quality(run)
    assert quality["metric"] == "accuracy" and quality["value"] >= DIGITS_FLOORS[name]
    assert run.metadata["harness"]["model"] == harnesses.REGISTRY[name].model_name


def test_truncate_tokens_keeps_the_framing():
    ids = np.array([[101, 5, 6, 7, 8, 102], [101, 9, 102, 0, 0, 0]])
    mask = (ids != 0).astype(np.int64)
    out = text_family.truncate_tokens({"input_ids": ids, "attention_mask": mask}, 4, 102)
    np.testing.assert_array_equal(out["input_ids"], [[101, 5, 6, 102], [101, 9, 102, 0]])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1, 1], [1, 1, 1, 0]])
    same = text_family.truncate_tokens({"input_ids": ids, "attention_mask": mask}, 6, 102)
    assert same["input_ids"] is ids


@pytest.mark.slow
def test_text_variants_serve_one_dataset_and_reach_their_floor_through_loadgen(tmp_path):
    family = harnesses.get_family("docstrings")
    reference = None
    values = {}
    for name in family.variants:
        h = harnesses.get_harness(name, samples=TEXT_SAMPLES)
        items = [item[0] for item in h.dataset.items]
        reference = reference or items
        assert items == reference and h.metric == "recall@5"
        assert h.model == harnesses.REGISTRY[name].model_name
        out = str(tmp_path / name)
        run_capture(h, scenario="SingleStream", mode="AccuracyOnly", out=out, **QUIET)
        run = load_run(out)
        assert run.complete and (run["status"] == "ok").all()
        values[name] = workflow.run_quality(run)["value"]
    # docs/variants.md: cutting layers costs far more recall than cutting input tokens, and
    # reading more tokens never lowers recall on this corpus
    assert values["docstrings-l1"] < values["docstrings-t16"]
    assert values["docstrings-t16"] <= values["docstrings-t32"] <= values["docstrings-t64"] \
        <= values["docstrings-torch"]
    assert values["docstrings-torch"] >= 0.70 and values["docstrings-t16"] >= 0.5, values


def test_variants_run_through_the_cli_like_any_harness(tmp_path):
    proc = run_tailq("run", "--harness", "synth-det-2ms", "--harness-arg", "samples=30",
                     "--scenario", "SingleStream", "--passes", "1", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "quality (accuracy): 0.7000" in proc.stdout
    listing = run_tailq("harnesses").stdout
    for family in harnesses.FAMILIES.values():
        for name in family.variants:
            assert name in listing
