"""The run directory and its one owner while it is written: ``RunDirectory``.

    RUN/
      metadata.json                       typed, versioned metadata (written first, kept current)
      samples.parquet                     per dataset item: sample_index, size
      records/pass-00000.parquet          a finalised pass (joined with LoadGen's trace)
      records/pass-00001.partial/seg-*.parquet   a pass still running, or cut off
      quality/pass-00000.parquet          what the metric needs for that pass (scores, labels)
      loadgen/pass-00000/mlperf_log_*     LoadGen's own files, untouched

Every writer — capture and import alike — goes through ``RunDirectory``: it validates the
metadata before touching the disk, creates the directory and writes the metadata first,
holds an advisory lock (``flock`` on the directory itself) for the run's whole life, so a
second writer or an ``--overwrite`` cannot enter a live run, and ends with a status taken
from what happened: ``complete``, ``aborted`` (the watchdog), ``interrupted`` (Ctrl-C,
SIGTERM) or ``failed`` with the reason — never ``complete`` after an exception. A small
reserve file keeps room for that last metadata write when the disk fills up.
"""

import datetime
import errno
import fcntl
import os
import shutil
import sys

import numpy as np

from .._errors import RunAborted, RunFailed, UserError
from ._io import read_json, write_json_atomic, write_parquet_atomic
from ._metadata import MetadataError, to_json, validate
from ._migrate import migrate
from ._schema import FORMAT_NAME, SAMPLES_SCHEMA, SCHEMA_VERSION, build_table

METADATA = "metadata.json"
SAMPLES = "samples.parquet"
RECORDS = "records"
LOADGEN = "loadgen"
QUALITY = "quality"
EVERY_PASS = "every-pass.parquet"
RESERVE = ".tailq-reserve"
RESERVE_BYTES = 2 * 2**20
_SKELETON = {RECORDS, LOADGEN, QUALITY, RESERVE}


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def pass_name(index):
    return f"pass-{int(index):05d}"


def final_path(run_dir, index):
    return os.path.join(run_dir, RECORDS, pass_name(index) + ".parquet")


def partial_dir(run_dir, index):
    return os.path.join(run_dir, RECORDS, pass_name(index) + ".partial")


def loadgen_dir(run_dir, index):
    return os.path.join(run_dir, LOADGEN, pass_name(index))


def quality_path(run_dir, index=None):
    return os.path.join(run_dir, QUALITY, EVERY_PASS if index is None else pass_name(index) + ".parquet")


# -- reading ------------------------------------------------------------------------------------
def read_metadata(run_dir):
    """The validated metadata of ``run_dir``, migrated to the current schema version."""
    if not os.path.isdir(run_dir):
        raise UserError(f"{run_dir}: no such run directory; give the --out of a tailq run")
    path = os.path.join(run_dir, METADATA)
    if not os.path.lexists(path):
        raise UserError(f"{run_dir}: not a tailq run directory (no {METADATA}); "
                        "give the --out of a tailq run or use `tailq import`")
    meta = read_json(path, "run metadata")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not a tailq run metadata file")
    version = meta.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"{path}: invalid schema_version {version!r}; the run directory is damaged")
    if version > SCHEMA_VERSION:
        raise UserError(f"{run_dir}: written by a newer tailq (schema {version}, this tailq reads "
                        f"up to {SCHEMA_VERSION}); upgrade tailq-loadgen")
    try:
        meta = migrate(meta, set(os.listdir(run_dir)), SCHEMA_VERSION)
        return validate(meta)
    except MetadataError as exc:
        raise UserError(f"{path}: {exc}; the run directory is damaged") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UserError(f"{path}: cannot be read as schema {version} ({type(exc).__name__}); "
                        "the run directory is damaged") from None


def is_live(run_dir):
    """Whether a tailq process holds ``run_dir``'s lock now (it is being written)."""
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _inside(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _holder_pid(path):
    try:
        meta = read_json(os.path.join(path, METADATA), "run metadata")
        pid = meta.get("writer_pid") if isinstance(meta, dict) else None
        return pid if isinstance(pid, int) else None
    except UserError:
        return None


def _ours(path, entries):
    """A directory tailq wrote: it has tailq metadata, or only the skeleton tailq creates
    before its first metadata write (an older tailq could crash in that window)."""
    meta = os.path.join(path, METADATA)
    if METADATA in entries and os.path.isfile(meta):
        try:
            doc = read_json(meta, "run metadata")
            return isinstance(doc, dict) and doc.get("format") == FORMAT_NAME
        except UserError:
            return False
    for e in entries:
        full = os.path.join(path, e)
        if e.endswith(".tmp") and os.path.isfile(full):
            continue
        if e not in _SKELETON or (os.path.isdir(full) and not os.path.islink(full) and os.listdir(full)):
            return False
    return True


def _clear(path, entries):
    for e in entries:
        full = os.path.join(path, e)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


# -- writing ------------------------------------------------------------------------------------
class RunDirectory:
    """The one writer of a run directory, from its creation to its final status.

    Use as a context manager, or call ``finish``: leaving the ``with`` block on an exception
    records ``interrupted`` (KeyboardInterrupt, SIGTERM), the RunAborted/RunFailed status,
    or ``failed`` with the exception's one-line reason; a clean exit records ``complete``.
    """

    def __init__(self, path, meta, fd):
        self.path, self.meta, self._fd = path, meta, fd
        self.finished = False

    # creation
    @classmethod
    def create(cls, path, meta, *, overwrite=False, inputs=(), flag="--out"):
        """Lock ``path`` (creating it), refuse what must not be replaced, write ``meta`` first.

        ``inputs``: files and directories the run reads; none may lie inside ``path`` when
        ``--overwrite`` would delete it. Raises UserError before anything is deleted.
        """
        meta = dict(meta, format=FORMAT_NAME, schema_version=SCHEMA_VERSION, writer_pid=os.getpid(),
                    status="running", status_reason=None, complete=False, ended=None)
        meta.setdefault("started", now())
        meta.setdefault("warnings", [])
        meta.setdefault("tests", [])
        try:
            meta = to_json(meta)
            validate(meta)
        except MetadataError as exc:
            raise UserError(f"{exc}; fix the input it came from") from None
        if os.path.lexists(path) and not os.path.isdir(path):
            raise UserError(f"{flag} {path}: exists and is not a directory; choose another path")
        if overwrite:
            for item in inputs:
                if item and os.path.lexists(item) and _inside(item, path):
                    raise UserError(f"{flag} {path}: the input {item} lies inside it; "
                                    "--overwrite would delete it before it is read — write the "
                                    "run somewhere else")
        try:
            os.makedirs(path, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise UserError(f"{flag} {path}: cannot create the run directory ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _holder_pid(path)
            raise UserError(f"{flag} {path}: another tailq process{f' (pid {pid})' if pid else ''} "
                            "is writing this run directory; wait for it to finish or choose "
                            "another path") from None
        try:
            entries = os.listdir(path)  # looked at under the lock: no one can change it now
            if entries:
                if not overwrite:
                    raise UserError(f"{flag} {path}: directory exists and is not empty; choose a "
                                    "new path or pass --overwrite to replace it")
                if not _ours(path, entries):
                    raise UserError(f"{flag} {path}: not a tailq run directory; refusing to delete "
                                    "it even with --overwrite; choose another path")
                _clear(path, entries)
            for sub in (RECORDS, LOADGEN, QUALITY):
                os.mkdir(os.path.join(path, sub))
            self = cls(path, meta, fd)
            self._write_reserve()
            self.write_metadata()
        except UserError:
            os.close(fd)
            raise
        except OSError as exc:
            os.close(fd)
            raise UserError(f"{flag} {path}: cannot write the run directory ({exc.strerror})") from None
        return self

    def _write_reserve(self):
        # Room for the final metadata write even when the disk fills up during the run.
        path = os.path.join(self.path, RESERVE)
        with open(path, "wb") as f:
            f.write(b"\0" * RESERVE_BYTES)
            f.flush()
            os.fsync(f.fileno())

    def _drop_reserve(self):
        try:
            os.unlink(os.path.join(self.path, RESERVE))
        except OSError:
            pass

    # metadata
    def update(self, **keys):
        self.meta.update(keys)
        self.write_metadata()

    def write_metadata(self):
        """Validate and write the metadata (atomically). A validation failure is a bug here."""
        doc = validate(to_json(self.meta))
        try:
            write_json_atomic(doc, os.path.join(self.path, METADATA))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._drop_reserve()  # the disk is full: spend the reserve on what matters most
            write_json_atomic(doc, os.path.join(self.path, METADATA))

    # files
    def write_samples(self, sizes):
        n = len(sizes)
        write_parquet_atomic(build_table(SAMPLES_SCHEMA, sample_index=np.arange(n, dtype=np.int64),
                                         size=np.asarray(sizes, dtype=np.float64)),
                             os.path.join(self.path, SAMPLES))

    def write_quality(self, index, metric, source, count=None):
        """Store what ``metric`` needs for pass ``index`` (None: for every pass)."""
        from ._quality import write_quality

        write_quality(self, index, metric, source, count)

    # the end
    def finish(self, status="complete", reason=None, **keys):
        """Write the final status and release the lock (idempotent)."""
        if self.finished:
            return
        self.meta.update(keys)
        self.meta.update(status=status, status_reason=reason, complete=status == "complete",
                         ended=now())
        try:
            self._drop_reserve()
            self.write_metadata()
        except OSError as exc:  # nothing more can be done; say it where the user looks
            print(f"tailq: error: could not record the final status {status!r} of {self.path} "
                  f"({exc.strerror or exc}); its metadata.json is out of date", file=sys.stderr)
        finally:
            self.finished = True
            self.release()

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def finish_from(self, exc):
        """The status an exception (or None) means, written; returns (status, reason)."""
        status, reason = status_of(exc)
        self.finish(status, reason)
        return status, reason

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.finished:
            self.finish_from(exc)
        return False


def one_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def status_of(exc):
    """(status, reason) for how a run ended: no exception → complete."""
    if exc is None:
        return "complete", None
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", str(exc) or "interrupted by Ctrl-C (SIGINT)"
    if isinstance(exc, RunAborted):
        return ("interrupted" if exc.exit_code == 130 else "aborted"), str(exc)
    if isinstance(exc, (RunFailed, UserError)):
        return "failed", str(exc)[:2000]
    return "failed", one_line(exc)
