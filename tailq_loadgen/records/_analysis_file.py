"""``analysis.json`` (and other derived JSON results) inside a run directory.

Format history of ``analysis.json`` (``schema_version``):

* 1 — first version (tailq 0.1.0): ``inputs``, ``analysis`` (see docs/analysis.md).
"""

import json
import math
import os

from .._errors import UserError
from ._io import write_json_atomic

ANALYSIS = "analysis.json"
ANALYSIS_FORMAT = "tailq-analysis"
ANALYSIS_SCHEMA_VERSION = 1


def _finite(obj):
    """NaN/inf → None, so that the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _finite(obj.item())
    return obj


def write_result(run_dir, name, fmt, version, payload):
    doc = {"format": fmt, "schema_version": version, **payload}
    path = os.path.join(run_dir, name)
    write_json_atomic(_finite(doc), path)
    return path


def read_result(path, fmt, version, missing="run `tailq analyze` on that run first"):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: not found; {missing}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise UserError(f"{path}: not a {fmt} file")
    if doc.get("schema_version", 0) > version:
        raise UserError(f"{path}: written by a newer tailq; upgrade tailq-loadgen")
    return doc


def write_analysis(run_dir, payload):
    return write_result(run_dir, ANALYSIS, ANALYSIS_FORMAT, ANALYSIS_SCHEMA_VERSION, payload)


def read_analysis(run_dir):
    return read_result(os.path.join(run_dir, ANALYSIS), ANALYSIS_FORMAT, ANALYSIS_SCHEMA_VERSION)
