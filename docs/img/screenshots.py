"""Screenshots of tailq reports for docs/img/, taken in a real headless Chromium.

    python docs/img/screenshots.py REPORT.html NAME [--part LABEL:TOP:HEIGHT ...]

renders REPORT.html 1200 px wide and writes docs/img/NAME-LABEL.png for each part (default:
the top 1800 px, which holds the verdict box). Parts are cut from one tall render with
matplotlib's PNG reader, so no imaging library is needed.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tailq_loadgen.report._browser import find_chromium, screenshot  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html")
    ap.add_argument("name")
    ap.add_argument("--part", action="append", default=[], help="LABEL:TOP:HEIGHT in pixels")
    ap.add_argument("--width", type=int, default=1200)
    args = ap.parse_args()
    if find_chromium() is None:
        sys.exit("no Chromium: apt-get install -y chromium")
    parts = [p.split(":") for p in args.part] or [["top", "0", "1800"]]
    full_height = max(int(top) + int(h) for _, top, h in parts)
    import matplotlib.image

    with tempfile.TemporaryDirectory() as tmp:
        shot = screenshot(args.html, os.path.join(tmp, "page.png"), width=args.width,
                          height=full_height)
        img = matplotlib.image.imread(shot)
    for label, top, height in parts:
        out = os.path.join(HERE, f"{args.name}-{label}.png")
        matplotlib.image.imsave(out, img[int(top):int(top) + int(height)])
        print(f"written: {out}")


if __name__ == "__main__":
    main()
