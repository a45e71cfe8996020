"""The report concludes: the verdict box, the glossary, one θ per label, LoadGen's verdict
without raw asterisks, and figures that show the data (no overlapping markers, no combs,
per-sample histograms on the data's own range, latency against size only when sizes vary)."""

import copy
import os

import numpy as np
import pytest

from conftest import run_tailq
from tailq_loadgen import tailquality, workflow
from tailq_loadgen.report import write_report
from tailq_loadgen.report._conclude import GLOSSARY, conclude
from tailq_loadgen.report._plots import _bars, _data_range, _mark_percentiles, display_factor


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    out = base / "r"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=60", "--scenario",
                  "SingleStream", "--passes", "3", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert run_tailq("analyze", str(out), "--mc", "200").returncode == 0
    return workflow.report_data(str(out))


def _row(label, match="within τ", inside=True):
    return {"label": label, "match": match, "worst_inside": inside, "ratio": 40.0, "jsd": 0.3,
            "noise_floor_p95": 0.02, "observed": {"min": 0.80}, "predicted": {"min": 0.85, "max": 0.95}}


def _sec(**kw):
    base = {"run_dir": "est", "analysis": {"workflow": {"kind": "estimate", "converged": True,
                                                        "stop_reason": "converged", "passes": 9},
                                           "analysis": {"drift": {"drifting": False, "message": "no drift"}}},
            "compare": None, "verdicts": []}
    base.update(kw)
    return base


def test_verdict_box_says_when_the_estimate_reproduces_the_full_run():
    c = conclude([_sec(compare={"full": "full", "tau": 0.05, "thresholds": [_row("p90"), _row("p99")]})])
    assert c.level == "good" and "reproduces the full run full: it can be relied on" in c.headline
    assert any("40× fewer real inferences" in f[2] for f in c.findings)


def test_verdict_box_says_do_not_rely_and_why():
    rows = [_row("p90"), _row("p99", match="no", inside=False)]
    c = conclude([_sec(compare={"full": "full", "tau": 0.05, "thresholds": rows})])
    assert c.level == "bad" and "does not reproduce" in c.headline and "do not rely on it" in c.headline
    text = [f[2] for f in c.findings if f[0] == "estimate vs full run"][0]
    assert "At p99 the distributions differ (JSD 0.300" in text and "p90" not in text
    assert "lies outside the predicted interval for it (85.00%–95.00%)" in text
    assert any("Do not use the estimate's figures at p99" in s for s in c.next_steps)


def test_verdict_box_without_a_comparison_says_what_to_run():
    c = conclude([_sec()])
    assert c.headline.startswith("Not checked") and any("tailq full" in s for s in c.next_steps)


def test_verdict_box_lists_invalid_runs_with_reasons_and_drift():
    bad = {"pass": 3, "mode": "PerformanceOnly", "validity": "INVALID",
           "reasons": ["min duration not met: …"], "fix": "raise --time", "advice": None}
    sec = _sec(verdicts=[bad], analysis={"workflow": {"kind": "full"},
                                         "analysis": {"drift": {"drifting": True, "message": "blocks differ"}}})
    c = conclude([sec])
    found = {(t, lvl) for t, lvl, _ in c.findings}
    assert ("LoadGen validity", "bad") in found and ("drift", "bad") in found
    assert any("INVALID — min duration not met" in f[2] for f in c.findings)
    assert any("raise --time" in s for s in c.next_steps)


def test_glossary_explains_the_terms_the_page_uses():
    terms = " ".join(t for t, _ in GLOSSARY)
    for word in ("TQ(∞)", "worst of N", "rJSD", "noise floor", "JSD", "τ", "early stopping"):
        assert word in terms


def test_tail_quality_bars_are_not_combs():
    """With 719 samples one pass's tail quality moves in steps of 1/719 = 0.14 points, wider
    than the JSD's 0.1-point bins: drawn as is, every few bins is empty."""
    rng = np.random.default_rng(7)
    values = rng.binomial(719, 0.9, 3000) / 719
    hist = tailquality.histogram_dict(values, 0.001)
    counts = np.asarray(hist["counts"])
    assert (counts[5:-5] == 0).any()           # the raw grid is a comb
    k = display_factor([hist], 719)
    assert k * 0.001 >= 3 / 719                 # at least three quality steps per bar
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _bars(ax, hist, "predicted", "tab:orange", k)
    heights = np.array([r.get_height() for r in ax.patches])
    inner = heights[np.argmax(heights > 0):len(heights) - np.argmax(heights[::-1] > 0)]
    assert (inner > 0).all() and abs(heights.sum() - 1) < 1e-9
    plt.close(fig)


def test_percentile_labels_never_overlap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(0.05, 20)
    _mark_percentiles(ax, {"p90": 1.00e6, "p95": 1.04e6, "p99": 8.0e6})
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts == ["p90/p95", "p99"]  # close lines share one label
    ys = [t.get_position()[1] for t in ax.texts]
    assert len(set(ys)) == len(ys)      # and labels step down the plot
    plt.close(fig)


def test_per_sample_histogram_on_the_datas_own_range():
    obs = np.r_[np.random.default_rng(1).normal(0.10, 0.005, 29), 30.0]  # one 30 ms stall
    lo, hi, beyond = _data_range(obs)
    assert hi < 0.2 and lo > 0.05 and beyond.tolist() == [30.0]


def test_report_page_concludes_and_keeps_figures_beside_it(section, tmp_path):
    fixed = copy.copy(section)
    fixed["sizes"] = None   # fixed-size data: no latency-against-size figure
    html_path = tmp_path / "page.html"
    path, pngs = write_report([section, fixed], str(html_path))
    page = html_path.read_text()
    assert page.index("id=verdict") < page.index("Terms used on this page") < page.index("<h2>")
    assert "Not checked: no" in page or "Not checked:" in page
    assert all(os.path.dirname(p) == str(tmp_path / "page_files") for p in pngs)
    names = [os.path.basename(p) for p in pngs]
    assert "0-latency_vs_size.png" in names and "1-latency_vs_size.png" not in names
    assert "θ from this run&#x27;s own latencies" in page
    assert "LoadGen judges VALID/INVALID only performance tests" in page


def test_loadgen_verdict_in_the_report_has_no_raw_asterisks(tmp_path):
    out = tmp_path / "r"
    p = run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=30", "--scenario",
                  "SingleStream", "--passes", "2", "--out", str(out))
    assert p.returncode == 0
    conf = tmp_path / "u.conf"
    conf.write_text("sleep.SingleStream.target_latency = 50\n")  # INVALID: runs out of queries
    from tailq_loadgen.capture import CaptureSession
    from tailq_loadgen.harnesses import get_harness

    with CaptureSession(get_harness("sleep", samples=30), scenario="SingleStream", out=str(out),
                        overwrite=True, user_conf=str(conf), log=lambda *_: None) as s:
        s.run(["AccuracyOnly", "AccuracyOnly"])
        s.run(["PerformanceOnly"], overrides={"min_duration_ms": 1000, "max_duration_ms": 1000})
    assert run_tailq("analyze", str(out), "--mc", "100").returncode == 0
    html_path = tmp_path / "r.html"
    write_report([workflow.report_data(str(out))], str(html_path))
    page = html_path.read_text()
    verdict = page[page.index("id=verdict"):page.index("Terms used")]
    assert "INVALID — min duration not met" in verdict and "ran out" in verdict
    assert "*" not in page.split("<style>")[0] + page.split("</style>")[1].replace("&#x27;", "")
    table = page[page.index("<h3>LoadGen's verdict</h3>"):page.index("<h3>Thresholds</h3>")]
    assert table.count("min duration not met") == 1
