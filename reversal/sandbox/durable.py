"""The durable worker: Inngest runs and the WebhookEvent queue, written to the run ledger.

Work handed over by the app is turned into timed ledger writes (simulated time): a run is
RUNNING a moment after dispatch, then SUCCEEDED a few seconds later, or FAILED with
``Invalid signature`` (plus an ``inngest/function.failed`` event) when the serving
deployment's signing key is not clean. One thread owns the database connection; the tables
are the app's (``reversal.platform.ledger_schema``), in SQLite or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import random
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from reversal.clock import ScaledClock
from reversal.platform.ledger_schema import POSTGRES_DDL, SQLITE_DDL
from reversal.sandbox.app import INVALID_SIGNATURE, DurableWork, iso, ulid
from reversal.sandbox.platform import Platform

SQLITE_PREFIX = "sqlite://"


def sqlite_url(path: str) -> str:
    """``sqlite:////abs/path.sqlite``: SQLAlchemy's absolute form, also right for naive parsers."""
    return SQLITE_PREFIX + "/" + path


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite://`` URL (``sqlite:////abs`` and ``sqlite:///abs`` both absolute)."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    rest = url[len(SQLITE_PREFIX):]
    return "/" + rest.lstrip("/") if rest.startswith("/") else rest


class Ledger:
    """Writes ledger rows; SQLite stores ISO-8601 ``...Z`` text, PostgreSQL TIMESTAMP(3)."""

    def __init__(self, url: str) -> None:
        self.sqlite = sqlite_path(url)
        if self.sqlite is not None:
            self.conn: Any = sqlite3.connect(self.sqlite, isolation_level=None, check_same_thread=False)
            self.conn.executescript(SQLITE_DDL)
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            exists = self.conn.execute("SELECT to_regclass('\"BackgroundFunctionRun\"')").fetchone()[0]
            if exists is None:
                self.conn.execute(POSTGRES_DDL)

    def _ts(self, ms: int | None) -> Any:
        if ms is None:
            return None
        return iso(ms) if self.sqlite is not None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        if self.sqlite is None:
            sql = sql.replace("?", "%s")
        self.conn.execute(sql, params)

    def run_started(self, row_id: str, work: DurableWork, run_id: str, at_ms: int) -> None:
        self._exec(
            'INSERT INTO "BackgroundFunctionRun" ("id", "runKey", "functionName", "runId", "status", '
            '"attempt", "dispatchKey", "correlationId", "requestedAt", "startedAt", "createdAt", '
            '"updatedAt") VALUES (?, ?, ?, ?, \'RUNNING\', 1, ?, ?, ?, ?, ?, ?)',
            (row_id, f"{work.name}:{work.key}", work.name, run_id, work.key, work.correlation_id,
             self._ts(work.requested_ms), self._ts(at_ms), self._ts(at_ms), self._ts(at_ms)))

    def run_finished(self, row_id: str, started_ms: int, at_ms: int, error: str | None) -> None:
        self._exec(
            'UPDATE "BackgroundFunctionRun" SET "status" = ?, "finishedAt" = ?, "durationMs" = ?, '
            '"lastError" = ?, "updatedAt" = ? WHERE "id" = ?',
            ("FAILED" if error else "SUCCEEDED", self._ts(at_ms), at_ms - started_ms, error,
             self._ts(at_ms), row_id))

    def webhook_enqueued(self, row_id: str, work: DurableWork, at_ms: int) -> None:
        payload = json.dumps(dict(work.event.get("payload", {})))
        self._exec(
            'INSERT INTO "WebhookEvent" ("id", "provider", "eventType", "dedupeKey", "status", "runAt", '
            '"attempts", "payload", "createdAt", "updatedAt") VALUES (?, \'INBOXXIA\', ?, ?, \'PENDING\', '
            "?, 0, ?, ?, ?)",
            (row_id, work.name, work.key, self._ts(at_ms), payload, self._ts(at_ms), self._ts(at_ms)))

    def webhook_status(self, row_id: str, status: str, at_ms: int) -> None:
        if status == "RUNNING":
            self._exec('UPDATE "WebhookEvent" SET "status" = \'RUNNING\', "attempts" = "attempts" + 1, '
                       '"lockedAt" = ?, "lockedBy" = \'sandbox-worker\', "updatedAt" = ? WHERE "id" = ?',
                       (self._ts(at_ms), self._ts(at_ms), row_id))
        else:
            self._exec('UPDATE "WebhookEvent" SET "status" = ?, "lockedAt" = NULL, "lockedBy" = NULL, '
                       '"updatedAt" = ? WHERE "id" = ?', (status, self._ts(at_ms), row_id))

    def close(self) -> None:
        self.conn.close()


class DurableWorker:
    """Executes timed ledger writes as the compressed clock reaches them (one thread)."""

    def __init__(self, database_url: str, platform: Platform, clock: ScaledClock, rng: random.Random) -> None:
        self.database_url, self.platform, self.clock, self.rng = database_url, platform, clock, rng
        self._heap: list[tuple[int, int, Callable[[Ledger], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="sandbox-durable-worker")

    def start(self) -> None:
        self.thread.start()
        self._ready.wait()
        if self._error is not None:
            self.thread.join()
            raise self._error

    def _at(self, due_ms: int, action: Callable[[Ledger], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due_ms, next(self._seq), action))
            self._cond.notify()

    def _row_id(self) -> str:
        return "c" + "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))

    def submit(self, work: DurableWork) -> None:
        t = work.requested_ms
        row_id = self._row_id()
        if work.kind == "webhook":
            running, done = t + self.rng.randint(500, 2000), t + self.rng.randint(2500, 6000)
            self._at(t, lambda db: db.webhook_enqueued(row_id, work, t))
            self._at(running, lambda db: db.webhook_status(row_id, "RUNNING", running))
            self._at(done, lambda db: db.webhook_status(row_id, "SUCCEEDED", done))
            return
        run_id = ulid(t, self.rng)
        started = t + self.rng.randint(400, 2000)
        run_ms = self.rng.randint(3000, 8000) if work.signature_ok else self.rng.randint(300, 1500)
        finished = started + run_ms
        error = None if work.signature_ok else INVALID_SIGNATURE
        self._at(started, lambda db: db.run_started(row_id, work, run_id, started))

        def finish(db: Ledger) -> None:
            db.run_finished(row_id, started, finished, error)
            if error:
                self.platform.function_failed(work, run_id, finished)

        self._at(finished, finish)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        try:
            ledger = Ledger(self.database_url)
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                with self._cond:
                    while not self._stop:
                        now = self.clock.now_ms()
                        if self._heap and self._heap[0][0] <= now:
                            break
                        wait = (self._heap[0][0] - now) / self.clock.factor / 1000 if self._heap else 0.5
                        self._cond.wait(min(max(wait, 0.001), 0.5))
                    if self._stop:
                        return
                    _, _, action = heapq.heappop(self._heap)
                action(ledger)
        finally:
            ledger.close()
