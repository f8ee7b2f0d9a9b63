"""Atomic artifact writes and the UTC stamps artifact names carry.

An artifact is either fully written or absent: temp file in the same folder, fsync, rename.
A crash never leaves a half-written JSON file that a resumed run would trust. JSON and text
artifacts are scrubbed of secrets on the way out (``reversal.redact``); raw byte streams
(captured exports) are written as received.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

ENV_FIX_PREFIX = "env-fix-"
"""Evidence folders of ``reversal env fix`` under the artifacts root (beside the iterations)."""
ENV_FIX_STATE = "fix-state.json"  # not state.json: iteration scans must not take it for one
ENV_FIX_RESULT = "env-fix.json"
"""What an ``env fix`` run wrote, redeployed and found on re-audit (written when it ends)."""


def env_fix_states(root: Path) -> list[Path]:
    """The state files of the ``env fix`` runs under ``root``, newest first."""
    return sorted(root.glob(f"{ENV_FIX_PREFIX}*/{ENV_FIX_STATE}"), reverse=True)


def utc_stamp(ms: int) -> str:
    """``2026-02-18T03-16-31Z``: the file-name-safe UTC stamp used in artifact names."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def utc_iso(ms: int) -> str:
    """``2026-02-18T03:16:31.123Z``: the stamp used inside artifacts."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def check_target(path: Path | None, option: str = "--out") -> Path | None:
    """Refuse, before any work is done, an output path that can never be written: a folder,
    or a path under a file. (Permissions and free space are only known when writing.)"""
    from reversal.errors import InputError

    if path is None:
        return None
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; expected a file path to write the JSON to.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{option} {path}: {parent} is a file, not a folder; choose another path.")
            break
    return path


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary handle whose content appears at ``path`` only once it is complete and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, data: bytes) -> Path:
    with atomic_writer(path) as handle:
        handle.write(data)
    return path


def write_json(path: Path, obj: Any) -> Path:
    from reversal.redact import scrub, scrub_obj

    text = json.dumps(scrub_obj(obj), indent=2, sort_keys=False, ensure_ascii=False,
                      default=lambda o: scrub(str(o))) + "\n"
    return write_atomic(path, text.encode("utf-8"))


def write_text(path: Path, text: str) -> Path:
    from reversal.redact import scrub

    return write_atomic(path, scrub(text).encode("utf-8"))
