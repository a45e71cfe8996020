"""``tailq profile``: capture variant profiles under LoadGen (read back by ``_profile.py``).

Per (variant, intra-op threads, batch size) one run directory ``OUT/<variant>/b<B>-t<T>``:

1. an **AccuracyOnly** test — every sample once (MultiStream fills its last query by
   repeating samples) — whose outputs the harness scores per sample into
   ``correctness.parquet``;
2. a **PerformanceOnly** test of ``queries`` queries: SingleStream when B = 1, otherwise
   MultiStream with ``samples_per_query = B``. Both issue the next query when the previous
   one completes, so LoadGen's query latency is the service time of one batch on an idle
   server; the AccuracyOnly test's queries are such observations too, and count. (Offline is
   not used for service times: its latencies run from the test's start, and its batches'
   times exist only on the wrapper's clock.)

With ``--capacity-slo`` a third step follows: the capacity at that SLO per (variant, cores),
LoadGen's Server scenario in ``FindPeakPerformance`` mode on the pool SUT
(``_profile_capacity.py``), added to ``profile.json``'s ``capacity`` list
(:class:`_profile.Capacity`). ``OUT/profiles.json`` indexes what was
captured, in order, and is rewritten after every profile, so an interrupted capture leaves
a readable set.
"""

import datetime
import os

import numpy as np

from .._errors import UserError
from ._profile import (CORRECTNESS, SET_FILE, ProfileError, format_profiles, load_profile,
                       write_profile_info, _write_json)

DEFAULT_QUERIES = 1000


def _positive_ints(flag, values):
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise UserError(f"{flag} {v!r}: must be whole numbers ≥ 1")
        out.append(int(v))
    if not out:
        raise UserError(f"{flag}: give at least one value")
    if len(set(out)) != len(out):
        raise UserError(f"{flag}: {out} repeats a value")
    return out


def parse_int_list(flag, text):
    """``"1,2,4"`` → [1, 2, 4]; a one-line error naming ``flag`` otherwise."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{flag} {text!r}: write whole numbers separated by commas, e.g. 1,2,4") from None
    return _positive_ints(flag, values)


def profile_settings(batch_size, queries):
    """(scenario, overrides for every test, overrides for the performance test)."""
    base = {"min_duration_ms": 0}
    if batch_size == 1:
        scenario = "SingleStream"
    else:
        scenario = "MultiStream"
        base["multi_stream_samples_per_query"] = batch_size
    perf = {"min_query_count": queries, "max_query_count": queries}
    return scenario, base, perf


def capture_profile(harness, *, out, batch_size=1, queries=DEFAULT_QUERIES, family=None,
                    user_conf=None, experiment=None, count=None, overwrite=False, log=print):
    """Capture one profile of ``harness`` at ``batch_size`` into the run directory ``out``."""
    batch_size, = _positive_ints("--batch-sizes", [batch_size])
    queries, = _positive_ints("--queries", [queries])
    n = int(harness.dataset.get_item_count())
    if count is not None:
        n = min(n, int(count))
    if batch_size > n:
        raise UserError(f"--batch-sizes {batch_size}: larger than the {n} samples of "
                        f"{harness.name}'s dataset")
    scenario, base, perf = profile_settings(batch_size, queries)
    from ..capture import CaptureSession  # LoadGen is loaded only when capturing
    from .. import records

    with CaptureSession(harness, scenario=scenario, out=out, first_mode="AccuracyOnly",
                        user_conf=user_conf, experiment=experiment, overrides=base, count=count,
                        overwrite=overwrite, log=log) as session:
        session.run(["AccuracyOnly"])
        session.run(["PerformanceOnly"], overrides=perf)
    scores = _per_sample_scores(harness, records.load_run(out), n, log)
    import pyarrow as pa

    records.write_parquet_atomic(
        pa.table({"sample_index": np.arange(scores.size, dtype=np.int64),
                  "score": scores.astype(np.float64)}), os.path.join(out, CORRECTNESS))
    threads = (harness.threads or {}).get("intra_op")
    info = {"variant": harness.name, "family": family, "metric": harness.metric or "score",
            "scenario": scenario, "batch_size": batch_size, "threads": threads,
            "accuracy_pass": 0, "service_passes": [0, 1], "queries": queries, "count": count}
    stage = (harness.params or {}).get("pipeline_stage")  # a pipeline's stage variant
    if stage is not None:
        info["stage"] = str(stage)
    write_profile_info(out, info)
    return load_profile(out)


def _per_sample_scores(harness, run, n, log):
    """Score every sample from the AccuracyOnly test (pass 0) with the harness's metric.

    MultiStream fills its last query by repeating samples, so a sample may appear more than
    once: its first ok answer counts (one model, one answer). A sample with no ok answer
    counts as wrong."""
    sel = np.flatnonzero(run["pass"] == 0)
    idx, ok = run["sample_index"][sel], run["status"][sel] == "ok"
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n or np.unique(idx).size != n:
        raise ProfileError(f"{run.path}: the AccuracyOnly test did not issue every one of the "
                           f"{n} samples; capture the profile again")
    if harness.metric_factory is None:
        raise ProfileError(f"harness {harness.name!r}: a profile needs a metric with a score per "
                           "sample (accuracy, recall@k)")
    spec = run.metadata.get("output") or {}
    if not spec.get("dtype") or spec.get("shape") is None:
        raise ProfileError(f"{run.path}: outputs of varying shape cannot be scored")
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    # the metric scores the whole dataset; with --count only the first n take part
    outputs = np.zeros((int(harness.dataset.get_item_count()),) + shape, dtype=dtype)
    answered = np.zeros(n, dtype=bool)
    raw = run["output"]
    for row, i in zip(sel[ok], idx[ok]):
        if not answered[i]:
            outputs[i] = np.frombuffer(raw[row], dtype=dtype).reshape(shape)
            answered[i] = True
    if not answered.all():
        log(f"warning: {int((~answered).sum())} samples failed in the AccuracyOnly test; "
            "they count as wrong")
    scores = getattr(harness.make_metric(outputs), "scores", None)
    if scores is None:
        raise ProfileError(f"harness {harness.name!r}: its metric {harness.metric!r} has no score "
                           "per sample (accuracy and recall@k do); a profile needs one")
    return np.where(answered, np.asarray(scores)[:n], 0.0)


def _kept(path, name, args, batch_size, queries, count):
    """The profile at ``path`` if it was captured exactly so, else None (capture it again)."""
    from ._profile import is_profile, read_profile_info
    from .. import records

    if not is_profile(path):
        return None
    try:
        info = read_profile_info(path)
        harness = records.read_metadata(path).get("harness") or {}
        # Schema 2 keeps the command-line naming as text and the arguments as data.
        asked = {"harness": name, "args": args or {}}
        same = (harness.get("source") == records.source_text(asked)
                and (harness.get("args") or {}) == (args or {})
                and info["batch_size"] == batch_size and info["queries"] == queries
                and info.get("count") == count)
        return load_profile(path) if same else None
    except UserError:
        return None


def _config_dir(variant, batch_size, threads):
    return os.path.join(variant.replace(":", "_").replace("/", "_"),
                        f"b{batch_size}-t{threads if threads is not None else 'na'}")


def profile_variants(variants, *, catalog, out, batch_sizes=(1,), threads=(1,),
                     queries=DEFAULT_QUERIES, family=None, harness_args=None, user_conf=None,
                     experiment=None, count=None, overwrite=False, resume=False, log=print):
    """Profile every variant at every thread count and batch size under ``out``.

    ``catalog`` is the harness registry (``tailq_loadgen.harnesses``), handed in by the caller:
    the workflow builds harnesses only from the names the command line gave, never by itself.

    Returns the profiles in capture order. ``threads`` apply to variants whose factory takes
    ``intra_threads``; the others (the synthetic variants) are captured once per batch size
    and their thread count is recorded as null. ``resume``: keep every profile already in
    ``out`` that was captured with the same harness, arguments, batch size, threads, queries
    and count, and capture the rest (what an interrupted run left unfinished)."""
    batch_sizes = _positive_ints("--batch-sizes", list(batch_sizes))
    threads = _positive_ints("--threads", list(threads))
    _positive_ints("--queries", [queries])
    if not variants:
        raise UserError("give --family or --harness: nothing to profile")
    for name in variants:  # before anything is captured: unknown names, missing extras
        catalog.check_harness(name)
    index_path = os.path.join(out, SET_FILE)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {out}: exists and is not a directory; choose another path")
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.isfile(index_path):
            raise UserError(f"--out {out}: directory exists, is not empty and holds no profiles; "
                            "choose a new path")
        if not (overwrite or resume):
            raise UserError(f"--out {out}: holds profiles already; choose a new path, pass "
                            "--resume to finish them or --overwrite to capture them again")
    os.makedirs(out, exist_ok=True)
    entries, profiles = [], []
    for name in variants:
        thread_counts = threads if catalog.harness_takes(name, "intra_threads") else [None]
        for t in thread_counts:
            args = dict(harness_args or {})
            if t is not None:
                args["intra_threads"] = t
            harness = None  # built only when something is to be captured
            for b in batch_sizes:
                rel = _config_dir(name, b, t)
                path = os.path.join(out, rel)
                profile = _kept(path, name, args, b, queries, count) if resume else None
                if profile is not None:
                    log(f"profile {name}: batch {b}, threads {t if t is not None else '—'}: "
                        f"kept from {rel}")
                else:
                    log(f"profile {name}: batch {b}, threads {t if t is not None else '—'} → {rel}")
                    harness = harness or catalog.get_harness(name, **args)
                    profile = capture_profile(harness, out=path, batch_size=b, queries=queries,
                                              family=family, user_conf=user_conf,
                                              experiment=experiment, count=count,
                                              overwrite=overwrite or resume, log=log)
                profiles.append(profile)
                entries.append({"dir": rel, "variant": name, "batch_size": b, "threads": t})
                _write_json(index_path, {
                    "format": "tailq-profile-set", "version": 1, "family": family,
                    "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"),
                    "profiles": entries})
    log(format_profiles(profiles))
    return tuple(profiles)


def profile_family(family, *, catalog, variants=None, **kw):
    """Profile the variants of a registered family (all, or the ``variants`` named)."""
    fam = catalog.get_family(family)
    chosen = list(fam.variants)
    if variants:
        unknown = [v for v in variants if v not in fam.variants]
        if unknown:
            raise UserError(f"--variants {','.join(unknown)}: not in family {family!r} "
                            f"({', '.join(fam.variants)})")
        chosen = [v for v in fam.variants if v in variants]
    return profile_variants(chosen, catalog=catalog, family=family, **kw)




def profile_from_flags(*, catalog, family=None, harness=None, variants=None, harness_args=(),
                       batch_sizes="1", threads="1", queries=DEFAULT_QUERIES, count=None,
                       out=None, overwrite=False, resume=False, user_conf=None, experiment=None,
                       log=print, capacity_slo=None, capacity_cores="1", process_builder=None):
    """``tailq profile``'s flags (text as typed) → :func:`profile_family` / :func:`profile_variants`;
    with ``capacity_slo`` (e.g. "50ms") then the capacity at that SLO of every batch-1 profile
    on each of ``capacity_cores`` (``_profile_capacity``: LoadGen's FindPeakPerformance)."""
    from ..capture import load_experiment

    if capacity_slo is not None:  # checked before anything is captured
        from ._plan import parse_time

        slo_s = parse_time("--capacity-slo", capacity_slo)
        cap_cores = parse_int_list("--capacity-cores", capacity_cores)
    profiles = _profile_from_flags(catalog=catalog, family=family, harness=harness,
                                   variants=variants, harness_args=harness_args,
                                   batch_sizes=batch_sizes, threads=threads, queries=queries,
                                   count=count, out=out, overwrite=overwrite, resume=resume,
                                   user_conf=user_conf, experiment=experiment, log=log)
    if capacity_slo is None:
        return profiles
    from ._profile import load_profile
    from ._profile_capacity import capture_capacities

    capture_capacities(profiles, catalog=catalog, cores=cap_cores, slo_s=slo_s, count=count,
                       harness_args=catalog.parse_harness_args(harness_args), log=log,
                       process_builder=process_builder)
    return tuple(load_profile(p.source) for p in profiles)  # with their capacity entries


def _profile_from_flags(*, catalog, family, harness, variants, harness_args, batch_sizes,
                        threads, queries, count, out, overwrite, resume, user_conf, experiment,
                        log):
    from ..capture import load_experiment

    if not out:
        raise UserError("--out: give the directory to write the profiles to")
    if (family is None) == (harness is None):
        raise UserError("give exactly one of --family or --harness")
    if variants is not None and family is None:
        raise UserError("--variants goes with --family")
    if count is not None and count < 1:
        raise UserError(f"--count {count}: must be at least 1")
    kw = dict(out=out, batch_sizes=parse_int_list("--batch-sizes", batch_sizes),
              threads=parse_int_list("--threads", threads),
              queries=_positive_ints("--queries", [queries])[0],
              harness_args=catalog.parse_harness_args(harness_args), user_conf=user_conf,
              experiment=load_experiment(experiment), count=count, overwrite=overwrite,
              resume=resume, log=log)
    if family is not None:
        chosen = [v.strip() for v in variants.split(",") if v.strip()] if variants else None
        return profile_family(family, catalog=catalog, variants=chosen, **kw)
    names = [h.strip() for h in harness.split(",") if h.strip()]
    families = {catalog.family_of(h)[0] if catalog.family_of(h) else None for h in names}
    family = families.pop() if len(families) == 1 else None  # named only when all share one
    return profile_variants(names, catalog=catalog, family=family, **kw)
