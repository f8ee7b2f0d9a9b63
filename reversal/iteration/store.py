"""Where iterations live: one folder each under the artifacts root, and the project lock.

``artifacts/<slice>-<UTC stamp>/`` holds ``state.json``, ``timeline.md``, ``manifest.json``
(file -> sha256), ``run.log`` and the step artifacts. One iteration may run per project at a
time: ``artifacts/.lock`` is held with ``flock`` for the life of the process (the kernel
releases it when the process dies, even by SIGKILL), and names its holder for the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reversal.errors import InputError, LockHeld
from reversal.evidence.files import utc_stamp, write_json
from reversal.evidence.verify import MANIFEST, STATE, UNHASHED
from reversal.iteration.state import IterationState


class IterationStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- lock ---------------------------------------------------------------------------
    @contextmanager
    def exclusive_lock(self, holder: str) -> Iterator[None]:
        """Hold the project lock or raise ``LockHeld`` naming who has it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
                raise LockHeld(
                    f"another iteration holds the project lock ({path}): {who}. Wait for it to "
                    "finish, or check that process; the lock is released when it exits."
                ) from None
            info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "holder": holder})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- iterations ---------------------------------------------------------------------
    def new_folder(self, slice_name: str, now_ms: int) -> Path:
        base = f"{slice_name}-{utc_stamp(now_ms)}"
        folder, n = self.root / base, 1
        while folder.exists():
            n += 1
            folder = self.root / f"{base}-{n}"
        folder.mkdir(parents=True)
        return folder

    def folder(self, iteration: str) -> Path:
        return self.root / iteration

    def save(self, state: IterationState) -> None:
        write_json(self.folder(state.iteration) / STATE, state.to_json())

    def load(self, iteration: str) -> IterationState:
        path = self.folder(iteration) / STATE
        if not path.is_file():
            raise InputError(
                f"{path}: no such iteration; 'reversal status' lists the iterations under "
                f"{self.root}."
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: state file is not valid JSON ({exc}).") from None
        return IterationState.from_json(data, str(path))

    def scan(self) -> tuple[list[IterationState], list[str]]:
        """Every readable iteration, oldest first, and one message per unreadable state file:
        a corrupt iteration is named, never allowed to block the others."""
        if not self.root.is_dir():
            return [], []
        states, broken = [], []
        for path in sorted(self.root.glob(f"*/{STATE}")):
            try:
                states.append(self.load(path.parent.name))
            except InputError as exc:
                broken.append(str(exc))
        return sorted(states, key=lambda s: (s.created_ms, s.iteration)), broken

    def all(self) -> list[IterationState]:
        return self.scan()[0]

    # -- manifest -----------------------------------------------------------------------
    def write_manifest(self, iteration: str) -> Path:
        folder = self.folder(iteration)
        files = {
            p.name: _sha256(p)
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in UNHASHED and not p.name.startswith(".")
        }
        return write_json(folder / MANIFEST, {"iteration": iteration, "sha256": files})


def verify_manifest(folder: Path) -> list[str]:
    """Problems with ``manifest.json`` in ``folder``: missing files, hash mismatches."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    for name, digest in manifest["sha256"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed but missing")
        elif _sha256(path) != digest:
            problems.append(f"{name}: sha256 does not match")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
