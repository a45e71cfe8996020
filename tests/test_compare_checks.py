"""The comparison's checks are calibrated: a perfect prediction passes each at (about) its
nominal rate, a wrong one fails (spec §6, §7). Fixed seeds; the benchmark
(benchmarks/tq_calibration.py) runs the same over ≥ 300 pairs."""

import numpy as np
import pytest

from _simulate import TrueLaw, TrueModel
from tailq_loadgen import tailquality as tq
from tailq_loadgen.metrics import Accuracy
from tailq_loadgen.workflow._compare import failed_conditions, parse_conditions


def test_interval_for_the_minimum_has_its_stated_tails():
    # distribution-free: for iid continuous draws, P(min of R < X_(lo)) is exactly the tail
    m, r = 400, 10
    lo, hi, below, above = tq.min_interval_ranks(m, r, 0.95)
    assert below <= 0.025 and above <= 0.025 and lo >= 1 and hi > lo
    rng = np.random.default_rng(0)
    trials = 20000
    synth = np.sort(rng.random((trials, m)), axis=1)
    mins = rng.random((trials, r)).min(axis=1)
    got_below = np.mean(mins < synth[:, lo - 1])
    got_above = np.mean(mins > synth[:, hi - 1])
    for got, want in ((got_below, below), (got_above, above)):
        assert abs(got - want) < 4.5 * np.sqrt(want * (1 - want) / trials), (got, want)
    # 40 × R synthetic passes are enough for a two-sided 95% interval
    lo, hi, below, above = tq.min_interval_ranks(40 * 376, 376)
    assert lo == 1 and 1 - below - above >= 0.95


def _pairs(predictor, process, n_pairs, r_full=40, seed0=0):
    m = Accuracy(process.predictions, process.labels)
    thetas = np.quantile(process.passes(60, 99), [0.9, 0.95, 0.99])
    out = []
    for s in range(n_pairs):
        lat = process.passes(r_full, 1000 + s + seed0)
        observed = tq.observed_tq(lat, np.ones_like(lat, bool), m, thetas)
        rows = tq.compare_prediction(predictor, m, thetas, observed, s, mc=1000, floor_draws=100)
        out.append([[r["match"] != "no", r["worst_inside"], r["mean_within"], bool(r["reproduces"])]
                    for r in rows])
    return np.array(out)  # (pairs, thresholds, checks)


@pytest.fixture(scope="module")
def process():
    return TrueModel(n=200, seed=3, shift_sd=0.03, stall_rate=0.01, stall_ns=(2e6, 1e7))


@pytest.mark.slow
def test_a_perfect_prediction_passes_every_check(process):
    # 40 pairs; at a true pass rate of 95% fewer than 31 passes happen with probability 1e-5
    passed = _pairs(TrueLaw(process), process, 40).sum(axis=0)
    assert np.all(passed >= 31), passed


@pytest.mark.slow
def test_a_wrong_prediction_fails(process):
    # the same process 6% slower: the mean and JSD checks must see it at p90 and p95
    slower = TrueModel(n=200, seed=3, shift_sd=0.03, stall_rate=0.01, stall_ns=(2e6, 1e7),
                       base_ns=5e5 * 1.06)
    passed = _pairs(TrueLaw(slower), process, 20).mean(axis=0)
    assert np.all(passed[:2, 2] <= 0.3), passed       # mean check
    assert np.all(passed[:2, 0] <= 0.5), passed       # JSD check


def test_fail_if_conditions():
    doc = {"thresholds": [{"label": "p90", "jsd": 0.2, "match": "no", "worst_inside": False,
                           "worst_interval": [0.8, 0.85], "observed": {"min": 0.7},
                           "mean_within": False, "mean_z": -3.2, "mean_diff": -0.01,
                           "ratio": 12.0, "reproduces": False, "split_jsd": 0.3}],
           "estimate_self_checks": {"in_sample": {"ok": False, "verdict": "in-sample: FAILS at p90"}}}
    conds = parse_conditions(["jsd>0.05,mean_z>2", "worst_outside", "no_match", "mean_outside",
                              "reference_unstable", "self_check", "ratio<10"])
    hits = failed_conditions(doc, conds)
    assert len(hits) == 7, hits  # eight conditions; ratio 12 is not < 10
    assert any("outside the predicted interval [0.8000, 0.8500]" in h for h in hits)
    with pytest.raises(Exception, match="fail-if"):
        parse_conditions(["mean_z"])
