"""Tail-quality statistics: arithmetic, properties, and calibration against known truth."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tailq_loadgen import tailquality as tq
from tailq_loadgen.metrics import F1, Accuracy, RecallAtK, TopKAccuracy

from _simulate import TrueModel
from tailq_loadgen.tailquality._laws import TabulatedLaw


# -- MLPerf's query counts (spec §6) ---------------------------------------------------------
@pytest.mark.parametrize("p,count", [(0.90, 24576), (0.95, 57344), (0.97, 90112), (0.99, 270336)])
def test_mlperf_query_count_from_formula(p, count):
    assert tq.mlperf_query_count(p) == count


# -- thresholds -----------------------------------------------------------------------------
def test_threshold_parsing():
    t = tq.parse_thresholds("p90, p99.9,50ms,1.5s,200us,120000ns")
    assert [x.kind for x in t] == ["percentile"] * 2 + ["absolute"] * 4
    assert [x.value for x in t[2:]] == [5e7, 1.5e9, 2e5, 1.2e5]
    lat = np.arange(1, 1001, dtype=float)
    assert tq.resolve_thresholds(tq.parse_thresholds("p90"), lat, "loadgen")[0] == 901
    assert tq.resolve_thresholds(tq.parse_thresholds("p90"), lat)[0] == pytest.approx(900.1)


@pytest.mark.parametrize("bad", ["p0", "p100.5", "p-1", "-5ms", "0ms", "fast", "10 parsecs", "", "p90,p90"])
def test_threshold_errors_name_the_input(bad):
    with pytest.raises(tq.ThresholdError, match="threshold"):
        tq.parse_thresholds(bad)


# -- observed tail quality: properties (spec §7) --------------------------------------------
@st.composite
def runs(draw):
    n = draw(st.integers(1, 30))
    r = draw(st.integers(1, 5))
    lat = draw(hnp.arrays(np.float64, (n, r), elements=st.floats(1, 1e6)))
    ok = draw(hnp.arrays(np.bool_, (n, r)))
    correct = draw(hnp.arrays(np.bool_, (n,)))
    thetas = np.sort(draw(hnp.arrays(np.float64, (4,), elements=st.floats(0.5, 2e6))))
    return lat, ok, correct, thetas


def _metric(correct):
    labels = np.zeros(correct.size, dtype=int)
    return Accuracy(np.where(correct, 0, 1), labels)


@given(runs())
@settings(max_examples=150, deadline=None)
def test_tq_nondecreasing_and_bounded(case):
    lat, ok, correct, thetas = case
    m = _metric(correct)
    tqs = tq.observed_tq(lat, ok, m, thetas)
    assert np.all(np.diff(tqs, axis=0) >= -1e-12)
    inf = tq.no_limit_quality(ok, m)
    above = tq.observed_tq(lat, ok, m, [lat.max()])[0]
    below = tq.observed_tq(lat, ok, m, [lat.min() / 2])[0]
    np.testing.assert_allclose(above, inf)
    np.testing.assert_allclose(below, m.all_failed())


@given(runs(), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_permuting_samples_changes_nothing(case, rnd):
    lat, ok, correct, thetas = case
    perm = np.array(rnd.sample(range(lat.shape[0]), lat.shape[0]))
    a = tq.observed_tq(lat, ok, _metric(correct), thetas)
    b = tq.observed_tq(lat[perm], ok[perm], _metric(correct[perm]), thetas)
    np.testing.assert_allclose(a, b)


def test_failed_samples_never_count_as_correct():
    lat = np.array([[1.0, 1.0], [1.0, 1.0]])
    ok = np.array([[True, False], [True, True]])
    m = Accuracy(np.array([0, 0]), np.array([0, 0]))
    assert tq.observed_tq(lat, ok, m, [10.0]).tolist() == [[1.0, 0.5]]


# -- metrics under the failure rule ---------------------------------------------------------
def test_f1_failure_rule_matches_a_label_that_matches_no_class():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.8, y, rng.integers(0, 4, 300))
    valid = rng.random((300, 7)) < 0.85
    for avg in ("macro", "weighted"):
        got = F1(p, y, average=avg, n_classes=4).evaluate(valid)
        want = [sk.f1_score(y, np.where(valid[:, j], p, -1), labels=[0, 1, 2, 3], average=avg,
                            zero_division=0) for j in range(7)]
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_topk_and_recall():
    scores = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    m = TopKAccuracy(scores, np.array([2, 2]), k=2)  # top-2: [1, 2] and [0, 1] (stable ties)
    assert m.evaluate(np.array([[True], [True]])).tolist() == [0.5]
    r = RecallAtK(np.array([[3, 1, 2], [0, 4, 5]]), np.array([2, 9]), k=3)
    assert r.evaluate(np.array([[True, False], [True, True]])).tolist() == [0.5, 0.0]


# -- JSD conventions --------------------------------------------------------------------------
def test_jsd_base2_matches_scipy_distance_squared():
    from scipy.spatial.distance import jensenshannon
    rng = np.random.default_rng(1)
    p, q = rng.random(20), rng.random(20)
    p, q = p / p.sum(), q / q.sum()
    assert tq.jsd_from_probs(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2)


def test_jsd_bounds_and_fixed_bins():
    a = np.full(100, 0.900)
    assert tq.jsd(a, a) == 0.0
    assert tq.jsd(a, np.full(100, 0.902)) == pytest.approx(1.0)   # 2 bins apart: disjoint
    # a 0.05-pp difference inside one 0.1-pp bin is invisible; 0.1 pp is not
    assert tq.jsd(a, np.full(100, 0.9004)) == 0.0
    assert tq.jsd(a, np.full(100, 0.9011)) == pytest.approx(1.0)


def test_rjsd_and_public_code_convention():
    rng = np.random.default_rng(2)
    new = rng.normal(0.9, 0.01, 2000)
    prev = [rng.normal(0.9, 0.01, 2000) for _ in range(5)]
    divs = [tq.jsd(new, p) for p in prev]
    assert tq.rjsd(new, prev) == pytest.approx(np.sqrt(np.mean(divs)))
    dist_e = [np.sqrt(tq.jsd(new, p, base=np.e)) for p in prev]
    assert tq.rjsd_public_code(new, prev) == pytest.approx(np.sqrt(np.mean(dist_e)))


def test_noise_floor_of_a_perfect_prediction():
    # fresh passes from the model itself: the floor is positive and its p95 above its median
    tm = TrueModel(n=300, seed=3)
    lat = tm.passes(8, 1)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    m = Accuracy(tm.predictions, tm.labels)
    th = [np.quantile(lat, 0.9)]
    pred = tq.predict_tq(fit, m, th, 1000, 4)
    floor = tq.fresh_floor(tq.fresh_sets(fit, m, th, 50, 4, draws=60), pred)[0]
    assert 0 < floor["median"] < floor["p95"] < 0.5
    assert 0 < floor["split_median"] < floor["split_p95"] and floor["minima"].size == 60


def test_expected_min_of_matches_simulation():
    rng = np.random.default_rng(5)
    v = rng.normal(size=500)
    sims = np.min(rng.choice(v, size=(20000, 12)), axis=1).mean()
    assert tq.expected_min_of(v, 12) == pytest.approx(sims, abs=0.01)


# -- laws and streams --------------------------------------------------------------------------
def test_tabulated_law_is_the_smoothed_pool_with_its_variance():
    rng = np.random.default_rng(0)
    for pool in (rng.normal(0, 1, 500), rng.exponential(1, 400), np.r_[rng.normal(0, 1, 400),
                                                                        rng.normal(8, 0.5, 100)]):
        law = TabulatedLaw(pool)
        u = np.linspace(0.001, 0.999, 999)
        np.testing.assert_allclose(law.cdf(law.ppf(u)), u, atol=1e-9)   # exact inverses
        draws = law.ppf(np.random.default_rng(1).random(400000))
        # variance-preserving smoothing (spec §4.3): the draws keep the pool's variance
        assert draws.var() == pytest.approx(pool.var(), rel=0.02)
        q = np.quantile(pool, [0.25, 0.5, 0.75])
        np.testing.assert_allclose(law.cdf(q), [0.25, 0.5, 0.75], atol=0.05)


def test_streams_do_not_depend_on_mc_chunking_or_block_size():
    from tailq_loadgen.tailquality._streams import Streams
    s = Streams(3)
    whole = s.cells(1, 0, 300, np.arange(200))
    np.testing.assert_array_equal(whole[10:20, 60:140], s.cells(1, 10, 20, np.arange(60, 140)))
    np.testing.assert_array_equal(s.cells(1, 0, 20000, np.arange(5))[:300], whole[:, :5])
    np.testing.assert_array_equal(s.passes(4, np.arange(130), 3)[64:70], s.passes(4, np.arange(64, 70), 5)[:, :3])
    tm = TrueModel(n=300, seed=2, stall_rate=0.02)
    lat = tm.passes(6, 3)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    m = Accuracy(tm.predictions, tm.labels)
    th = np.quantile(lat, [0.9, 0.99])
    a = tq.predict(fit, m, th, 200, 7)
    b = tq.predict(fit, m, th, 90, 7, block_cells=5000)    # other mc, other sample blocks
    np.testing.assert_array_equal(a.values[:, :90], b.values)
    np.testing.assert_allclose(a.cond_mean[:, :90], b.cond_mean, rtol=1e-12)


# -- the latency models ----------------------------------------------------------------------
def test_pooled_model_draws_have_the_model_variance_not_inflated():
    tm = TrueModel(n=400, seed=1, shift_sd=0.0)
    lat = tm.passes(8, 2)
    fit = tq.fit_pooled(lat, np.ones_like(lat, bool), tm.sizes, run_level=False)
    draws = np.log(fit.sample(20000, 3))
    ratio = draws.var(axis=1) / fit.sigma ** 2
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)  # (1 + h²) would be ~1.04–1.2
    assert min(law.bandwidth for law in fit.body) > 0.05


def test_pooled_draws_keep_the_observed_variance_on_average():
    # spec §4.3: synthetic per-sample variance equals the observed one (ML, about each
    # sample's own mean), with no KDE inflation
    rng = np.random.default_rng(6)
    lat = np.exp(rng.normal(13, 0.2, size=(600, 6)) + rng.normal(0, 0.05, size=(600, 1)))
    for fit in (tq.fit_pooled(lat, np.ones_like(lat, bool), run_level=False),
                tq.fit_stall_mixture(lat, np.ones_like(lat, bool), run_level=False)):
        draws = np.log(fit.sample(4000, 5))
        observed = np.log(lat).var(axis=1)  # ddof=0
        assert draws.var(axis=1).mean() == pytest.approx(observed.mean(), rel=0.03), fit.kind


def test_plain_kde_draws_keep_each_samples_observed_variance():
    rng = np.random.default_rng(4)
    lat = rng.lognormal(13, 0.3, size=(50, 10))
    fit = tq.fit_plain_kde(lat, np.ones_like(lat, bool))
    draws = fit.sample(40000, 1)
    np.testing.assert_allclose(draws.var(axis=1) / lat.var(axis=1), 1.0, atol=0.04)
    assert (draws > 0).all()


@pytest.mark.parametrize("name", sorted(tq.MODELS))
def test_drawn_validity_agrees_with_the_conditional_probability(name):
    # the two paths of the engine: latencies drawn from the uniforms, and each cell's
    # probability of being valid given its pass's factors; on average they agree
    tm = TrueModel(n=400, seed=8, stall_rate=0.02, stall_ns=(2e6, 1e7))
    lat = tm.passes(12, 1)
    fit = tq.MODELS[name](lat, np.ones_like(lat, bool), tm.sizes)
    th = np.quantile(lat, [0.5, 0.9, 0.99])
    m = Accuracy(tm.predictions, tm.labels)
    p = tq.predict(fit, m, th, 4000, 2)
    diff = p.values - p.cond_mean                      # zero-mean given the pass factors
    se = np.sqrt(p.cond_var.mean(axis=1) / p.n)
    assert np.all(np.abs(diff.mean(axis=1)) < 4.5 * se), (diff.mean(axis=1), se)
    # and the sample() latencies are the engine's own numbers
    sample = fit.sample(64, 2)
    valid = (sample[:, :, None] <= th[None, None, :]).transpose(2, 0, 1)
    np.testing.assert_allclose(np.array([m.evaluate(v) for v in valid]),
                               tq.predict(fit, m, th, 64, 2, conditional=False).values)


@pytest.mark.parametrize("name", ["stall-mixture", "pooled", "pooled-robust"])
def test_model_is_unit_independent(name):
    tm = TrueModel(n=300, seed=2, stall_rate=0.02)
    lat = tm.passes(6, 3)
    ok = np.ones_like(lat, bool)
    a = tq.MODELS[name](lat, ok, tm.sizes)                       # ns
    b = tq.MODELS[name](lat / 1e9, ok, tm.sizes, resolution=1e-9)  # seconds
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-9)
    sa, sb = a.sample(50, 7), b.sample(50, 7)
    np.testing.assert_allclose(sa / 1e9, sb, rtol=1e-6)


def test_run_level_component_switch_and_standard_error():
    tm = TrueModel(n=500, seed=3, shift_sd=0.05)
    lat = tm.passes(20, 4)
    ok = np.ones_like(lat, bool)
    for name in ("stall-mixture", "pooled"):
        on = tq.MODELS[name](lat, ok, tm.sizes)
        off = tq.MODELS[name](lat, ok, tm.sizes, run_level=False)
        assert 0.025 < on.shift.sd < 0.08 and off.sample(10, 1).shape == (500, 10)
        assert on.shift_standard_error() == pytest.approx(on.shift.sd / np.sqrt(20))
        spread_on = np.log(on.sample(400, 5)).mean(axis=0).std()
        spread_off = np.log(off.sample(400, 5)).mean(axis=0).std()
        assert spread_on > 3 * spread_off


def test_predictive_shift_law_is_wider_than_the_passes_seen():
    # spec §4.4: σ̂·√(1 + 1/k)·t(k−1), never the (k−1)/k-shrunk plug-in
    from tailq_loadgen.tailquality._laws import ShiftLaw
    shifts = np.random.default_rng(1).normal(0, 0.03, 5)
    law = ShiftLaw(shifts)
    u = np.linspace(0.0005, 0.9995, 2000)
    assert law.ppf(u).std() > shifts.std(ddof=1) * np.sqrt(1 + 1 / 5)
    assert law.plug_in().ppf(u).std() == pytest.approx(shifts.std(ddof=1), rel=0.02)
    assert law.mean_se() == pytest.approx(shifts.std(ddof=1) / np.sqrt(5))


def test_stall_mixture_keeps_stalls_out_of_the_body():
    # 2% of calls stall 2–10 ms on a ~0.5 ms latency: the body scales stay those of the
    # lognormal, the stalls are found, and no value is NaN or overflows
    tm = TrueModel(n=800, seed=5, shift_sd=0.0, stall_rate=0.02, stall_ns=(2e6, 1e7))
    lat = tm.passes(10, 6)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    assert np.median(fit.sigma / tm.sigma) == pytest.approx(np.sqrt(9 / 10), rel=0.08)
    assert fit.info["stall_share"] == pytest.approx(0.02, abs=0.004)
    robust = tq.fit_pooled_robust(lat, np.ones_like(lat, bool), tm.sizes)
    for model in (fit, robust):
        p = tq.predict(model, Accuracy(tm.predictions, tm.labels), [np.quantile(lat, 0.9)], 200, 1)
        assert np.isfinite(p.values).all() and np.isfinite(p.cond_mean).all()
        assert np.isfinite(np.log(model.sample(50, 2))).all()


# -- calibration against the exact distribution ----------------------------------------------
@pytest.fixture(scope="module")
def truth():
    tm = TrueModel(n=1000, seed=0, shift_sd=0.03)
    thetas = np.quantile(tm.passes(200, 99).ravel(), [0.9, 0.99])
    return tm, thetas, tm.exact_tq(thetas, passes=20000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stall-mixture", "pooled"])
def test_prediction_converges_to_the_exact_distribution(truth, name):
    # With many passes the only error left is the run-level mean's, σ_δ/√R.
    tm, thetas, exact = truth
    for seed in (7, 8):
        lat = tm.passes(400, seed)
        fit = tq.MODELS[name](lat, np.ones_like(lat, bool), tm.sizes)
        pred = tq.predict_tq(fit, Accuracy(tm.predictions, tm.labels), thetas, 20000, 3)
        for t in range(2):
            assert tq.jsd(pred[t], exact[t]) <= 0.01, (seed, t)


@pytest.mark.slow
def test_predicted_p5_covers_the_true_p5_at_its_nominal_rate(truth):
    # the predictive law carries the estimate's own uncertainty: P(true TQ < predicted p5)
    # averages the nominal 5% over data sets, neither far below nor above it
    tm, thetas, exact = truth
    m = Accuracy(tm.predictions, tm.labels)
    below = []
    for s in range(40):
        lat = tm.passes(30, 1000 + s)
        fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
        p5 = np.percentile(tq.predict_tq(fit, m, thetas, 2000, s), 5, axis=1)
        below.append([np.mean(exact[t] < p5[t]) for t in range(2)])
    rate = np.mean(below, axis=0)  # P(true TQ < predicted p5), nominally 0.05
    assert np.all((rate > 0.02) & (rate < 0.08)), rate


@pytest.mark.slow
def test_pooling_beats_plain_per_sample_kde_with_few_passes(truth):
    tm, thetas, exact = truth
    m = Accuracy(tm.predictions, tm.labels)
    for passes in (5, 10):
        scores = {"stall-mixture": [], "pooled": [], "plain-kde": []}
        for seed in range(5):
            lat = tm.passes(passes, 100 + seed)
            ok = np.ones_like(lat, bool)
            for name in scores:
                pred = tq.predict_tq(tq.MODELS[name](lat, ok, tm.sizes), m, thetas, 3000, seed)
                scores[name].append(np.mean([tq.jsd(pred[t], exact[t]) for t in range(2)]))
        for name in ("stall-mixture", "pooled"):
            assert np.mean(scores[name]) < np.mean(scores["plain-kde"]), (passes, scores)


@pytest.mark.slow
def test_stall_models_handle_latency_spikes():
    # 3% of calls stall at 4× the latency: moment scales widen every sample's bulk and
    # underestimate tail quality at tight thresholds; robust bodies keep the bulk right.
    tm = TrueModel(n=800, seed=7, shift_sd=0.0, sigma0=0.03, sigma1=0.002, spike_rate=0.03,
                   spike_factor=4.0)
    thetas = np.quantile(tm.passes(100, 99).ravel(), [0.9])
    exact = tm.exact_tq(thetas, passes=4000)
    m = Accuracy(tm.predictions, tm.labels)
    lat = tm.passes(10, 5)
    ok = np.ones_like(lat, bool)
    err = {name: abs(tq.predict_tq(tq.MODELS[name](lat, ok, tm.sizes), m, thetas, 2000, 1)[0].mean()
                     - exact[0].mean()) for name in ("pooled", "pooled-robust", "stall-mixture")}
    assert err["pooled-robust"] < err["pooled"] / 2, err
    assert err["stall-mixture"] < err["pooled"] / 2, err


def test_stall_intensity_follows_bursty_stalls():
    # The stall rate varies from pass to pass (0–16%): tail quality spreads far more across
    # passes than independent per-sample noise allows. The per-pass stall intensity must see
    # it and recover the spread; with it off (one constant rate) the spread is far too small.
    tm = TrueModel(n=800, seed=11, shift_sd=0.0, sigma0=0.03, sigma1=0.002, spike_rate=0.08,
                   spike_factor=3.0, bursty=True)
    thetas = np.quantile(tm.passes(200, 99).ravel(), [0.8])
    exact = tm.exact_tq(thetas, passes=4000)[0]
    m = Accuracy(tm.predictions, tm.labels)
    lat = tm.passes(30, 5)
    fit = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes)
    rate = fit.rates[0]
    assert np.sqrt(rate.between_var) > 3 * np.sqrt(rate.mean * (1 - rate.mean) / 800)
    sd = tq.predict_tq(fit, m, thetas, 2000, 1)[0].std()
    assert 0.7 < sd / exact.std() < 1.5, (sd, exact.std())
    off = tq.fit_stall_mixture(lat, np.ones_like(lat, bool), tm.sizes, run_level=False)
    assert tq.predict_tq(off, m, thetas, 2000, 1)[0].std() < 0.5 * exact.std()


@pytest.mark.parametrize("seed", range(4))
def test_stall_intensity_is_steady_for_independent_stalls(seed):
    tm = TrueModel(n=800, seed=seed, stall_rate=0.03, stall_ns=(2e6, 1e7))
    fit = tq.fit_stall_mixture(tm.passes(20, seed + 100), np.ones((800, 20), bool), tm.sizes)
    rate = fit.rates[0]
    # between-pass SD within sampling error of 0 (binomial SD of a pass's share ≈ 0.6%)
    assert np.sqrt(rate.between_var) < 0.006, rate.describe()


# -- the whole analysis ----------------------------------------------------------------------
def _small_case():
    tm = TrueModel(n=300, seed=4)
    lat = tm.passes(6, 9)
    return tm, lat, np.ones_like(lat, bool)


def test_same_seed_same_bytes():
    tm, lat, ok = _small_case()
    m = Accuracy(tm.predictions, tm.labels)
    thr = tq.parse_thresholds("p90,p99,1ms")
    a = tq.analyze(lat, ok, m, thr, sizes=tm.sizes, mc=300, seed=42)
    b = tq.analyze(lat, ok, m, thr, sizes=tm.sizes, mc=300, seed=42)
    c = tq.analyze(lat, ok, m, thr, sizes=tm.sizes, mc=300, seed=43)
    assert json.dumps(a.as_dict(), sort_keys=True) == json.dumps(b.as_dict(), sort_keys=True)
    assert a.thresholds[0].predicted_values.tobytes() == b.thresholds[0].predicted_values.tobytes()
    assert a.thresholds[0].predicted_values.tobytes() != c.thresholds[0].predicted_values.tobytes()


def test_analysis_contents():
    tm, lat, ok = _small_case()
    a = tq.analyze(lat, ok, Accuracy(tm.predictions, tm.labels), tq.parse_thresholds("p90,p99"),
                   sizes=tm.sizes, mc=200, seed=1, window=2)
    d = a.as_dict()
    assert [s["passes"] for s in d["convergence"]] == [2, 3, 4, 5, 6]
    assert np.isnan(d["convergence"][0]["rjsd"][0]) and not np.isnan(d["convergence"][-1]["rjsd"][0])
    assert d["tq_inf"] == pytest.approx(tm.correct.mean())
    t = d["thresholds"][0]
    assert len(t["observed_per_pass"]) == 6
    assert t["predicted"]["worst_of"] == a.full_run_passes == int(np.ceil(270336 / 300))
    assert t["predicted"]["expected_worst"] <= t["predicted"]["p1"]
    assert d["model"]["run_level_component"] is True


@pytest.mark.parametrize("kwargs,match", [({"mc": 5}, "mc"), ({"window": 0}, "window"),
                                          ({"tau": 0}, "tau")])
def test_analysis_validates_arguments(kwargs, match):
    tm, lat, ok = _small_case()
    with pytest.raises(ValueError, match=match):
        tq.analyze(lat, ok, Accuracy(tm.predictions, tm.labels), tq.parse_thresholds("p90"), **kwargs)


def test_analysis_refuses_one_pass_and_nonfinite_latency():
    tm, lat, ok = _small_case()
    m = Accuracy(tm.predictions, tm.labels)
    with pytest.raises(ValueError, match="at least 2 passes"):
        tq.analyze(lat[:, :1], ok[:, :1], m, tq.parse_thresholds("p90"))
    bad = lat.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        tq.analyze(bad, ok, m, tq.parse_thresholds("p90"))


def test_drift_check():
    tm = TrueModel(n=500, seed=5, shift_sd=0.0)
    lat = tm.passes(10, 1)
    assert not tq.drift_check(lat, np.ones_like(lat, bool)).drifting
    drifting = lat * np.exp(0.03 * np.arange(10))[None, :]
    d = tq.drift_check(drifting, np.ones_like(lat, bool))
    assert d.drifting and d.slope_per_pass == pytest.approx(0.03, abs=0.005)


def test_drift_check_sees_the_tail_move_while_the_median_stays():
    # 20 passes: the first half stalls 20% of its samples, the second half 2%; the
    # median hardly moves, the share of slow samples does (what the digits harness showed).
    rng = np.random.default_rng(3)
    tm = TrueModel(n=600, seed=3, shift_sd=0.0, sigma0=0.03, sigma1=0.0)
    lat = tm.passes(20, 4)
    rate = np.r_[np.full(10, 0.2), np.full(10, 0.02)]
    lat = lat * np.where(rng.random(lat.shape) < rate[None, :], 3.0, 1.0)
    d = tq.drift_check(lat, np.ones_like(lat, bool))
    assert d.drifting and "share of stalled samples" in d.message, d.message
    assert d.tail_mass_block_means[0] > d.tail_mass_block_means[-1] + 0.1
    # the same stalls at a rate that varies from pass to pass but not over time: no drift
    steady = tm.passes(20, 4) * np.where(rng.random(lat.shape) < rng.permutation(rate)[None, :],
                                         3.0, 1.0)
    assert not tq.drift_check(steady, np.ones_like(lat, bool)).drifting
