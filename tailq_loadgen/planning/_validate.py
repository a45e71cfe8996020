"""Argument checks shared by the planners: each names the bad argument in one line."""

import math

import numpy as np

from ._errors import MissingProfileError, PlanningError

SOLVERS = ("milp", "enumerate")


def positive(value, name, integer=False, allow_none=False):
    if value is None and allow_none:
        return None
    ok_type = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, ok_type) or not math.isfinite(value) \
            or value <= 0:
        kind = "a positive integer" if integer else "a positive, finite number"
        raise PlanningError(f"{name} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


def fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise PlanningError(f"{name} must lie in (0, 1], got {value!r}")
    return float(value)


def solver_name(solver):
    if solver not in SOLVERS:
        raise PlanningError(f"solver {solver!r}: choose one of {', '.join(SOLVERS)}")
    return solver


def int_set(values, name, minimum=1):
    try:
        out = sorted({int(v) for v in values})
    except (TypeError, ValueError):
        raise PlanningError(f"{name} must be integers ≥ {minimum}, got {values!r}") from None
    if not out or out[0] < minimum or any(int(v) != v for v in values):
        raise PlanningError(f"{name} must be integers ≥ {minimum}, got {values!r}")
    return tuple(out)


def restrict(by_stage, variants):
    """Keep only the named variants; every name must have a profile and every stage one left."""
    if variants is None:
        return by_stage
    names = [variants] if isinstance(variants, str) else list(variants)
    known = {p.name for ps in by_stage.values() for p in ps}
    for n in names:
        if n not in known:
            raise MissingProfileError(f"variant {n!r}: no profile for it (profiled: "
                                      f"{', '.join(sorted(known))}); profile it or drop it")
    out = {s: [p for p in ps if p.name in names] for s, ps in by_stage.items()}
    for s, ps in out.items():
        if not ps:
            raise MissingProfileError(f"stage {s!r}: none of the variants {names} belongs to it")
    return out
