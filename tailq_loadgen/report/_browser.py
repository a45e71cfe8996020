"""Render a report page in a real headless Chromium (for the render test and the screenshots
under docs/img/). Nothing here runs unless asked; no network, a fresh profile each time."""

import os
import shutil
import subprocess
import tempfile

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def find_chromium():
    """The path of a Chromium-like browser, or None (Debian: ``apt-get install -y chromium``)."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser, args, timeout):
    with tempfile.TemporaryDirectory(prefix="tailq-chromium-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def screenshot(html_path, png_path, *, width=1200, height=1800, browser=None, timeout=60):
    """The top ``width`` × ``height`` pixels of the page as a PNG; returns the PNG's path."""
    browser = browser or find_chromium()
    url = "file://" + os.path.abspath(html_path)
    proc = _run(browser, [f"--window-size={width},{height}", f"--screenshot={png_path}", url], timeout)
    if proc.returncode != 0 or not os.path.exists(png_path):
        raise RuntimeError(f"chromium could not render {html_path}: {proc.stderr.strip()[-300:]}")
    return png_path


def dom(html_path, *, browser=None, timeout=60):
    """The page's DOM after Chromium parsed and laid it out (``--dump-dom``)."""
    browser = browser or find_chromium()
    proc = _run(browser, ["--dump-dom", "file://" + os.path.abspath(html_path)], timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium could not load {html_path}: {proc.stderr.strip()[-300:]}")
    return proc.stdout
