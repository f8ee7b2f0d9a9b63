"""Durable checks against real databases: a throwaway PostgreSQL cluster and SQLite files."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reversal.errors import InputError, StepFailed
from reversal.platform.durable import (
    Ledger,
    describe_dsn,
    health_snapshot,
    queue_growth,
    queue_snapshot,
    wait_terminal,
)
from reversal.platform.ledger_schema import SQLITE_DDL

NOW = int(dt.datetime(2026, 2, 18, 6, 0, tzinfo=dt.UTC).timestamp() * 1000)
MIN = 60_000
FN = "cron-response-timing"


def _ts(ms: int, dialect: str) -> Any:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    if dialect == "postgresql":
        return moment.replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Db:
    """A ledger database plus a separate writable connection used only to seed it."""

    dsn: str
    dialect: str
    writer: Any

    def _exec(self, sql: str, params: list[Any]) -> None:
        if self.dialect == "sqlite":
            self.writer.execute(sql.replace("%s", "?"), params)
            self.writer.commit()
        else:
            self.writer.execute(sql, params)

    def run(self, *, status: str, dispatch_key: str | None, started_ms: int, function: str = FN,
            finished_ms: int | None = None, last_error: str | None = None, attempt: int = 0) -> str:
        run_id = uuid.uuid4().hex
        t = lambda ms: None if ms is None else _ts(ms, self.dialect)  # noqa: E731
        self._exec(
            'INSERT INTO "BackgroundFunctionRun" ("id", "runKey", "functionName", "runId", "status", '
            '"attempt", "dispatchKey", "startedAt", "finishedAt", "lastError", "createdAt", "updatedAt") '
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [run_id, f"{function}:{run_id}", function, run_id, status, attempt, dispatch_key,
             t(started_ms), t(finished_ms), last_error, t(started_ms), t(finished_ms or started_ms)],
        )
        return run_id

    def finish(self, run_id: str, status: str, finished_ms: int) -> None:
        self._exec(
            'UPDATE "BackgroundFunctionRun" SET "status" = %s, "finishedAt" = %s WHERE "id" = %s',
            [status, _ts(finished_ms, self.dialect), run_id],
        )

    def event(self, *, status: str, run_at_ms: int, updated_ms: int = NOW - MIN) -> None:
        key = uuid.uuid4().hex
        self._exec(
            'INSERT INTO "WebhookEvent" ("id", "provider", "eventType", "dedupeKey", "status", "runAt", '
            '"createdAt", "updatedAt") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            [key, "inboxxia", "EMAIL_SENT", key, status, _ts(run_at_ms, self.dialect),
             _ts(updated_ms, self.dialect), _ts(updated_ms, self.dialect)],
        )


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request, tmp_path: Path):
    if request.param == "postgresql":
        pg = request.getfixturevalue("ledger_pg")
        yield Db(pg.dsn, "postgresql", pg.admin)
        return
    path = tmp_path / "ledger.db"
    writer = sqlite3.connect(path)
    writer.executescript(SQLITE_DDL)
    try:
        yield Db(f"sqlite:///{path}", "sqlite", writer)
    finally:
        writer.close()


class FakeClock:
    """Advances only when slept; ``on_sleep`` lets a test change the world between polls."""

    def __init__(self, now_ms: int, on_sleep=None) -> None:
        self.now, self.on_sleep, self.sleeps = now_ms, on_sleep, 0

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000)
        self.sleeps += 1
        if self.on_sleep:
            self.on_sleep(self.sleeps)


def test_succeeded_run_for_dispatch_key_is_terminal(db: Db):
    db.run(status="SUCCEEDED", dispatch_key="cron:response-timing:2026-02-18T05:55",
           started_ms=NOW - 5 * MIN, finished_ms=NOW - 4 * MIN)
    db.run(status="RUNNING", dispatch_key="cron:response-timing:2026-02-18T06:00", started_ms=NOW)
    with Ledger.connect(db.dsn) as ledger:
        rows = ledger.runs_for_dispatch(FN, "cron:response-timing:2026-02-18T05:55")
        outcome = wait_terminal(ledger, function=FN, dispatch_key="cron:response-timing:2026-02-18T05:55",
                                clock=FakeClock(NOW), timeout_s=60)
    assert [r.status for r in rows] == ["SUCCEEDED"]
    assert rows[0].startedAt == "2026-02-18T05:55:00.000Z"
    assert rows[0].finishedAt == "2026-02-18T05:56:00.000Z"
    assert outcome.outcome == "succeeded" and outcome.ok and outcome.polls == 1


def test_wait_sees_running_become_succeeded(db: Db):
    key = "cron:followups:2026-02-18T06:00"
    run_id = db.run(status="RUNNING", dispatch_key=key, started_ms=NOW, function="cron-followups")
    seen = []

    def later(sleeps: int) -> None:
        if sleeps == 3:
            db.finish(run_id, "SUCCEEDED", NOW + 6_000)

    clock = FakeClock(NOW, later)
    with Ledger.connect(db.dsn) as ledger:
        outcome = wait_terminal(ledger, function="cron-followups", dispatch_key=key, clock=clock,
                                timeout_s=600, poll_s=2, on_poll=lambda s, e: seen.append((s, e)))
    assert outcome.outcome == "succeeded"
    assert outcome.polls == 4
    assert seen == [("running", 0.0), ("running", 2.0), ("running", 4.0)]
    assert outcome.rows[0].finishedAt == "2026-02-18T06:00:06.000Z"


def test_failed_run_reports_last_error(db: Db):
    key = "cron:response-timing:2026-02-18T05:45"
    db.run(status="FAILED", dispatch_key=key, started_ms=NOW - 15 * MIN, finished_ms=NOW - 15 * MIN,
           last_error="Invalid signature")
    with Ledger.connect(db.dsn) as ledger:
        outcome = wait_terminal(ledger, function=FN, dispatch_key=key, clock=FakeClock(NOW), timeout_s=60)
        health = health_snapshot(ledger, function=FN, now_ms=NOW)
    assert outcome.outcome == "failed" and not outcome.ok
    assert outcome.last_error == "Invalid signature"
    bfr = health["backgroundFunctionRun"]
    assert bfr["invalidSignatureFailuresLast24h"] == 1
    assert [r["lastError"] for r in bfr["failedLast24h"]] == ["Invalid signature"]
    assert not health["healthy"]
    assert any("Invalid signature" in p for p in health["problems"])


def test_running_until_timeout_and_missing_rows(db: Db):
    db.run(status="RUNNING", dispatch_key="k-running", started_ms=NOW)
    with Ledger.connect(db.dsn) as ledger:
        clock = FakeClock(NOW)
        running = wait_terminal(ledger, function=FN, dispatch_key="k-running", clock=clock,
                                timeout_s=10, poll_s=3)
        missing = wait_terminal(ledger, function=FN, dispatch_key="k-none", clock=FakeClock(NOW),
                                timeout_s=10, poll_s=3)
        once = wait_terminal(ledger, function=FN, dispatch_key="k-none", clock=FakeClock(NOW), timeout_s=0)
    assert running.outcome == "timeout" and running.waited_s == 10
    assert clock.now == NOW + 10_000  # bounded: never sleeps past the deadline
    assert missing.outcome == "missing" and missing.rows == ()
    assert once.outcome == "missing" and once.polls == 1


def test_other_functions_rows_do_not_count(db: Db):
    db.run(status="SUCCEEDED", dispatch_key="shared-key", started_ms=NOW, function="cron-availability")
    with Ledger.connect(db.dsn) as ledger:
        outcome = wait_terminal(ledger, function=FN, dispatch_key="shared-key", clock=FakeClock(NOW),
                                timeout_s=0)
    assert outcome.outcome == "missing"


def test_health_snapshot_counts_and_stuck(db: Db):
    appt = "cron-appointment-reconcile"
    db.run(status="RUNNING", dispatch_key="old", started_ms=NOW - 20 * MIN, function=appt)
    db.run(status="RUNNING", dispatch_key="fresh", started_ms=NOW - 2 * MIN, function=appt)
    db.run(status="SUCCEEDED", dispatch_key="a", started_ms=NOW - 60 * MIN)
    db.run(status="SUCCEEDED", dispatch_key="b", started_ms=NOW - 5 * MIN)
    db.run(status="SUCCEEDED", dispatch_key="c", started_ms=NOW - 7 * 60 * MIN)  # outside 6 h
    with Ledger.connect(db.dsn) as ledger:
        health = health_snapshot(ledger, function=FN, now_ms=NOW, stuck_after_s=900)
    bfr = health["backgroundFunctionRun"]
    assert health["windows"] == {"cronRunWindowStartUtc": "2026-02-18T00:00:00.000Z",
                                 "failedWindowStartUtc": "2026-02-17T06:00:00.000Z"}
    assert [r["dispatchKey"] for r in bfr["recentRuns"]] == ["b", "a", "c"]
    assert bfr["statusCountsLast6h"] == [{"status": "SUCCEEDED", "count": 2}]
    assert bfr["allFunctionStatusCountsLast6h"] == [
        {"functionName": "cron-appointment-reconcile", "status": "RUNNING", "count": 2},
        {"functionName": FN, "status": "SUCCEEDED", "count": 2},
    ]
    assert [(r["dispatchKey"], r["ageSeconds"]) for r in bfr["stuckRunning"]] == [("old", 1200.0)]
    assert health["problems"] == ["1 run(s) RUNNING for more than 900s: cron-appointment-reconcile"]


def test_health_snapshot_of_an_empty_ledger_flags_missing_runs(db: Db):
    with Ledger.connect(db.dsn) as ledger:
        health = health_snapshot(ledger, function=FN, now_ms=NOW)
    assert health["backgroundFunctionRun"]["recentRuns"] == []
    assert health["problems"] == [f"no {FN} runs in the ledger in the last 6 h"]


def test_queue_snapshot_and_growth(db: Db):
    db.event(status="PENDING", run_at_ms=NOW - 3 * MIN)
    db.event(status="PENDING", run_at_ms=NOW - 1 * MIN)
    db.event(status="PENDING", run_at_ms=NOW + 10 * MIN)
    db.event(status="RUNNING", run_at_ms=NOW - 2 * MIN)
    db.event(status="FAILED", run_at_ms=NOW - 30 * MIN, updated_ms=NOW - 30 * MIN)
    db.event(status="FAILED", run_at_ms=NOW + 5 * MIN, updated_ms=NOW - 48 * 60 * MIN)
    db.event(status="SUCCEEDED", run_at_ms=NOW - 50 * MIN)
    with Ledger.connect(db.dsn) as ledger:
        before = queue_snapshot(ledger, now_ms=NOW)
        db.event(status="PENDING", run_at_ms=NOW)
        after = queue_snapshot(ledger, now_ms=NOW + MIN)
    assert before["pendingDue"] == 2 and before["pendingFuture"] == 1
    assert before["running"] == 1 and before["failedDue"] == 1 and before["failedLast24h"] == 1
    expected = [("FAILED", 2), ("PENDING", 3), ("RUNNING", 1), ("SUCCEEDED", 1)]
    assert before["statusCountsAllTime"] == [{"status": s, "count": c} for s, c in expected]
    assert before["oldestPendingDueRunAt"] == "2026-02-18T05:57:00.000Z"
    assert before["oldestPendingDueAgeSeconds"] == 180.0
    assert after["pendingDue"] == 3
    growth = queue_growth(before, after)
    assert growth["growing"] and growth["pendingDueDelta"] == 1 and growth["intervalSeconds"] == 60.0
    assert not queue_growth(after, before)["growing"]


def test_queue_growth_is_pure_and_tolerates_missing_keys():
    assert queue_growth({"pendingDue": 4}, {"pendingDue": 4}) == {
        "fromUtc": None, "toUtc": None, "intervalSeconds": None,
        "pendingDueBefore": 4, "pendingFutureBefore": 0, "runningBefore": 0, "failedDueBefore": 0,
        "pendingDueAfter": 4, "pendingFutureAfter": 0, "runningAfter": 0, "failedDueAfter": 0,
        "pendingDueDelta": 0, "pendingFutureDelta": 0, "runningDelta": 0, "failedDueDelta": 0,
        "growing": False, "draining": False,
    }


def test_ledger_cannot_write(db: Db):
    with Ledger.connect(db.dsn) as ledger:
        with pytest.raises(Exception) as caught:
            ledger._conn.execute('DELETE FROM "WebhookEvent"')
        assert "read" in str(caught.value).lower()  # read-only transaction / readonly database
        with pytest.raises(StepFailed):
            ledger._query('INSERT INTO "WebhookEvent" ("id") VALUES (%s)', ["x"])


def test_postgres_session_is_read_only(ledger_pg):
    with Ledger.connect(ledger_pg.dsn) as ledger:
        (row,) = ledger._query("SHOW default_transaction_read_only")
        assert row == ("on",)
        (row,) = ledger._query("SHOW transaction_read_only")
        assert row == ("on",)


def test_dsn_is_described_without_password(ledger_pg):
    assert "pg-test-password" in ledger_pg.dsn
    with Ledger.connect(ledger_pg.dsn) as ledger:
        assert "pg-test-password" not in ledger.described
        assert ledger.described.startswith("postgresql://127.0.0.1:")
    assert describe_dsn("postgres://u:p@db.example:6543/app?sslmode=require") == "postgres://db.example:6543/app"


def test_unreachable_postgres_error_hides_password():
    dsn = "postgresql://user:hunter2-secret@127.0.0.1:1/nothing"
    with pytest.raises(StepFailed) as caught:
        Ledger.connect(dsn)
    assert "hunter2-secret" not in str(caught.value)
    assert "postgresql://127.0.0.1:1/nothing" in str(caught.value)


def test_bad_dsns_are_input_errors(tmp_path: Path):
    with pytest.raises(InputError, match="unsupported scheme"):
        Ledger.connect("mysql://u:p@h/db")
    with pytest.raises(InputError, match="no SQLite file"):
        Ledger.connect(f"sqlite:///{tmp_path}/absent.db")
