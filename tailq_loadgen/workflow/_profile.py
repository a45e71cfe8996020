"""Variant profiles: what one model variant costs and how often it is right, from a captured run.

A **profile** is a run directory captured by ``tailq profile`` (``_profile_capture.py``) for
one (variant, batch size, intra-op threads):

* test 0, **AccuracyOnly** — every sample exactly once: its per-sample correctness, kept in
  ``correctness.parquet`` (``sample_index``, ``score`` in [0, 1]; the file ``tailq import
  --correctness`` writes, so ``tailq analyze`` scores the run without the harness);
* test 1, **PerformanceOnly** — ``queries`` back-to-back queries of ``batch_size`` samples
  (SingleStream for 1, MultiStream with ``samples_per_query = batch_size`` otherwise);

both tests issue one query at a time, so LoadGen's query latency *is* the service time of one
batch on an idle server, on LoadGen's clock, and both feed the service-time sample;
* ``profile.json`` — what the directory is (format below).

``load_profile(run_dir)`` reads one back (I/O lives here, in the reader); ``extract_profile``
is the pure function that turns the run's arrays into the immutable :class:`Profile` the
routing simulator and the planner use. Nothing in a profile is typed in: accuracy and the
service-time samples are what was captured.

``profile.json`` history: version 1 — first version. Keys: ``format`` ("tailq-profile"),
``version``, ``variant``, ``family`` (or null), ``metric``, ``scenario``, ``batch_size``,
``threads`` (intra-op, or null where the runtime has none), ``accuracy_pass``,
``service_passes``, ``queries``, ``count`` (``--count``, or null), ``created``, ``capacity``
(list, see :class:`Capacity`), and optionally ``stage`` (the pipeline stage a variant serves,
e.g. "encoder"; absent or null for a one-stage variant — added within version 1, so older
files read as before).
"""

import dataclasses
import datetime
import json
import math
import os

import numpy as np

from .. import tailquality
from .._errors import UserError

PROFILE_FILE = "profile.json"
PROFILE_FORMAT = "tailq-profile"
PROFILE_VERSION = 1
CORRECTNESS = "correctness.parquet"  # the name workflow._metric reads for imported runs
SET_FILE = "profiles.json"           # index of a directory of profiles (tailq profile --out)


class ProfileError(UserError):
    """A profile that cannot be built or read; the message names it and what to do."""


@dataclasses.dataclass(frozen=True)
class Capacity:
    """Capacity at a latency SLO: the largest Server QPS whose ``percentile`` latency ≤ SLO.

    Filled by LoadGen's Server scenario in ``FindPeakPerformance`` mode (``tailq profile
    --capacity-slo``, ``_profile_capacity.py``); ``profile.json`` keeps a list of these."""

    slo_ns: int
    qps: float
    percentile: float = 0.99
    cores: int = None
    source: str = "loadgen Server FindPeakPerformance"

    def __post_init__(self):
        if not (isinstance(self.slo_ns, int) and self.slo_ns > 0):
            raise ValueError(f"capacity slo_ns {self.slo_ns!r}: must be a positive integer")
        if not (math.isfinite(self.qps) and self.qps > 0):
            raise ValueError(f"capacity qps {self.qps!r}: must be positive")
        if not 0 < self.percentile < 1:
            raise ValueError(f"capacity percentile {self.percentile!r}: must lie in (0, 1)")

    def as_dict(self):
        return dataclasses.asdict(self)


def _frozen(arr, dtype):
    out = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Profile:
    """One variant at one batch size and thread count, as measured.

    ``correct``: per dataset sample, its score in [0, 1] (AccuracyOnly test).
    ``service_ns``: per query of the service passes (one batch of ``batch_size`` samples),
    LoadGen's latency — the service time of one batch on an idle server. ``compute_ns``: the
    same queries' ``backend.predict`` time on the wrapper's clock (service minus LoadGen's and
    the dataset's overhead). ``sample_index`` / ``sample_latency_ns``: per sample issued in
    those queries, which sample it was and its query's latency — the joint draws behind
    :meth:`q`. Arrays are read-only copies.
    """

    variant: str
    metric: str
    scenario: str
    batch_size: int
    threads: object
    correct: np.ndarray
    service_ns: np.ndarray
    compute_ns: np.ndarray
    sample_index: np.ndarray
    sample_latency_ns: np.ndarray
    family: str = None
    capacity: tuple = ()
    source: str = None  # the run directory it was read from (provenance only)
    stage: str = None   # the pipeline stage the variant serves (None: a one-stage variant)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 — frozen dataclass
        set_("correct", _frozen(self.correct, np.float64))
        for name in ("service_ns", "compute_ns", "sample_index", "sample_latency_ns"):
            set_(name, _frozen(getattr(self, name), np.int64))
        set_("capacity", tuple(self.capacity))
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ProfileError(f"profile {self.variant}: batch_size {self.batch_size!r} must be ≥ 1")
        if self.correct.ndim != 1 or self.correct.size == 0:
            raise ProfileError(f"profile {self.variant}: no per-sample correctness")
        if np.any(~np.isfinite(self.correct)) or np.any((self.correct < 0) | (self.correct > 1)):
            raise ProfileError(f"profile {self.variant}: correctness scores must lie in [0, 1]")
        if self.service_ns.size == 0 or np.any(self.service_ns <= 0):
            raise ProfileError(f"profile {self.variant}: needs positive service times")
        if self.compute_ns.shape != self.service_ns.shape:
            raise ProfileError(f"profile {self.variant}: one compute time per query needed")
        if self.sample_index.shape != self.sample_latency_ns.shape or self.sample_index.size == 0:
            raise ProfileError(f"profile {self.variant}: per-sample draws are missing")
        if self.sample_index.min() < 0 or self.sample_index.max() >= self.correct.size:
            raise ProfileError(f"profile {self.variant}: a sample index lies outside the dataset")
        # q(τ)'s weights: sample i's score spread over its own observations (1/N each sample);
        # samples never observed (possible only with custom service passes) take the pooled law
        n = self.correct.size
        seen = np.bincount(self.sample_index, minlength=n)
        weight = self.correct[self.sample_index] / (n * seen[self.sample_index])
        weight += self.correct[seen == 0].sum() / n / self.sample_index.size
        order = np.argsort(self.sample_latency_ns, kind="stable")
        set_("_sorted_latency", self.sample_latency_ns[order])
        set_("_cum_weight", np.concatenate([[0.0], np.cumsum(weight[order])]))

    # -- what it measured ------------------------------------------------------------------
    @property
    def accuracy(self):
        """Quality with no time limit: the mean per-sample score over the dataset."""
        return float(self.correct.mean())

    @property
    def queries(self):
        return int(self.service_ns.size)

    @property
    def mean_service_ns(self):
        return float(self.service_ns.mean())

    @property
    def service_rate(self):
        """Batches per second one server completes when always busy (μ = 1 / mean service)."""
        return 1e9 / self.mean_service_ns

    @property
    def throughput(self):
        """Samples per second of one busy server: batch_size · μ."""
        return self.batch_size * self.service_rate

    def percentile_ns(self, p):
        """Service-time percentile, ``p`` a fraction, LoadGen's convention (sorted[floor(n·p)])."""
        return tailquality.loadgen_percentile(self.service_ns, p)

    def service_cdf(self, tau_ns):
        """Empirical P(service ≤ τ) per query; ``tau_ns`` scalar or array."""
        s = np.sort(self.service_ns)
        return np.searchsorted(s, np.asarray(tau_ns, dtype=np.float64), side="right") / s.size

    def q(self, tau_ns):
        """q(τ) = P(correct ∧ latency ≤ τ) for a uniformly drawn sample on an idle server.

        Estimated as (1/N) Σ_i score_i · Ĝ_i(τ), where Ĝ_i is the empirical distribution of
        sample i's own observed latencies: the joint law, so a variant whose slow samples are
        also its hard ones (long texts) is not credited as if the two were independent, and
        q(∞) equals the accuracy exactly (every sample is observed at least once in the
        AccuracyOnly test). Queueing is not in it: a pool adds waiting on top (the routing
        simulator's job)."""
        tau = np.asarray(tau_ns, dtype=np.float64)
        k = np.searchsorted(self._sorted_latency, tau, side="right")
        return self._cum_weight[k]

    def observations(self):
        """(latency_ns, score) per sample issued in the service passes: the joint draws, for a
        simulator that resamples a job's service time and correctness together (the routing
        room's ``Empirical(times, correct)``). Resampling these rows weighs each sample by how
        often it was drawn; :meth:`q` weighs every sample alike (so q(∞) = accuracy)."""
        return self.sample_latency_ns, self.correct[self.sample_index]

    # -- views -----------------------------------------------------------------------------
    def summary(self):
        """Scalars for tables and JSON: accuracy, service percentiles (ms), throughput."""
        p50, p90, p99 = (float(v) / 1e6 for v in self.percentile_ns([0.5, 0.9, 0.99]))
        return {"variant": self.variant, "family": self.family, "stage": self.stage,
                "batch_size": self.batch_size,
                "threads": self.threads, "scenario": self.scenario, "metric": self.metric,
                "accuracy": self.accuracy, "samples": int(self.correct.size),
                "queries": self.queries, "service_ms": {"mean": self.mean_service_ns / 1e6,
                                                        "p50": p50, "p90": p90, "p99": p99},
                "compute_ms_p50": float(np.median(self.compute_ns)) / 1e6,
                "throughput_per_s": self.throughput,
                "capacity": [c.as_dict() for c in self.capacity]}

    def as_dict(self):
        """Every field, arrays as lists (JSON-able)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for k, v in out.items():
            if isinstance(v, np.ndarray):
                out[k] = v.tolist()
        out["capacity"] = [c.as_dict() for c in self.capacity]
        return out


def extract_profile(*, variant, metric, scenario, batch_size, threads, correct, tests,
                    pass_col, query_seq, sample_index, latency_ns, compute_ns, status,
                    service_passes=None, family=None, capacity=(), source=None, stage=None):
    """The pure step: a captured run's columns → :class:`Profile`. No I/O.

    ``tests``: the run's tests as ``[{"pass", "mode"}]``; the service-time samples come from
    ``service_passes`` (default: every test — in a profile each one issues one query at a time
    to an idle backend). Only ``status == "ok"`` rows count; a query's service time is the
    largest latency among its samples (LoadGen's query latency; a batch completes together)."""
    known = sorted(int(t["pass"]) for t in tests)
    if service_passes is None:
        service_passes = known
    missing = sorted(set(service_passes) - set(known))
    if missing or not service_passes:
        raise ProfileError(f"profile {variant}: service passes {missing or service_passes} are not "
                           "tests of the run; capture it with `tailq profile`")
    pass_col, query_seq = np.asarray(pass_col), np.asarray(query_seq)
    latency_ns, compute_ns = np.asarray(latency_ns), np.asarray(compute_ns)
    sel = np.isin(pass_col, service_passes) & (np.asarray(status) == "ok") & (latency_ns > 0)
    if not sel.any():
        raise ProfileError(f"profile {variant}: no sample of its performance test completed ok")
    keys = pass_col[sel].astype(np.int64) * (int(query_seq.max(initial=0)) + 1) + query_seq[sel]
    uniq, inv = np.unique(keys, return_inverse=True)
    service = np.zeros(uniq.size, dtype=np.int64)
    np.maximum.at(service, inv, latency_ns[sel])
    compute = np.zeros(uniq.size, dtype=np.int64)
    np.maximum.at(compute, inv, np.maximum(compute_ns[sel], 0))
    return Profile(variant=variant, metric=metric, scenario=scenario, batch_size=int(batch_size),
                   threads=threads, correct=correct, service_ns=service, compute_ns=compute,
                   sample_index=np.asarray(sample_index)[sel], sample_latency_ns=latency_ns[sel],
                   family=family, capacity=capacity, source=source, stage=stage)


# -- reading ---------------------------------------------------------------------------------
_INFO_TYPES = {"variant": str, "metric": str, "scenario": str, "batch_size": int,
               "accuracy_pass": int, "service_passes": list, "queries": int, "capacity": list}


def read_profile_info(run_dir):
    """``profile.json`` of ``run_dir``, checked key by key (JSON only: nothing is run)."""
    path = os.path.join(run_dir, PROFILE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        raise ProfileError(f"{run_dir}: not a profile (no {PROFILE_FILE}); capture one with "
                           "`tailq profile`") from None
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path}: unreadable ({exc}); capture the profile again") from None
    if not isinstance(info, dict) or info.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"{path}: not a tailq profile file")
    version = info.get("version")
    if not isinstance(version, int) or version > PROFILE_VERSION:
        raise ProfileError(f"{path}: profile format version {version!r} is newer than this tailq "
                           f"reads ({PROFILE_VERSION}); upgrade tailq")
    for key, kind in _INFO_TYPES.items():
        value = info.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ProfileError(f"{path}: {key} must be {kind.__name__}, got {value!r}")
    for key in ("family", "stage"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise ProfileError(f"{path}: {key} must be a string or null")
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in info["service_passes"]):
        raise ProfileError(f"{path}: service_passes must list pass numbers")
    threads = info.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)):
        raise ProfileError(f"{path}: threads must be an integer or null")
    return info


def _capacity(entries, path):
    out = []
    for entry in entries:
        try:
            if not isinstance(entry, dict):
                raise TypeError("not a mapping")
            out.append(Capacity(**entry))
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{path}: capacity entry {entry!r}: {exc}") from None
    return tuple(out)


def read_correctness_scores(run_dir, total):
    """Per-sample scores from ``correctness.parquet`` (every sample exactly once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(run_dir, CORRECTNESS)
    try:
        table = pq.read_table(path)
        idx = table.column("sample_index").to_numpy()
        score = table.column("score").to_numpy().astype(np.float64)
    except FileNotFoundError:
        raise ProfileError(f"{run_dir}: the profile has no {CORRECTNESS}; capture it again") from None
    except (OSError, KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ProfileError(f"{path}: unreadable ({exc}); capture the profile again") from None
    if idx.size != total or np.unique(idx).size != total or idx.min(initial=0) < 0 \
            or idx.max(initial=-1) >= total:
        raise ProfileError(f"{path}: must hold every one of the run's {total} samples exactly once")
    scores = np.empty(total)
    scores[idx] = score
    return scores


def load_profile(run_dir):
    """Read the profile captured in ``run_dir`` into an immutable :class:`Profile`."""
    from .. import records

    info = read_profile_info(run_dir)
    run = records.load_run(run_dir)
    total = int(run.metadata.get("sample_count") or 0)
    if total <= 0:
        raise ProfileError(f"{run_dir}: the run records no sample count; it is damaged")
    correct = read_correctness_scores(run_dir, total)
    path = os.path.join(run_dir, PROFILE_FILE)
    return extract_profile(
        variant=info["variant"], metric=info["metric"], scenario=info["scenario"],
        batch_size=info["batch_size"], threads=info.get("threads"), correct=correct,
        tests=run.metadata.get("tests", []), pass_col=run["pass"], query_seq=run["query_seq"],
        sample_index=run["sample_index"], latency_ns=run["latency_ns"],
        compute_ns=run["compute_ns"], status=run["status"],
        service_passes=info["service_passes"], family=info.get("family"),
        capacity=_capacity(info["capacity"], path), source=run_dir, stage=info.get("stage"))


def is_profile(path):
    return os.path.isfile(os.path.join(path, PROFILE_FILE))


def profile_dirs(path):
    """The profile run directories at ``path``: itself, or those listed in its index (in the
    order captured), or else any below it, sorted."""
    if is_profile(path):
        return [path]
    if not os.path.isdir(path):
        raise ProfileError(f"{path}: no such directory; give a `tailq profile --out` directory")
    index = os.path.join(path, SET_FILE)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                entries = json.load(f)["profiles"]
            rel = [e["dir"] for e in entries]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProfileError(f"{index}: unreadable index ({exc}); capture again") from None
        for d in rel:
            if not isinstance(d, str) or os.path.isabs(d) or os.path.normpath(d).startswith(".."):
                raise ProfileError(f"{index}: entry {d!r} is not a directory inside {path}")
        return [os.path.join(path, d) for d in rel]
    found = sorted(root for root, _, files in os.walk(path) if PROFILE_FILE in files)
    if not found:
        raise ProfileError(f"{path}: holds no profile; capture one with `tailq profile`")
    return found


def load_profiles(path):
    """Every profile at ``path`` (one run directory or a ``tailq profile --out`` directory)."""
    return tuple(load_profile(d) for d in profile_dirs(path))


def write_profile_info(run_dir, info):
    info = dict(info, format=PROFILE_FORMAT, version=PROFILE_VERSION)
    info.setdefault("created", datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"))
    info.setdefault("capacity", [])
    _write_json(os.path.join(run_dir, PROFILE_FILE), info)


def _write_json(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def format_profiles(profiles):
    """A table of profiles: accuracy, service time percentiles, throughput."""
    head = (f"{'variant':<17} {'batch':>5} {'thr':>3} {'accuracy':>9} {'queries':>7} "
            f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'samples/s':>10}")
    lines = [head, "-" * len(head)]
    for p in profiles:
        s = p.summary()
        ms = s["service_ms"]
        threads = "—" if p.threads is None else p.threads
        lines.append(f"{p.variant:<17} {p.batch_size:>5} {threads!s:>3} {s['accuracy']:>9.4f} "
                     f"{p.queries:>7} {ms['p50']:>8.3f} {ms['p90']:>8.3f} {ms['p99']:>8.3f} "
                     f"{p.throughput:>10.0f}")
    return "\n".join(lines)
