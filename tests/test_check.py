"""``tailq check``: integrity problems exit 1; reasons for instability are warnings."""

import json

from tailq_loadgen import workflow
from tailq_loadgen.capture import run_capture

from conftest import echo_harness, run_tailq


def test_sound_run_has_no_problem_but_says_why_it_may_be_unstable(tmp_path):
    out = str(tmp_path / "r")
    run_capture(echo_harness(40), scenario="SingleStream", passes=4, out=out, log=lambda *_: None)
    p = run_tailq("check", out)
    assert p.returncode == 0, p.stdout
    assert "only 4 passes" in p.stdout and "PROBLEM" not in p.stdout
    # a null backend: the harness is most of the latency, and check says so
    assert "harness overhead" in p.stdout and "more than the model" in p.stdout


def test_failed_samples_and_incomplete_runs_are_problems(tmp_path):
    out = str(tmp_path / "r")
    run_capture(echo_harness(40, fail_on={5}), scenario="Offline", passes=2, out=out,
                log=lambda *_: None)
    findings = workflow.check_run(out)
    assert findings[0].level == "problem" and "failed" in findings[0].message
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text())
    meta.update(complete=False, status="running")
    (tmp_path / "r" / "metadata.json").write_text(json.dumps(meta))
    p = run_tailq("check", out)
    assert p.returncode == 1 and "not complete" in p.stdout


def test_check_missing_dir_exits_2(tmp_path):
    p = run_tailq("check", str(tmp_path / "none"))
    assert p.returncode == 2
