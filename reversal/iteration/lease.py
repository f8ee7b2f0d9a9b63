"""A lease on the Vercel project, so two checkouts (or two operators) never run at once.

The folder lock (``store.exclusive_lock``) only sees one ``artifacts/``. The lease lives on the
platform itself, like Terraform's remote state lock: an env var ``REVERSAL_LOCK`` for the
``development`` target only (no production build reads it), created *without* upsert, so the
create fails with ``ENV_ALREADY_EXISTS`` when someone holds it. Its value names the holder,
host, pid, iteration and expiry; a thread renews it while the command runs, and it is deleted
at the end. An expired lease, or one whose holder was a process of this host that no longer
exists (SIGKILL), is broken by the next taker; ``reversal unlock --force`` breaks a live one
whose holder is known dead on another machine.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

from reversal.errors import LockHeld
from reversal.evidence.files import utc_iso

LEASE_KEY = "REVERSAL_LOCK"
LEASE_TARGET = "development"
TTL_S = 600.0
CONFLICT_CODES = frozenset({"ENV_ALREADY_EXISTS", "ENV_CONFLICT"})


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    host: str
    pid: int
    iteration: str | None
    expires_ms: int
    nonce: str

    def value(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def describe(self) -> str:
        return (f"{self.holder} on {self.host} (pid {self.pid}"
                + (f", iteration {self.iteration}" if self.iteration else "")
                + f"), lease until {utc_iso(self.expires_ms)}")

    def dead_here(self) -> bool:
        """Held by a process of this host that no longer exists (killed): safe to break."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    @classmethod
    def parse(cls, value: str | None) -> LeaseRecord | None:
        try:
            return cls(**json.loads(value or ""))
        except (ValueError, TypeError):
            return None


def _conflict(exc: Exception) -> bool:
    from reversal.platform.vercel import VercelError

    return isinstance(exc, VercelError) and (exc.code in CONFLICT_CODES or exc.status == 409)


class ProjectLease:
    def __init__(self, client: Any, holder: str, *, iteration: str | None = None,
                 ttl_s: float = TTL_S, wall_ms: Callable[[], int] = _wall_ms) -> None:
        self.client, self.holder, self.iteration = client, holder, iteration
        self.ttl_s, self.wall_ms = ttl_s, wall_ms
        self.nonce = secrets.token_hex(8)
        self.env_id: str | None = None

    def _record(self) -> LeaseRecord:
        return LeaseRecord(self.holder, socket.gethostname(), os.getpid(), self.iteration,
                           self.wall_ms() + int(self.ttl_s * 1000), self.nonce)

    def current(self) -> tuple[str, LeaseRecord | None] | None:
        """The lease on the project now: its env id and record (None if unreadable)."""
        env = self.client.find_env(LEASE_KEY, LEASE_TARGET)
        return None if env is None else (env.id, LeaseRecord.parse(env.value))

    def acquire(self) -> None:
        """Take the lease, breaking it only when expired; ``LockHeld`` names a live holder."""
        for _ in range(2):
            try:
                self.env_id = self.client.create_env(LEASE_KEY, self._record().value(),
                                                     target=(LEASE_TARGET,), upsert=False).id
                return
            except Exception as exc:
                if not _conflict(exc):
                    raise
            found = self.current()
            if found is None:
                continue
            env_id, record = found
            if record is not None and record.nonce == self.nonce:  # our own create's lost answer
                self.env_id = env_id
                return
            if record is not None and record.expires_ms > self.wall_ms() and not record.dead_here():
                raise LockHeld(
                    f"the Vercel project is leased by another iteration: {record.describe()}. "
                    "Wait for it to finish; if that process is dead, 'reversal unlock --force' "
                    "breaks the lease."
                )
            self.client.delete_env(env_id)  # expired (or unreadable): break it, create once more
        raise LockHeld("the Vercel project lease changed hands while it was being taken; try again.")

    def renew(self) -> None:
        if self.env_id is not None:
            self.client.edit_env(self.env_id, self._record().value())

    def release(self) -> None:
        """Delete the lease if it is still ours (an expired lease may have been taken over)."""
        found = self.current()
        if found is not None and found[1] is not None and found[1].nonce == self.nonce:
            self.client.delete_env(found[0])
        self.env_id = None


@contextmanager
def held(lease: ProjectLease) -> Iterator[ProjectLease]:
    """Hold ``lease`` for the block, renewing it from a thread every third of its life."""
    lease.acquire()
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.ttl_s / 3):
            try:
                lease.renew()
            except Exception:  # the next renewal tries again; the expiry leaves room for two misses
                continue

    thread = threading.Thread(target=renew, name="reversal-lease", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(5)
        with suppress(Exception):  # the lease expires by itself; never hide the block's own outcome
            lease.release()
