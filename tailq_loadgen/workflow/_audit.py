"""``tailq audit TEST01|TEST04``: MLPerf's compliance tests run through the plugin, verified.

Each test is one audited LoadGen run (``--audit_conf``, read by LoadGen inside StartTest,
never from the working directory) held against reference runs made the same way, in one
directory::

    OUT/reference/     PerformanceOnly run (a tailq run directory), or --reference RUN
    OUT/accuracy/      AccuracyOnly run (TEST01), or --accuracy-run RUN
    OUT/audit/         the audited PerformanceOnly run
    OUT/verify_accuracy.txt, OUT/verify_performance.txt   what MLPerf's scripts print
    OUT/audit.json     the verdict (versioned)

The checks are those of mlcommons/inference ``compliance/`` (read, not copied):

* TEST01 accuracy: every response LoadGen logged in the audited performance run equals,
  byte for byte, the response to the same sample in the accuracy run (MLPerf compares the
  first element only; all bytes is stricter) — and at least one was logged.
* TEST01 performance: the audited run's score within ±10% of the reference's.
* TEST04 performance: issuing one sample over and over may not be more than 10% faster
  than the reference: a system that caches answers is.
* Both: the 10% become 20% in SingleStream/MultiStream when the reference score is at most
  200,000 (latency ≥ 5 µs); both runs must be VALID; LoadGen must have logged that it found
  the audit config. Score: 1e9 / early-stopping latency (SingleStream, MultiStream),
  samples per second (Offline, Server; Server's latency bounds must agree).

TEST06 checks an LLM's first token and end-of-sequence tokens; none of tailq's harnesses
generates tokens, so it does not apply (``tailq audit TEST06`` says so).
"""

import os

import numpy as np

from .. import records
from .._errors import UserError
from .._version import __version__

AUDIT = "audit.json"
AUDIT_FORMAT = "tailq-audit"
AUDIT_SCHEMA_VERSION = 1
TESTS = ("TEST01", "TEST04", "TEST06")
CONFIG_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..",
                                           "mlperf_configs", "audit"))


def audit_config_path(test):
    path = os.path.join(CONFIG_DIR, f"{test}.config")
    if not os.path.isfile(path):
        raise UserError(f"{test}: no audit config at {path}; pass --audit_conf FILE")
    return path


def _score(v):
    """MLPerf's compliance score of a verdict (higher is faster), or None."""
    m = (v or {}).get("metric") or {}
    value = m.get("value")
    if not value:
        return None
    return 1e9 / value if m.get("unit") == "ns" else float(value)


def _threshold(scenario, ref_score):
    if (scenario == "SingleStream" and ref_score <= 200000) or \
            (scenario == "MultiStream" and ref_score <= 1600000):
        return 0.20
    return 0.10


def _perf_test(run_dir):
    """(verdict, loadgen dir) of the last performance test of a tailq run directory."""
    meta = records.read_metadata(run_dir)
    for t in reversed(meta.get("tests") or []):
        if t.get("mode") in ("PerformanceOnly", "SubmissionRun"):
            v = t.get("verdict") or records.verdict(t.get("loadgen_result"), t.get("effective_settings"))
            return v, os.path.join(run_dir, t["loadgen_dir"]), t
    raise UserError(f"{run_dir}: has no performance test; give a `tailq run --mode "
                    "PerformanceOnly` run")


def _accuracy_dir(run_dir):
    meta = records.read_metadata(run_dir)
    for t in meta.get("tests") or []:
        if t.get("mode") == "AccuracyOnly":
            return os.path.join(run_dir, t["loadgen_dir"])
    raise UserError(f"{run_dir}: has no AccuracyOnly test; give a `tailq run --accuracy` run")


def check_performance(test, ref, audit):
    """The performance check of TEST01 (within ± the threshold) or TEST04 (not faster)."""
    fails = []
    for name, v in (("reference", ref), ("test", audit)):
        if v.get("validity") != "VALID":
            fails.append(f"{name} results are invalid ({'; '.join(v.get('reasons') or [])})")
    if ref.get("scenario") != audit.get("scenario"):
        fails.append("test and reference scenarios do not match")
    rm, am = ref.get("metric") or {}, audit.get("metric") or {}
    if ref.get("scenario") == "Server" and rm.get("target_latency_ns") != am.get("target_latency_ns"):
        fails.append("Server target latency mismatch")
    r, t = _score(ref), _score(audit)
    details = {"reference_score": r, "test_score": t}
    lines = ["Verifying performance."]
    if r is None or t is None:
        fails.append("a score is missing")
    else:
        thr = _threshold(ref.get("scenario"), r)
        details["threshold"] = thr
        lines += [f"reference score = {r:.6g}", f"test score = {t:.6g}"]
        within = t < r * (1 + thr) if test == "TEST04" else r * (1 - thr) <= t <= r * (1 + thr)
        if not within:
            fails.append(f"test score {t / r - 1:+.1%} against the reference "
                         + (f"(more than {thr:.0%} faster: answers look cached)" if test == "TEST04"
                            else f"(outside ±{thr:.0%})"))
    lines += [f"TEST FAIL: {f}" for f in fails] or ["TEST PASS"]
    return not fails, lines, details


def check_accuracy(accuracy_dir, audit_dir):
    """TEST01's accuracy check: every logged performance-mode response equals the accuracy
    run's response to the same sample."""
    acc_log = os.path.join(accuracy_dir, "mlperf_log_accuracy.json")
    perf_log = os.path.join(audit_dir, "mlperf_log_accuracy.json")
    reference = {}
    duplicates = 0
    for _, idx, data in records.iter_accuracy_log(acc_log):
        duplicates += idx in reference
        reference.setdefault(idx, data)
    entries = matched = mismatched = missing = 0
    try:
        for _, idx, data in records.iter_accuracy_log(perf_log):
            entries += 1
            if idx not in reference:
                missing += 1
            elif reference[idx] == data:
                matched += 1
            else:
                mismatched += 1
    except UserError:
        if entries:
            raise  # a damaged log, not an empty one
    details = {"accuracy_log_entries": len(reference), "accuracy_log_duplicates": duplicates,
               "performance_log_entries": entries, "qsl_idx_matched": matched + mismatched,
               "data_mismatches": mismatched, "missing_qsl_idxs": missing}
    ok = mismatched == 0 and (matched + mismatched) > 0
    lines = ["Verifying accuracy."] + [f"{k} = {v}" for k, v in details.items()]
    lines.append("TEST PASS" if ok else "TEST FAIL" + (
        ": no response of the performance run was logged" if not entries else
        f": {mismatched} performance-mode responses differ from the accuracy run's"))
    return ok, lines, details


def _audit_keys(run_dir):
    """``{key: value}`` of the audit config a run recorded (metadata settings.audit)."""
    audit = (records.read_metadata(run_dir).get("settings") or {}).get("audit") or {}
    return {name.rsplit(".", 1)[-1]: value for name, value in (audit.get("keys") or {}).items()}


def _found_audit_config(v):
    return any("audit config" in w.lower() for w in (v or {}).get("warnings") or [])


def test04_applicability(ref_dir, index, scenario, threshold):
    """(applicable, note): TEST04 holds one sample against all samples, so it means something
    only when that sample costs what a typical one costs (MLPerf exempts benchmarks whose
    samples vary in cost). Judged from the reference run's own latencies of that sample;
    in Offline, whose latencies count from the test's start, from the sample sizes."""
    run = records.load_run(ref_dir)
    perf = [t["pass"] for t in run.metadata.get("tests") or [] if t.get("mode") == "PerformanceOnly"]
    sel = np.isin(run["pass"], perf) & run.has_latency & (run["status"] == "ok")
    lat, idx = run["latency_ns"][sel], run["sample_index"][sel]
    same = lat[idx == index]
    if scenario != "Offline" and same.size >= 3 and lat.size:
        ratio = float(np.median(same) / np.median(lat))
        text = (f"sample {index} took {ratio:.2f}× the median latency in the reference run "
                f"({same.size} times drawn)")
        if abs(ratio - 1) > threshold / 2:
            return False, (f"not applicable: {text}, so repeating it measures its cost, not "
                           "caching (MLPerf exempts benchmarks whose samples vary in cost)")
        return True, text
    sizes = np.asarray(run.samples.get("size", []), dtype=np.float64)
    if sizes.size and np.isfinite(sizes).all() and np.unique(sizes).size > 1:
        return False, ("not applicable: the samples vary in size, so one repeated sample may "
                       "be a cheap one (MLPerf exempts such benchmarks from TEST04)")
    return True, None


def run_audit(test, harness, *, scenario, out, audit_conf=None, reference=None, accuracy_run=None,
              overwrite=False, log=print, **capture):
    """Run compliance ``test`` on ``harness`` and verify it; returns the audit.json dict.

    ``capture``: keyword arguments of ``run_capture`` shared by every run (user_conf,
    mlperf_conf, experiment, overrides, progress)."""
    if test not in TESTS:
        raise UserError(f"{test!r}: unknown compliance test; choose one of {', '.join(TESTS)}")
    if test == "TEST06":
        raise UserError("TEST06 checks an LLM's first-token and end-of-sequence consistency; "
                        "no tailq harness generates tokens, so it does not apply")
    audit_conf = audit_conf or audit_config_path(test)
    from ..capture import run_capture  # LoadGen is loaded only when capturing

    if os.path.exists(out) and not overwrite and os.listdir(out):
        raise UserError(f"--out {out}: exists and is not empty; choose another or pass --overwrite")
    os.makedirs(out, exist_ok=True)

    def capture_run(name, **kw):
        path = os.path.join(out, name)
        log(f"{test}: {name} run → {path}")
        run_capture(harness, scenario=scenario, out=path, overwrite=overwrite, log=lambda *_: None,
                    **capture, **kw)
        return path

    ref_dir = reference or capture_run("reference", mode="PerformanceOnly")
    acc_dir = None
    if test == "TEST01":
        acc_dir = accuracy_run or capture_run("accuracy", mode="AccuracyOnly")
    audit_dir = capture_run("audit", mode="PerformanceOnly", audit_conf=audit_conf)
    ref_v, _, _ = _perf_test(ref_dir)
    audit_v, audit_lg, _ = _perf_test(audit_dir)
    checks = []
    if test == "TEST01":
        ok, lines, details = check_accuracy(_accuracy_dir(acc_dir), audit_lg)
        checks.append({"name": "accuracy", "passed": ok, "lines": lines, "details": details})
        _write_lines(out, "verify_accuracy.txt", lines)
    ok, lines, details = check_performance(test, ref_v, audit_v)
    checks.append({"name": "performance", "passed": ok, "lines": lines, "details": details})
    _write_lines(out, "verify_performance.txt", lines)
    applied = _found_audit_config(audit_v)
    if not applied:
        checks.append({"name": "audit config applied", "passed": False,
                       "lines": ["TEST FAIL: LoadGen did not log that it found the audit config"],
                       "details": {}})
    applicable, note = True, None
    if test == "TEST04":
        index = int(float(_audit_keys(audit_dir).get("performance_issue_same_index", 0)))
        applicable, note = test04_applicability(ref_dir, index, scenario,
                                                details.get("threshold", 0.10))
    doc = {"tailq_version": __version__, "test": test, "scenario": scenario,
           "harness": harness.name, "model": getattr(harness, "model", harness.name),
           "audit_conf": os.path.abspath(audit_conf), "audit_config_found": applied,
           "applicable": applicable, "note": note,
           "passed": all(c["passed"] for c in checks),
           "runs": {"reference": ref_dir, "accuracy": acc_dir, "audit": audit_dir},
           "checks": checks}
    records.write_result(out, AUDIT, AUDIT_FORMAT, AUDIT_SCHEMA_VERSION, doc)
    return doc


def _write_lines(out, name, lines):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def format_audit(doc):
    verdict = "PASS" if doc["passed"] else "FAIL"
    if not doc["applicable"]:
        verdict += f" ({doc['note']})"
    lines = [f"{doc['test']} on {doc['harness']} ({doc['model']}), {doc['scenario']}: {verdict}"]
    for c in doc["checks"]:
        last = c["lines"][-1]
        lines.append(f"  {c['name']}: {'pass' if c['passed'] else 'FAIL'} — {last}")
        d = c["details"]
        if c["name"] == "performance" and d.get("reference_score") and d.get("test_score"):
            lines.append(f"    score {d['test_score']:.6g} against the reference's "
                         f"{d['reference_score']:.6g} ({d['test_score'] / d['reference_score'] - 1:+.1%})")
        if c["name"] == "accuracy":
            lines.append(f"    {d['qsl_idx_matched']} logged responses compared, "
                         f"{d['data_mismatches']} differ")
    return "\n".join(lines)
