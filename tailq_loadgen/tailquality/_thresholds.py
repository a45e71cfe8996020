"""Latency thresholds: absolute times ("50ms", "1.5s", "200us", "120000ns") or percentiles
("p90", "p99.9") of the pooled latencies of the runs at hand."""

import dataclasses
import re

import numpy as np

from ._percentile import loadgen_percentile, percentile

_UNITS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}
_ABS = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s)\s*$")
_PCT = re.compile(r"^\s*p([0-9]*\.?[0-9]+)\s*$")
RULES = ("linear", "loadgen")


class ThresholdError(ValueError):
    """A threshold that makes no sense; the message names it and says what is accepted."""


@dataclasses.dataclass(frozen=True)
class Threshold:
    label: str          # as the user wrote it, normalised ("p99", "50ms")
    kind: str           # "percentile" or "absolute"
    value: float        # percent (0–100] or nanoseconds

    def as_dict(self):
        return dataclasses.asdict(self)


def parse_threshold(text):
    m = _PCT.match(text)
    if m:
        q = float(m.group(1))
        if not 0 < q <= 100:
            raise ThresholdError(f"threshold {text!r}: a percentile must lie in (0, 100], e.g. p99")
        return Threshold(f"p{m.group(1)}", "percentile", q)
    m = _ABS.match(text)
    if m:
        ns = float(m.group(1)) * _UNITS[m.group(2)]
        if not ns > 0 or not np.isfinite(ns):
            raise ThresholdError(f"threshold {text!r}: must be a positive time")
        return Threshold(text.strip(), "absolute", ns)
    raise ThresholdError(f"threshold {text!r}: not understood; write p90, p99.9, 50ms, 1.5s, "
                         "200us or 120000ns")


def parse_thresholds(spec):
    """``"p90,p99,50ms"`` (or a list of such strings) → tuple of Threshold."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    parts = [p for p in (s.strip() for s in parts) if p]
    if not parts:
        raise ThresholdError("no thresholds given; write e.g. p90,p95,p99")
    out = tuple(parse_threshold(p) for p in parts)
    if len({t.label for t in out}) != len(out):
        raise ThresholdError(f"thresholds {spec!r}: one is given twice")
    return out


def resolve_thresholds(thresholds, pooled_latency, rule="linear"):
    """Absolute values (ns) of ``thresholds``; percentiles from ``pooled_latency``.

    ``rule`` "linear" is the package convention; "loadgen" (sorted[floor(n·p)]) gives the
    latency LoadGen itself would report for the same samples.
    """
    if rule not in RULES:
        raise ThresholdError(f"percentile rule {rule!r}: choose one of {', '.join(RULES)}")
    pooled = np.asarray(pooled_latency, dtype=np.float64)
    pooled = pooled[np.isfinite(pooled)]
    out = np.empty(len(thresholds))
    for i, t in enumerate(thresholds):
        if t.kind == "absolute":
            out[i] = t.value
        elif pooled.size == 0:
            raise ThresholdError(f"threshold {t.label}: no latencies to take a percentile of")
        elif rule == "loadgen":
            out[i] = loadgen_percentile(pooled, t.value / 100.0)
        else:
            out[i] = percentile(pooled, t.value)
    return out
