"""The run directory: where each file lives, creating one, and its metadata file.

    RUN/
      metadata.json                       schema version, system, settings, seeds, passes
      samples.parquet                     per dataset item: sample_index, size
      records/pass-00000.parquet          a finalised pass (joined with LoadGen's trace)
      records/pass-00001.partial/seg-*.parquet   a pass still running, or cut off
      loadgen/pass-00000/mlperf_log_*     LoadGen's own files, untouched
"""

import json
import os
import shutil

from .._errors import UserError
from ._io import write_json_atomic
from ._schema import FORMAT_NAME, SCHEMA_VERSION

METADATA = "metadata.json"
SAMPLES = "samples.parquet"
RECORDS = "records"
LOADGEN = "loadgen"


def pass_name(index):
    return f"pass-{int(index):05d}"


def final_path(run_dir, index):
    return os.path.join(run_dir, RECORDS, pass_name(index) + ".parquet")


def partial_dir(run_dir, index):
    return os.path.join(run_dir, RECORDS, pass_name(index) + ".partial")


def loadgen_dir(run_dir, index):
    return os.path.join(run_dir, LOADGEN, pass_name(index))


def create_run_dir(path, overwrite=False):
    """Make an empty run directory; refuse an existing non-empty one unless ``overwrite``."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UserError(f"--out {path}: exists and is not a directory; choose another path")
        if os.listdir(path):
            if not overwrite:
                raise UserError(f"--out {path}: directory exists and is not empty; choose a new "
                                "path or pass --overwrite to replace it")
            if not os.path.exists(os.path.join(path, METADATA)):
                raise UserError(f"--out {path}: not a tailq run directory; refusing to delete "
                                "it even with --overwrite; choose another path")
            shutil.rmtree(path)
    try:
        os.makedirs(os.path.join(path, RECORDS), exist_ok=True)
        os.makedirs(os.path.join(path, LOADGEN), exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot create the run directory ({exc.strerror})") from None
    return path


def write_metadata(run_dir, metadata):
    metadata = dict(metadata, format=FORMAT_NAME, schema_version=SCHEMA_VERSION)
    write_json_atomic(metadata, os.path.join(run_dir, METADATA))


def read_metadata(run_dir):
    path = os.path.join(run_dir, METADATA)
    if not os.path.isdir(run_dir):
        raise UserError(f"{run_dir}: no such run directory; give the --out of a tailq run")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a tailq run directory (no {METADATA}); "
                        "give the --out of a tailq run or use `tailq import`") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable metadata ({exc}); the run directory is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not a tailq run metadata file")
    version = meta.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{path}: invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise UserError(f"{run_dir}: written by a newer tailq (schema {version}, this tailq reads "
                        f"up to {SCHEMA_VERSION}); upgrade tailq-loadgen")
    return meta
