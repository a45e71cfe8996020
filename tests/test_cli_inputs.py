"""Bad input: one line naming the input and what to do, exit code 2, nothing captured lost."""

import os

import pytest

from conftest import run_tailq

SLEEP = ["--harness", "sleep", "--harness-arg", "samples=20"]


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tailq: error:")
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_unknown_scenario(tmp_path):
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Streaming", "--out", str(tmp_path / "r")),
                    "--scenario", "Streaming", "SingleStream")
    assert not os.path.exists(tmp_path / "r")


def test_unknown_harness(tmp_path):
    _one_line_error(run_tailq("run", "--harness", "nope", "--scenario", "Offline",
                              "--out", str(tmp_path / "r")), "--harness", "nope", "tailq harnesses")


def test_unknown_mode(tmp_path):
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", "--mode", "Fast",
                              "--out", str(tmp_path / "r")), "--mode", "Fast")


def test_unreadable_user_conf(tmp_path):
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", "--user_conf",
                              str(tmp_path / "missing.conf"), "--out", str(tmp_path / "r")),
                    "--user_conf", "missing.conf")


@pytest.mark.parametrize("text,needle", [("trace: [unclosed\n", "not valid YAML"),
                                         ("tracing: true\n", "unknown option"),
                                         ("watchdog_timeout_s: soon\n", "must be float"),
                                         ("loadgen: {Offline: {no_such_setting: 1}}\n", "not a LoadGen")])
def test_bad_experiment_file(tmp_path, text, needle):
    exp = tmp_path / "exp.yaml"
    exp.write_text(text)
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", "--experiment", str(exp),
                              "--out", str(tmp_path / "r")), "--experiment", needle)


def test_existing_output_dir_is_never_overwritten(tmp_path):
    out = tmp_path / "r"
    first = run_tailq("run", *SLEEP, "--scenario", "Offline", "--passes", "1", "--out", str(out))
    assert first.returncode == 0, first.stderr
    before = sorted(os.listdir(out / "records"))
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", "--passes", "1", "--out", str(out)),
                    "--out", "--overwrite")
    assert sorted(os.listdir(out / "records")) == before  # nothing already captured is lost
    again = run_tailq("run", *SLEEP, "--scenario", "Offline", "--passes", "2", "--out", str(out),
                      "--overwrite")
    assert again.returncode == 0, again.stderr


def test_foreign_directory_is_not_deleted_even_with_overwrite(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "precious.txt").write_text("x")
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", "--out", str(tmp_path / "r"),
                              "--overwrite"), "not a tailq run directory")
    assert (tmp_path / "r" / "precious.txt").exists()


def test_empty_dataset(tmp_path):
    _one_line_error(run_tailq("run", "--harness", "sleep", "--harness-arg", "samples=0",
                              "--scenario", "Offline", "--out", str(tmp_path / "r")),
                    "dataset is empty")


@pytest.mark.parametrize("args,needle", [(["--passes", "0"], "--passes"),
                                         (["--passes", "2", "--mode", "PerformanceOnly"], "--passes"),
                                         (["--time", "-1"], "--time"),
                                         (["--qps", "0"], "--qps"),
                                         (["--harness-arg", "novalue"], "--harness-arg"),
                                         (["--harness-arg", "colour=red"], "--harness-arg")])
def test_bad_flags(tmp_path, args, needle):
    _one_line_error(run_tailq("run", *SLEEP, "--scenario", "Offline", *args,
                              "--out", str(tmp_path / "r")), needle)


@pytest.mark.parametrize("cmd", [["show"], ["export", "--format", "csv"]])
def test_missing_run_dir(tmp_path, cmd):
    _one_line_error(run_tailq(cmd[0], str(tmp_path / "absent"), *cmd[1:]), "absent")


def test_not_a_run_dir(tmp_path):
    _one_line_error(run_tailq("show", str(tmp_path)), "not a tailq run directory")


def test_newer_schema_is_refused(tmp_path):
    import json
    out = tmp_path / "r"
    assert run_tailq("run", *SLEEP, "--scenario", "Offline", "--passes", "1", "--out", str(out)).returncode == 0
    meta = json.loads((out / "metadata.json").read_text())
    meta["schema_version"] = 99
    (out / "metadata.json").write_text(json.dumps(meta))
    _one_line_error(run_tailq("show", str(out)), "newer tailq", "upgrade")


def test_usage_error_is_one_line(tmp_path):
    _one_line_error(run_tailq("run", "--scenario", "Offline"), "--harness")


# -- compare: the reference must be a reference, and an earlier comparison is kept ---------

def _capture(tmp_path, name, *args):
    out = tmp_path / name
    p = run_tailq(*args, "--harness", "sleep", "--harness-arg", "samples=30", "--scenario",
                  "Offline", "--out", str(out), timeout=300)
    assert p.returncode == 0, p.stderr
    return str(out)


@pytest.fixture(scope="module")
def est_and_others(tmp_path_factory):
    base = tmp_path_factory.mktemp("guard")
    est = _capture(base, "est", "estimate", "--max-passes", "3", "--mc", "100")
    est2 = _capture(base, "est2", "estimate", "--max-passes", "4", "--mc", "100")
    small = _capture(base, "small", "run", "--passes", "2")
    assert run_tailq("analyze", small, "--mc", "100").returncode == 0
    big = _capture(base, "big", "run", "--passes", "5")
    assert run_tailq("analyze", big, "--mc", "100").returncode == 0
    return base, est, est2, small, big


def test_compare_refuses_a_full_run_smaller_than_the_estimate(est_and_others):
    _, est, _, small, _ = est_and_others
    _one_line_error(run_tailq("compare", est, small), "smaller than the estimate", "90 inferences",
                    "60 inferences", "--force")


def test_compare_refuses_a_second_estimate_as_the_full_run(est_and_others):
    _, est, est2, _, _ = est_and_others
    _one_line_error(run_tailq("compare", est, est2), "made by `tailq estimate`", "tailq full")


def test_compare_never_overwrites_an_earlier_compare_json(est_and_others):
    base, est, _, _, big = est_and_others
    out = str(base / "c.json")
    first = run_tailq("compare", est, big, "--out", out)
    assert first.returncode == 0, first.stderr
    before = open(out).read()
    _one_line_error(run_tailq("compare", est, big, "--out", out), "c.json", "--overwrite")
    assert open(out).read() == before
    assert run_tailq("compare", est, big, "--out", out, "--overwrite").returncode == 0
    forced = run_tailq("compare", est, est_and_others[3], "--force", "--out", str(base / "f.json"))
    assert forced.returncode == 0, forced.stderr


def test_report_keeps_its_pngs_beside_the_page_never_loose_in_the_cwd(est_and_others, tmp_path):
    _, est, _, _, _ = est_and_others
    p = run_tailq("report", est, "--html", "report.html", cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report_files"]
    assert all(f.endswith(".png") for f in os.listdir(tmp_path / "report_files"))
