"""The report as a browser shows it: rendered by a real headless Chromium when one is
installed (Debian: apt-get install -y chromium), skipped with the reason otherwise."""

import pytest

from conftest import run_tailq
from tailq_loadgen.report._browser import dom, find_chromium, screenshot

BROWSER = find_chromium()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed "
                                "(apt-get install -y chromium) to render the report in")


def test_report_renders_in_headless_chromium(tmp_path):
    out = tmp_path / "r"
    assert run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=40", "--scenario",
                     "SingleStream", "--passes", "3", "--out", str(out)).returncode == 0
    assert run_tailq("analyze", str(out), "--mc", "100").returncode == 0
    html_path = tmp_path / "report.html"
    assert run_tailq("report", str(out), "--html", str(html_path)).returncode == 0
    page = dom(str(html_path))
    assert 'id="verdict"' in page and "Terms used on this page" in page
    assert page.count("<img") >= 4 and "data:image/png;base64," in page
    png = screenshot(str(html_path), str(tmp_path / "shot.png"), width=1000, height=1400)
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[:2] == (1400, 1000)
    assert img[..., :3].std() > 0.05          # not a blank page
    box = img[40:400, 20:980, :3]             # the verdict box sits at the top
    assert box.std() > 0.02
