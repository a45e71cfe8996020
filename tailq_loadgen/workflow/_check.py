"""``tailq check DIR``: a run directory's integrity, and why its result may be unstable."""

import dataclasses

import numpy as np

from .. import records, tailquality
from .._errors import UserError
from ..records import SCHEMA_VERSION


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str      # "ok", "warning" (the result may be unstable) or "problem" (damaged/incomplete)
    topic: str
    message: str

    def as_dict(self):
        return dataclasses.asdict(self)


MIN_PASSES = 10
OVERHEAD_SHARE = 0.5  # overhead above half the compute time is worth a warning


def check_run(run_dir):
    """A list of Findings; problems first."""
    run = records.load_run(run_dir)
    meta = run.metadata
    out = [Finding("ok", "schema", f"schema version {meta['schema_version']} "
                                   f"(this tailq reads up to {SCHEMA_VERSION})")]
    if not run.complete:
        status = meta["status"]
        if status == "running":
            why = ("a tailq process is writing it now" if run.live else
                   "no tailq process holds it: the writer was killed (SIGKILL, power loss) "
                   "before it could record how it ended")
        else:
            why = meta.get("status_reason") or ""
        out.append(Finding("problem", "status", f"the run is not complete: status {status!r}"
                           + (f" ({why})" if why else "")
                           + (f"; partial passes {list(run.partial_passes)}" if run.partial_passes else "")))
    else:
        out.append(Finding("ok", "status", "complete"))
    if not run.quality:
        out.append(Finding("warning", "quality", "no stored scores: "
                           + (meta.get("quality_note") or "the harness has no metric")))
    n = int(meta["sample_count"])
    passes, idx, status = run["pass"], run["sample_index"], run["status"]
    acc_passes = 0
    for test in meta.get("tests", []):
        p = test["pass"]
        sel = passes == p
        got = idx[sel]
        counts = {s: int(np.sum(status[sel] == s)) for s in records.STATUSES}
        failed = counts["error"] + counts["timeout"] + counts["cancelled"]
        line = f"pass {p} ({test.get('mode')}): {int(sel.sum())} records"
        if test.get("mode") == "AccuracyOnly":
            acc_passes += 1
            missing = n - np.unique(got).size
            dup = got.size - np.unique(got).size
            if missing or dup:
                out.append(Finding("problem", "counts", f"{line}: {missing} samples missing, "
                                                        f"{dup} recorded twice"))
                continue
        level = "problem" if failed else "ok"
        out.append(Finding(level, "counts", line + (f", {failed} failed ({counts['error']} errors, "
                                                    f"{counts['timeout']} timeouts, "
                                                    f"{counts['cancelled']} cancelled)" if failed else "")))
        join = test.get("join") or {}
        lost = join.get("missing_in_trace") or join.get("without_trace")
        if lost:
            out.append(Finding("problem", "join", f"pass {p}: {lost} records without a LoadGen "
                                                  "trace event"))
    for w in meta.get("warnings", []):
        out.append(Finding("warning", "import", w))
    if meta.get("latency_source") == "wrapper":
        out.append(Finding("warning", "latency", "latencies are the wrapper's stamps (trace-less "
                                                 "run), a few µs short of LoadGen's"))
    # reasons a tail-quality result may be unstable (pyperf-style)
    if acc_passes and acc_passes < MIN_PASSES:
        out.append(Finding("warning", "observations", f"only {acc_passes} passes: each sample's "
                                                      f"latency model rests on {acc_passes} "
                                                      f"observations (≥ {MIN_PASSES} recommended)"))
    from ._inputs import pass_matrix  # only for runs with complete passes

    try:
        m = pass_matrix(run)
    except UserError as exc:  # a damaged run: say so
        out.append(Finding("problem", "records", str(exc)))
        m = None
    if m is not None and m.n_passes >= 4:
        drift = tailquality.drift_check(m.latency, m.ok)
        out.append(Finding("warning" if drift.drifting else "ok", "drift", drift.message))
        shifts = np.nanmedian(np.log(m.latency) - np.nanmean(np.log(m.latency), axis=1,
                                                            keepdims=True), axis=0)
        spread = float(np.expm1(np.ptp(shifts)))
        if spread > 0.2:
            out.append(Finding("warning", "run level", f"passes differ by up to {spread:.0%} in "
                                                       "median latency: the run-level component "
                                                       "dominates tail quality at tight thresholds"))
    ok = (status == "ok") & run.has_latency & (run["compute_ns"] >= 0)
    if ok.any():
        lat, comp = run["latency_ns"][ok], run["compute_ns"][ok]
        overhead, compute = float(np.median(lat - comp)), float(np.median(comp))
        text = (f"harness overhead (LoadGen and wrapper) {overhead / 1e3:.1f} µs against "
                f"{compute / 1e3:.1f} µs of compute (medians)")
        if overhead > OVERHEAD_SHARE * compute:
            out.append(Finding("warning", "overhead", text + ": the measurement shows the harness "
                                                             "more than the model"))
        else:
            out.append(Finding("ok", "overhead", text))
    order = {"problem": 0, "warning": 1, "ok": 2}
    return sorted(out, key=lambda f: order[f.level])


def format_check(findings):
    tag = {"problem": "PROBLEM", "warning": "warning", "ok": "ok"}
    return "\n".join(f"{tag[f.level]:>8}  {f.topic:<12} {f.message}" for f in findings)
