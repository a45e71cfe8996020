"""The worked example of docs/routing.md runs as written and says what the text says."""

import os
import re
import subprocess
import sys

from conftest import REPO


def test_routing_example_from_docs(tmp_path):
    text = open(os.path.join(REPO, "docs", "routing.md")).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "example.py").write_text(code)
    p = subprocess.run([sys.executable, str(tmp_path / "example.py")], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("λ = ") and "bound" in lines[0]
    got = {m.group(1): m.group(2) for m in (re.match(r"(\w+): .* met=(\w+)", l) for l in lines[1:]) if m}
    assert got == {"pop": "True", "rjiq": "True", "jsq": "False"}, p.stdout
