"""The worked example of docs/harnesses.md runs as written."""

import os
import re
import subprocess
import sys

from conftest import REPO


def test_harness_example_from_docs(tmp_path):
    text = open(os.path.join(REPO, "docs", "harnesses.md")).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) < 50
    (tmp_path / "my_harness.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    run = [sys.executable, "-m", "tailq_loadgen.cli"]
    out = str(tmp_path / "mine")
    p = subprocess.run(run + ["run", "--harness", "my_harness:make_harness", "--harness-arg", "n=300",
                              "--scenario", "Server", "--passes", "3", "--qps", "2000", "--out", out],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "quality (accuracy): 1.0000" in p.stdout
    p = subprocess.run(run + ["analyze", out, "--thresholds", "p90,p99", "--mc", "200"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
