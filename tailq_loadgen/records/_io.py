"""File helpers shared by the writers and readers.

Writing: every file goes to a unique temporary name, is fsynced and renamed, so a reader never
sees half a file and two writers never share a temporary name; a failed write removes its
temporary file (a full disk gets its space back).

Reading user input (a correctness CSV, an experiment YAML, a metadata file): only regular
files (a FIFO would block forever), bounded in size, decoded as UTF-8 (a UTF-8 byte-order
mark is dropped; UTF-16/32 is named in the error). Every problem is one line naming the file.
"""

import codecs
import json
import math
import os
import stat
import tempfile

import pyarrow.parquet as pq

from .._errors import UserError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone gives 0600


def _tmp_path(path):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                               prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return tmp


def _fsync_and_replace(tmp, path):
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _discard(tmp):
    try:
        os.unlink(tmp)
    except OSError:
        pass


def write_parquet_atomic(table, path):
    tmp = _tmp_path(path)
    try:
        pq.write_table(table, tmp)
        _fsync_and_replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


class AtomicParquetWriter:
    """A ParquetWriter onto a temporary name that becomes ``path`` only on success."""

    def __init__(self, path, schema):
        self.path, self.tmp = path, _tmp_path(path)
        try:
            self._writer = pq.ParquetWriter(self.tmp, schema)
        except BaseException:
            _discard(self.tmp)
            raise

    def write_table(self, table):
        self._writer.write_table(table)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._writer.close()
            if exc_type is None:
                _fsync_and_replace(self.tmp, self.path)
        finally:
            if exc_type is not None or os.path.exists(self.tmp):
                _discard(self.tmp)
        return False


def write_json_atomic(obj, path):
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"
    tmp = _tmp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        _fsync_and_replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def _json_default(o):
    # NumPy scalars reach metadata through settings and counts.
    if hasattr(o, "item"):
        value = o.item()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return value
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# -- reading input ------------------------------------------------------------------------------
def require_regular_file(path, what):
    """``os.stat`` of ``path``; refuses what is missing or not a regular file (FIFO, device, dir)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else \
            "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise UserError(f"{what} {path}: is {kind}; give a regular file")
    return st


def _refuse_other_encodings(head, path, what):
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if head.startswith(bom):
            raise UserError(f"{what} {path}: the file is {name}-encoded; save it as UTF-8")
    if b"\x00" in head[:4096]:
        raise UserError(f"{what} {path}: holds NUL bytes (UTF-16 without a byte-order mark, or "
                        "binary data); save it as UTF-8 text")


def read_text(path, what, max_bytes=16 * 2**20):
    """The whole text of a small input file (YAML, JSON), decoded as described above."""
    st = require_regular_file(path, what)
    if st.st_size > max_bytes:
        raise UserError(f"{what} {path}: {st.st_size:,} bytes; a file of this kind is at most "
                        f"{max_bytes:,} bytes — is it the right file?")
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise UserError(f"{what} {path}: larger than {max_bytes:,} bytes")
    _refuse_other_encodings(data, path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"{what} {path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                        "save the file as UTF-8") from None


class TextLines:
    """A UTF-8 input file as text lines, for ``csv`` and line parsers; decode errors and a
    size beyond ``max_bytes`` become one-line errors naming the file and line."""

    def __init__(self, path, what, max_bytes=2**34):
        self.path, self.what = path, what
        st = require_regular_file(path, what)
        if st.st_size > max_bytes:
            raise UserError(f"{what} {path}: {st.st_size:,} bytes, more than the {max_bytes:,} "
                            "this input may have")
        try:
            self._raw = open(path, "rb")
        except OSError as exc:
            raise UserError(f"{what} {path}: cannot read it ({exc.strerror})") from None
        _refuse_other_encodings(self._raw.peek(4096)[:4096], path, what)
        self._file = codecs.getreader("utf-8-sig")(self._raw, errors="strict")
        self.lineno = 0

    def __iter__(self):
        return self

    def __next__(self):
        try:
            line = self._file.readline()
        except UnicodeDecodeError:
            raise UserError(f"{self.what} {self.path}:{self.lineno + 1}: not UTF-8 text; save "
                            "the file as UTF-8") from None
        if not line:
            raise StopIteration
        self.lineno += 1
        return line

    def close(self):
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def read_json(path, what, max_bytes=64 * 2**20):
    """A JSON document from a regular file of at most ``max_bytes``: strict JSON (no NaN),
    bounded nesting; every failure one line naming the file."""
    text = read_text(path, what, max_bytes)
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise UserError(f"{what} {path}: nested too deeply to be a tailq file") from None
    except ValueError as exc:
        raise UserError(f"{what} {path}: not valid JSON ({str(exc)[:200]})") from None
