"""The worked example of docs/planning.md runs as written and shows what the text says."""

import os
import re

from conftest import REPO


def test_planning_example_from_docs(capsys):
    text = open(os.path.join(REPO, "docs", "planning.md")).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) < 40
    scope = {}
    exec(compile(code, "docs/planning.md", "exec"), scope)
    ipa, tq = scope["ipa"], scope["tq"]
    assert ipa.feasible and tq.feasible and scope["infa"].feasible
    # "IPA's plan … runs near utilisation 1 and its predicted tail quality is far below its
    # accuracy; the tq plan … predicts a tail quality close to its accuracy"
    assert max(c.utilisation for c in ipa.choices) > 0.9
    assert ipa.predicted_tail_quality < 0.5 * ipa.accuracy
    assert tq.predicted_tail_quality > 0.95 * tq.accuracy
    assert tq.cores > ipa.cores
    assert "predicted TQ" in capsys.readouterr().out
