"""The comparison's checks are calibrated: a perfect prediction passes each at (about) its
nominal rate, a wrong one fails (spec §6, §7). Fixed seeds; the benchmark
(benchmarks/tq_calibration.py) runs the same over ≥ 300 pairs."""

import numpy as np
import pytest

from _simulate import TrueLaw, TrueModel
from tailq_loadgen import tailquality as tq
from tailq_loadgen.metrics import Accuracy
from tailq_loadgen.workflow._compare import failed_conditions, parse_conditions


def test_interval_for_the_minimum_has_its_stated_level():
    # exchangeable minima: a new one falls outside [m_(j), m_(G+1−j)] with probability 2j/(G+1)
    w = tq.min_interval(np.arange(200.0))
    assert w["ranks"] == [5, 196] and w["level"] == pytest.approx(1 - 10 / 201)
    assert (w["low"], w["high"]) == (4.0, 195.0)
    rng = np.random.default_rng(0)
    trials = 20000
    fresh = rng.random((trials, 200, 10)).min(axis=2)
    new = rng.random((trials, 10)).min(axis=1)
    srt = np.sort(fresh, axis=1)
    outside = np.mean((new < srt[:, 4]) | (new > srt[:, 195]))
    assert abs(outside - 10 / 201) < 4.5 * np.sqrt(0.05 * 0.95 / trials), outside


def test_fresh_runs_share_the_estimates_error():
    # one set of fresh passes = one possible full run: its passes share a draw of the
    # run-level law's error, so sets differ more in their means than independent passes do
    tm = TrueModel(n=300, seed=2, shift_sd=0.05)
    lat = tm.passes(5, 1)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    m = Accuracy(tm.predictions, tm.labels)
    th = [np.quantile(lat, 0.5)]
    sets = tq.fresh_sets(fit, m, th, 20, 3, draws=200)[0]          # (200 sets, 20 passes)
    indep = tq.predict_tq(fit, m, th, 4000, 3)[0].reshape(200, 20)
    assert sets.mean(axis=1).std() > 1.5 * indep.mean(axis=1).std()
    # … while each pass is still drawn from the same (marginal) predictive law
    assert sets.std() == pytest.approx(indep.std(), rel=0.25)


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
    # 40 pairs; at a true pass rate of 95% fewer than 30 passes happen with probability
    # 2.9e-6, so all 12 (θ, check) cells at once fail a correct method < 3.5e-5 of the time
    passed = _pairs(TrueLaw(process), process, 40).sum(axis=0)
    assert np.all(passed >= 30), passed


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
