"""The analytic predictor against exact queueing results (calibration, not only arithmetic)."""

import math

import numpy as np
import pytest

from tailq_loadgen import planning as P
from tailq_loadgen.planning import _latency, _queueing as Q


def _exponential_samples(mean, n=200_000):
    """Exact quantiles of an exponential law: no randomness, the law itself."""
    u = (np.arange(n) + 0.5) / n
    return -mean * np.log1p(-u)


def _pool(samples, batch=1):
    prof = P.VariantProfile("x", [P.ServiceSamples(batch, 1, samples)], accuracy=1.0)
    return _latency.batch_profiles(prof, 1, (batch,))[batch]


def test_erlang_c_matches_closed_forms():
    for rho in (0.1, 0.5, 0.9):
        assert Q.erlang_c(1, rho) == pytest.approx(rho)
        a = 2 * rho
        assert Q.erlang_c(2, a) == pytest.approx(a * a / (2 + a))
    assert Q.erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert Q.erlang_c(3, 3.0) == 1.0 and Q.erlang_c(2, 5.0) == 1.0


def _mmc_sojourn_cdf(t, c, lam, mu):
    a = lam / mu
    C = float(Q.erlang_c(c, a))
    g = c * mu - lam
    both = 1 - (g * math.exp(-mu * t) - mu * math.exp(-g * t)) / (g - mu)
    return (1 - C) * (1 - math.exp(-mu * t)) + C * both


@pytest.mark.parametrize("servers,utilisation", [(1, 0.5), (1, 0.85), (3, 0.7), (8, 0.9)])
def test_mmc_sojourn_distribution_is_exact(servers, utilisation):
    mean = 0.004
    mu = 1 / mean
    lam = utilisation * servers * mu
    slo = 0.015
    pool = _pool(_exponential_samples(mean))
    pred = P.AnalyticPredictor().variant_set([(P.StageLoad(pool, servers, lam), 0.9)], slo)
    exact = _mmc_sojourn_cdf(slo, servers, lam, mu)
    assert pred.on_time == pytest.approx(exact, abs=2e-3)
    assert pred.tail_quality == pytest.approx(0.9 * exact, abs=2e-3)
    # the vectorised scorer gives the same number as the report path
    grid = Q.Grid.for_slo(slo)
    pmf = Q.pmf_of_samples(pool.samples, grid)
    fast = Q.on_time_single(pmf, servers, lam, pool.mean_s, pool.scv, grid)
    assert fast == pytest.approx(pred.on_time, abs=1e-9)


def test_mm1_p99_and_capacity_at_slo():
    mean, slo = 0.002, 0.02
    mu = 1 / mean
    pool = _pool(_exponential_samples(mean))
    lam = 0.6 * mu
    pred = P.AnalyticPredictor().pipeline([P.StageLoad(pool, 1, lam)], slo, 1.0)
    assert pred.p99_s == pytest.approx(math.log(100) / (mu - lam), rel=5e-3)
    assert pred.mean_latency_s == pytest.approx(1 / (mu - lam), rel=2e-3)
    # the largest λ with P(T ≤ SLO) ≥ 0.99 for an M/M/1 sojourn, exponential with rate μ − λ
    assert P.capacity_at_slo(pool, 1, slo) == pytest.approx(mu - math.log(100) / slo, rel=5e-3)
    caps = P.capacity_at_slo(pool, np.array([1, 2, 4, 8]), slo)
    assert np.all(np.diff(caps) > 0) and np.all(caps < np.array([1, 2, 4, 8]) * mu)


def test_two_mm1_stages_convolve_to_an_erlang_law():
    mean, slo = 0.003, 0.03
    mu = 1 / mean
    lam = 0.5 * mu
    pool = _pool(_exponential_samples(mean))
    pred = P.AnalyticPredictor().pipeline([P.StageLoad(pool, 1, lam)] * 2, slo, 0.8)
    g = mu - lam
    exact = 1 - math.exp(-g * slo) * (1 + g * slo)
    assert pred.on_time == pytest.approx(exact, abs=3e-3)
    assert pred.tail_quality == pytest.approx(0.8 * exact, abs=3e-3)


def test_md1_mean_wait_is_pollaczek_khinchine():
    mean = 0.005
    mu = 1 / mean
    pool = _pool(np.full(1000, mean))
    for rho in (0.3, 0.8):
        stage = P.StageLoad(pool, 1, rho * mu)
        assert stage.mean_latency_s() - mean == pytest.approx(rho / (2 * mu * (1 - rho)), rel=1e-12)


def test_batch_formation_wait_has_mean_half_of_ipas_bound():
    qps, slo = 200.0, 0.2
    grid = Q.Grid.for_slo(slo).extended(2.0)
    for b in (1, 2, 4, 8):
        pmf = Q.pmf_of_formation(b, qps, grid)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
        mean = float(pmf @ (np.arange(grid.size) * grid.delta))
        assert mean == pytest.approx((b - 1) / (2 * qps), abs=grid.delta)


def test_an_unstable_stage_predicts_zero_tail_quality():
    pool = _pool(np.full(10, 0.01))
    pred = P.AnalyticPredictor().pipeline([P.StageLoad(pool, 2, 250.0)], 0.1, 0.9)
    assert not pred.stable and pred.tail_quality == 0.0 and pred.p99_s is None
    assert Q.on_time_single(Q.pmf_of_samples(pool.samples, Q.Grid.for_slo(0.1)), 2, 250.0, pool.mean_s,
                            pool.scv, Q.Grid.for_slo(0.1)) == 0.0


def test_more_servers_never_hurt_and_load_always_does():
    rng = np.random.default_rng(1)
    pool = _pool(rng.lognormal(np.log(0.004), 0.5, 4000))
    slo = 0.02
    on = [P.AnalyticPredictor().variant_set([(P.StageLoad(pool, k, 300.0), 1.0)], slo).on_time
          for k in (2, 3, 4, 8)]
    assert all(b >= a - 1e-12 for a, b in zip(on, on[1:]))
    on = [P.AnalyticPredictor().variant_set([(P.StageLoad(pool, 2, q), 1.0)], slo).on_time
          for q in (50.0, 200.0, 400.0)]
    assert all(b <= a + 1e-12 for a, b in zip(on, on[1:]))
