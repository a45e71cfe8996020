"""What ``tailq compare`` refuses before it compares: a "full" run that is no reference, and
an earlier ``compare.json`` it would overwrite."""

import os

from .. import records
from .._errors import UserError


def _inferences(meta):
    """Real inferences of a run's complete AccuracyOnly passes (what a comparison uses)."""
    passes = [t for t in meta.get("tests") or [] if t.get("mode") == "AccuracyOnly"
              and t.get("complete", True)]
    return len(passes) * int(meta.get("sample_count") or 0), len(passes)


def _kind(run_dir):
    try:
        return (records.read_analysis(run_dir).get("workflow") or {}).get("kind")
    except UserError:
        return None


def check_reference(est_dir, full_dir, *, force=False):
    """Refuse (UserError) a full run smaller than the estimate, or one made by ``estimate``:
    a reference must be the larger, independent run. ``--force`` compares anyway."""
    est_n, est_k = _inferences(records.read_metadata(est_dir))
    full_n, full_k = _inferences(records.read_metadata(full_dir))
    if force:
        return
    if full_n < est_n:
        raise UserError(f"{full_dir}: the full run ({full_k} passes, {full_n:,} inferences) is "
                        f"smaller than the estimate {est_dir} ({est_k} passes, {est_n:,} inferences); "
                        "give the `tailq full` run second (or --force)")
    if _kind(full_dir) == "estimate":
        raise UserError(f"{full_dir}: made by `tailq estimate`, not a full reference; compare "
                        "an estimate with a `tailq full` run (or --force)")


def compare_path(est_dir, out=None, *, overwrite=False):
    """Where compare.json goes; an existing one is kept unless ``overwrite``."""
    path = out or os.path.join(est_dir, "compare.json")
    if os.path.exists(path) and not overwrite:
        raise UserError(f"{path}: exists from an earlier comparison; pass --overwrite to "
                        "replace it, or --out another path")
    return path
