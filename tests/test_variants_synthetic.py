"""Synthetic variants: their declared service-time law and correctness are what they do.

The goodness-of-fit checks run on the backend's own seeded draws (what it is asked to sleep):
deterministic given the seed, at a level a correct law fails with probability < 1e-4, and
calibrated below (a right law passes at its nominal rate, a wrong one fails). What sleeping
adds on a loaded machine — a positive shift — is measured by benchmarks/variants.py, not
asserted; tests only use what sleep guarantees (it never returns early)."""

import numpy as np
import pytest
from scipy import stats

from tailq_loadgen import harnesses, load_run
from tailq_loadgen._errors import UserError
from tailq_loadgen.capture import run_capture
from tailq_loadgen.harnesses import synthetic_family as sf

from conftest import run_tailq

LEVEL = 1e-4


def scipy_law(law):
    if law.kind == "exponential":
        return stats.expon(scale=law.mean_ms)
    if law.kind == "lognormal":
        return stats.lognorm(s=law.sigma, scale=law.median_ms)
    return None


@pytest.mark.parametrize("variant", sorted(sf.VARIANTS))
def test_backend_draws_follow_the_declared_law(variant):
    h = harnesses.get_harness(variant)
    law = h.backend.law
    h.backend.load()
    draws = law.draw_ms(h.backend.rng, 20000)
    ref = scipy_law(law)
    if ref is None:
        assert np.all(draws == law.mean_ms)
    else:
        assert stats.kstest(draws, ref.cdf).pvalue > LEVEL
        np.testing.assert_allclose(law.cdf([0.5, law.median_ms, 10.0]), ref.cdf([0.5, law.median_ms, 10.0]),
                                   rtol=1e-12, atol=1e-15)
    assert draws.mean() == pytest.approx(law.mean_ms, rel=0.05)
    assert law.cdf(law.median_ms) == pytest.approx(0.5) or law.kind == "deterministic"


def test_the_fit_check_is_calibrated():
    # The right law: rejected at α = 0.01 about 1% of the time (200 seeds; > 10 rejections has
    # probability < 1e-4 for a correct check). A wrong mean (+10%) is rejected every time.
    law = sf.ServiceLaw("exponential", 4.0)
    right = [stats.kstest(law.draw_ms(np.random.default_rng(s), 2000), stats.expon(scale=4.0).cdf).pvalue
             for s in range(200)]
    assert sum(p < 0.01 for p in right) <= 10
    wrong = [stats.kstest(law.draw_ms(np.random.default_rng(s), 20000), stats.expon(scale=4.4).cdf).pvalue
             for s in range(20)]
    assert max(wrong) < LEVEL
    logn = sf.ServiceLaw("lognormal", 4.0, 0.5)
    assert stats.kstest(logn.draw_ms(np.random.default_rng(1), 20000),
                        stats.expon(scale=4.0).cdf).pvalue < LEVEL


@pytest.mark.parametrize("accuracy,samples", [(0.7, 1000), (0.8, 1000), (0.9, 257), (0.0, 10), (1.0, 10)])
def test_correctness_is_exactly_the_declared_share(accuracy, samples):
    ds = sf.SyntheticDataset(samples, accuracy, seed=3)
    assert ds.correct.sum() == round(accuracy * samples)
    assert np.array_equal(ds.answers == ds.labels, ds.correct)


def test_bad_arguments_are_one_line_errors():
    for kw in ({"law": "weibull"}, {"mean_ms": 0}, {"mean_ms": float("nan")},
               {"law": "lognormal", "sigma": 0}, {"accuracy": 1.5}, {"samples": 0}):
        with pytest.raises(UserError) as err:
            sf.make_harness(**kw)
        assert "\n" not in str(err.value)
    proc = run_tailq("run", "--harness", "synthetic", "--harness-arg", "law=weibull",
                     "--scenario", "SingleStream", "--passes", "1", "--out", "/nonexistent/x")
    assert proc.returncode == 2 and "weibull" in proc.stderr and proc.stderr.count("\n") == 1


def test_deterministic_variant_through_loadgen(tmp_path):
    # sleep never returns early: every LoadGen latency is at least the declared 2 ms, and
    # the accuracy over one pass is exactly the declared 0.70
    h = harnesses.get_harness("synth-det-2ms", samples=100)
    out = str(tmp_path / "r")
    run_capture(h, scenario="SingleStream", mode="AccuracyOnly", out=out, log=lambda *_: None)
    run = load_run(out)
    assert run.complete and len(run) == 100
    assert run["latency_ns"].min() >= 2_000_000
    assert (run["compute_ns"] >= 2_000_000).all()
    answers = run.outputs().reshape(-1)
    assert np.mean(answers[np.argsort(run["sample_index"])] == h.dataset.labels) == 0.70
    assert h.describe()["params"]["law"] == {"kind": "deterministic", "mean_ms": 2.0, "median_ms": 2.0}
