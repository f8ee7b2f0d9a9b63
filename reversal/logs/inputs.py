"""Opening a log input: whatever the operator passes, the readers get a seekable regular file.

The readers sniff the head, then reopen and seek (and attribution splits large exports into
byte ranges). A pipe (``<(zcat x.gz)``), ``/dev/stdin`` or a FIFO can be read only once and
not sought, and a ``.gz`` export cannot be sought cheaply: those are copied once, decoded, to a
private temporary file that every later open of the same input reuses. Regular uncompressed
files are used in place. Temporary copies are removed when the process exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from reversal.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
_COPY_BLOCK = 1 << 20

_copies: dict[tuple, Path] = {}
_tmpdir: Path | None = None


def _workdir() -> Path:
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = Path(tempfile.mkdtemp(prefix="reversal-inputs-"))
        atexit.register(shutil.rmtree, _tmpdir, True)
    return _tmpdir


def _unreadable(path: Path, exc: OSError) -> InputError:
    return InputError(f"{path}: cannot read the log file ({exc.strerror or exc}).")


def _spool(path: Path, source: BinaryIO) -> Path:
    """Copy ``source`` (decompressing gzip) to a private temp file, reading it exactly once."""
    import gzip
    import io

    buffered = source if hasattr(source, "peek") else io.BufferedReader(source)  # type: ignore[arg-type]
    compressed = buffered.peek(2)[:2] == GZIP_MAGIC  # type: ignore[attr-defined]
    reader: BinaryIO = gzip.GzipFile(fileobj=buffered, mode="rb") if compressed else buffered  # type: ignore[assignment]
    fd, name = tempfile.mkstemp(prefix="input-", dir=_workdir())
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(reader, out, _COPY_BLOCK)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        Path(name).unlink(missing_ok=True)
        raise InputError(f"{path}: not a valid gzip file ({exc or 'truncated'}); expected a "
                         "gzip-compressed log export, or the uncompressed file.") from None
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise _unreadable(path, exc) from None
    return Path(name)


def regular_file(path: Path) -> Path:
    """A seekable regular file holding the (decompressed) content of ``path``."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path}: is a folder; expected a log file.")
        if stat.S_ISREG(info.st_mode):
            with open(path, "rb") as handle:
                if handle.read(2) != GZIP_MAGIC:
                    return path
            key: tuple = (str(path), info.st_mtime_ns, info.st_size)
        else:
            key = (str(path), info.st_dev, info.st_ino)
        if key not in _copies:
            with open(path, "rb", buffering=0) as source:
                _copies[key] = _spool(path, source)  # type: ignore[arg-type]
        return _copies[key]
    except OSError as exc:
        raise _unreadable(path, exc) from None


def open_input(path: Path) -> BinaryIO:
    """A binary handle on the content of ``path`` (see ``regular_file``); errors name ``path``."""
    source = regular_file(path)
    try:
        return source.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc) from None
