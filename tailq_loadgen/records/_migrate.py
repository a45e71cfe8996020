"""Old run directories, read as the current version: one migration per schema step.

``MIGRATIONS[v]`` turns a version-``v`` metadata document into version ``v + 1``; the reader
applies them in turn, so a directory of any older version reads as the newest. Record files
are not rewritten: columns added by a later version read back as nulls (``_reader.py``).
Migrations only reshape data; they never run anything named in it.
"""

LEGACY_CORRECTNESS = "correctness.parquet"  # schema 1: scores of an imported run


def source_args(source):
    """The arguments of a schema-1 ``harness.source`` (or of a harness's ``source``), as data."""
    if isinstance(source, dict) and isinstance(source.get("args"), dict):
        return dict(source["args"])
    return None


def source_text(source):
    """Schema 1 stored ``{"harness": name, "args": {...}}``; schema 2 keeps it as text only."""
    if source is None or isinstance(source, str):
        return source
    if isinstance(source, dict):
        args = source.get("args") if isinstance(source.get("args"), dict) else {}
        words = [str(source.get("harness"))] + [f"{k}={v}" for k, v in sorted(args.items(), key=str)]
        return " ".join(words)[:10_000]
    return str(source)[:10_000]


def _v1_to_v2(meta, files):
    meta = dict(meta)
    meta["schema_version"] = 2
    meta["origin"] = "import" if meta.pop("imported", False) is True else "capture"
    meta["status_reason"] = meta.pop("abort_reason", None)
    if meta.get("status") == "aborted" and isinstance(meta["status_reason"], str) \
            and meta["status_reason"].startswith("interrupted"):
        meta["status"] = "interrupted"
    flags = None
    if isinstance(meta.get("harness"), dict):
        harness = dict(meta["harness"])
        source = harness.get("source")
        if isinstance(source, dict) and isinstance(source.get("harness"), str):
            args = source.get("args") if isinstance(source.get("args"), dict) else {}
            flags = " ".join([f"--harness {source['harness']}"]
                             + [f"--harness-arg {k}={v}" for k, v in sorted(args.items(), key=str)])
        harness["source"] = source_text(source)
        harness.setdefault("args", source_args(source))
        meta["harness"] = harness
    meta.setdefault("warnings", [])
    if LEGACY_CORRECTNESS in files:
        harness = meta.get("harness") if isinstance(meta.get("harness"), dict) else {}
        meta["quality"] = {"metric": harness.get("metric") or "score", "kind": "scores",
                           "params": {}, "source": "correctness file (schema 1)",
                           "passes": [], "every_pass": True}
        meta["quality_note"] = None
    else:
        meta["quality"] = None
        meta["quality_note"] = (
            "written by tailq schema 1, which stored no scores for captured runs; to score it, "
            "import its LoadGen directories with the harness named on the command line: "
            f"tailq import RUN/loadgen/pass-* {(flags or '--harness NAME')[:500]} --out NEW")
    return meta


MIGRATIONS = {1: _v1_to_v2}


def migrate(meta, files, target):
    """``meta`` of any version ≤ ``target``, as version ``target`` (``files``: top-level names)."""
    while meta["schema_version"] < target:
        meta = MIGRATIONS[meta["schema_version"]](meta, files)
    return meta
