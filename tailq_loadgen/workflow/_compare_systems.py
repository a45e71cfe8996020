"""``tailq compare-systems RUN_A RUN_B [RUN_C ...]``: one harness and dataset on several
systems, side by side.

Per threshold — absolute ones (a deadline such as ``20ms``) common to every system, and
percentiles taken on each system's own latencies — the observed tail-quality distributions
over passes; the difference of every system from the first (the reference) in mean and in
worst case (the expected worst of ``m`` passes, ``m`` the smallest pass count), each with a
bootstrap-t interval over passes (``tailquality.system_difference``); a sentence saying which
system is better at which deadline; and what differs in the systems' descriptions.
"""

import os

import numpy as np

from .. import records, tailquality
from ..report import system_line
from .._errors import UserError
from .._version import __version__
from ._analyze import parse_thresholds_arg
from ._inputs import pass_matrix
from ._metric import metrics_for_run

FORMAT = "tailq-compare-systems"
SCHEMA_VERSION = 1
# Description keys that change from one run to the next on the same system: never a difference.
VOLATILE = ("system.memory_available_bytes", "system.load_average_1m",
            "system.cpu_freq_mhz.current")


def _flatten(prefix, obj, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        for i, v in enumerate(obj):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out[prefix] = obj
    return out


def describe_system(meta):
    """The parts of a run's metadata that describe the system under test, flattened."""
    h = meta.get("harness") or {}
    desc = {"system": meta.get("system") or {}, "versions": meta.get("versions") or {},
            "backend": meta.get("backend") or {}, "runtime": h.get("runtime"),
            "threads": h.get("threads"), "dispatch": meta.get("dispatch") or {},
            "harness_args": (h.get("source") or {}).get("args") or {},
            "code": [{"commit": c.get("commit"), "dirty": c.get("dirty")} for c in meta.get("code") or []],
            "scenario": meta.get("scenario")}
    remote = h.get("remote")
    if remote:
        desc["remote"] = {k: remote.get(k) for k in ("url", "address", "protocol", "server",
                                                      "model_platform", "model_versions")}
    return _flatten("", desc, {})


def system_differences(descriptions):
    """Keys whose values differ between systems: ``[{"key", "values": [...]}]``."""
    keys = sorted(set().union(*descriptions))
    out = []
    for k in keys:
        if k in VOLATILE:
            continue
        values = [d.get(k) for d in descriptions]
        if any(v != values[0] for v in values[1:]):
            out.append({"key": k, "values": values})
    return out


def _identity(meta):
    h = meta.get("harness") or {}
    return {"model": h.get("model"),
            "dataset": (h.get("dataset"), meta.get("sample_count"), h.get("dataset_size"))}


def compare_systems(run_dirs, *, thresholds="p90,p99", names=None, force=False, level=0.95,
                    n_boot=2000, seed=0, worst_of=None, grid_points=60):
    """The side-by-side comparison as a plain dict (``compare-systems.json``)."""
    if len(run_dirs) < 2:
        raise UserError("compare-systems needs at least two run directories")
    names = list(names) if names else [os.path.basename(os.path.normpath(d)) or d for d in run_dirs]
    if len(names) != len(run_dirs) or len(set(names)) != len(names):
        raise UserError(f"--names: give {len(run_dirs)} distinct names, one per run directory")
    if not 0 < level < 1:
        raise UserError(f"--level {level}: must lie in (0, 1), e.g. 0.95")
    parsed = parse_thresholds_arg(thresholds)
    runs = [records.load_run(d) for d in run_dirs]
    for run in runs:
        if not run.complete:
            raise UserError(f"{run.path}: the run is incomplete ({run.metadata.get('status')}); "
                            "compare complete runs only")
    ids = [_identity(r.metadata) for r in runs]
    mismatched = sorted({k for i in ids[1:] for k in i if i[k] != ids[0][k]})
    if mismatched and not force:
        detail = "; ".join(f"{k}: " + " vs ".join(str(i[k]) for i in ids) for k in mismatched)
        raise UserError(f"the runs differ in {', '.join(mismatched)} ({detail}): compare-systems "
                        "compares one model on one dataset; pass --force to compare anyway")
    matrices, metrics = [], []
    for run, d in zip(runs, run_dirs):
        m = pass_matrix(run)
        if m.n_passes < 2:
            raise UserError(f"{d}: needs at least 2 complete passes (has {m.n_passes}); capture "
                            "with --passes K")
        metric, _, _ = metrics_for_run(run, m)
        matrices.append(m)
        metrics.append(metric)
    m_worst = int(worst_of or min(m.n_passes for m in matrices))
    tq_per = []      # per system: (T, R) tail quality
    thetas_per = []
    for m, metric in zip(matrices, metrics):
        thetas = tailquality.resolve_thresholds(parsed, m.latency[m.ok])
        thetas_per.append(thetas)
        tq_per.append(tailquality.observed_tq(m.latency, m.ok, metric, thetas))
    rng = np.random.SeedSequence([seed, 14])
    diffs = [None] + [tailquality.system_difference(tq_per[0], tq_per[j], level=level,
                                                    n_boot=n_boot, worst_of=m_worst,
                                                    rng=np.random.default_rng(child))
                      for j, child in zip(range(1, len(runs)), rng.spawn(len(runs) - 1))]
    rows = []
    for t, thr in enumerate(parsed):
        systems = []
        for j, name in enumerate(names):
            st = tailquality.tq_stats(tq_per[j][t], worst_of=m_worst)
            systems.append({"name": name, "theta_ns": float(thetas_per[j][t]), "stats": st.as_dict(),
                            "per_pass": tq_per[j][t].tolist()})
        versus = []
        for j in range(1, len(runs)):
            mean, worst = diffs[j]["mean"][t], diffs[j]["worst"][t]
            versus.append({"reference": names[0], "other": names[j], "mean": mean.as_dict(),
                           "worst": worst.as_dict(),
                           "sentence": tailquality.better_sentence(
                               _where(thr, thetas_per, t, names), names[0], names[j], mean, worst,
                               passes=(tq_per[0][t], tq_per[j][t]))})
        rows.append({"label": thr.label, "kind": thr.kind, "systems": systems, "versus": versus})
    descriptions = [describe_system(r.metadata) for r in runs]
    warnings = []
    if mismatched:
        warnings.append(f"the runs differ in {', '.join(mismatched)} (compared with --force)")
    scen = {r.metadata.get("scenario") for r in runs}
    if len(scen) > 1:
        warnings.append(f"the runs use different LoadGen scenarios ({', '.join(sorted(map(str, scen)))})")
    return {
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "tailq_version": __version__,
        "runs": list(run_dirs), "names": names, "level": level, "n_boot": n_boot, "seed": seed,
        "worst_of": m_worst, "passes": [m.n_passes for m in matrices],
        "samples": [m.n_samples for m in matrices],
        "tq_inf": [float(np.mean(tailquality.no_limit_quality(m.ok, met)))
                   for m, met in zip(matrices, metrics)],
        "metric": getattr(metrics[0][0] if isinstance(metrics[0], list) else metrics[0], "name", None),
        "thresholds": rows,
        "differences": system_differences(descriptions),
        "descriptions": [{"name": n, "line": system_line(r.metadata)} for n, r in zip(names, runs)],
        "mismatched": mismatched, "forced": bool(mismatched and force), "warnings": warnings,
        "overlay": _overlay(matrices, metrics, names, grid_points),
    }


def _where(thr, thetas_per, t, names):
    if thr.kind == "absolute":
        return f"the deadline {thr.label}"
    own = ", ".join(f"{n} {th[t] / 1e6:.3f} ms" for n, th in zip(names, thetas_per))
    return f"each system's own {thr.label} ({own})"


def _overlay(matrices, metrics, names, points):
    """Tail quality against one absolute θ grid for every system (the report's overlay)."""
    lat = np.concatenate([m.latency[m.ok] for m in matrices])
    lo, hi = np.percentile(lat, 0.5), lat.max() * 1.01
    grid = np.geomspace(lo, hi, points)
    bands = []
    for m, metric, name in zip(matrices, metrics, names):
        tq = tailquality.observed_tq(m.latency, m.ok, metric, grid)   # (grid, R)
        bands.append({"name": name, "min": tq.min(axis=1).tolist(), "max": tq.max(axis=1).tolist(),
                      "p5": tailquality.percentile(tq, 5, axis=1).tolist(),
                      "p95": tailquality.percentile(tq, 95, axis=1).tolist(),
                      "median": np.median(tq, axis=1).tolist(), "passes": m.n_passes})
    return {"grid_ns": grid.tolist(), "bands": bands}


def format_compare_systems(doc):
    names = doc["names"]
    lines = [f"{len(names)} systems, {doc['samples'][0]} samples; passes "
             + ", ".join(f"{n} {p}" for n, p in zip(names, doc["passes"]))
             + f"; quality with no time limit ({doc['metric']}) "
             + ", ".join(f"{n} {q:.4f}" for n, q in zip(names, doc["tq_inf"]))]
    for d in doc["descriptions"]:
        lines.append(f"  {d['name']}: {d['line']}")
    lines += [f"warning: {w}" for w in doc["warnings"]]
    lines.append("")
    w = max(6, *(len(n) for n in names))
    lines.append(f"{'θ':>7} {'system':<{w}} {'θ ms':>8} | {'min':>7} {'p5':>7} {'mean':>7} {'max':>7} "
                 f"{'worst/' + str(doc['worst_of']):>9} | {'Δmean (pp)':>22} {'Δworst (pp)':>22}")
    for row in doc["thresholds"]:
        for j, s in enumerate(row["systems"]):
            st = s["stats"]
            diff = ""
            if j:
                v = row["versus"][j - 1]
                diff = " ".join(f"{v[k]['estimate'] * 100:+6.2f} [{v[k]['low'] * 100:+.2f},"
                                f"{v[k]['high'] * 100:+.2f}]".rjust(22) for k in ("mean", "worst"))
            lines.append(f"{row['label'] if j == 0 else '':>7} {s['name']:<{w}} {s['theta_ns'] / 1e6:>8.3f} | "
                         f"{st['min']:>7.4f} {st['p5']:>7.4f} {st['mean']:>7.4f} {st['max']:>7.4f} "
                         f"{st['expected_worst']:>9.4f} | {diff}")
    lines.append("")
    lines.append(f"Δ: system − {names[0]}, with a {doc['level']:.0%} bootstrap-t interval over passes; "
                 f"worst = expected worst of {doc['worst_of']} passes")
    for row in doc["thresholds"]:
        for v in row["versus"]:
            lines.append(v["sentence"])
    if doc["differences"]:
        lines.append("")
        lines.append("what differs between the systems' descriptions:")
        for d in doc["differences"]:
            lines.append(f"  {d['key']}: " + " | ".join(f"{n}={v}" for n, v in zip(names, d["values"])))
    else:
        lines.append("the systems' descriptions do not differ")
    return "\n".join(lines)


def write_compare_systems(doc, path):
    return records.write_result(os.path.dirname(path) or ".", os.path.basename(path), FORMAT,
                                SCHEMA_VERSION,
                                {k: v for k, v in doc.items() if k not in ("format", "schema_version")})


def systems_for_report(run_dirs, thresholds=None):
    """The compare-systems document for ``tailq report`` when its runs are one model on one
    dataset on systems whose descriptions differ; None otherwise (e.g. an estimate beside its
    full run on the same machine)."""
    if len(run_dirs) < 2:
        return None
    if thresholds is None:
        try:
            inputs = records.read_analysis(run_dirs[0]).get("inputs", {})
            thresholds = ",".join(t["label"] for t in inputs.get("thresholds", [])) or None
        except UserError:
            thresholds = None
    try:
        doc = compare_systems(run_dirs, thresholds=thresholds or "p90,p99")
    except UserError:
        return None
    return doc if doc["differences"] else None
