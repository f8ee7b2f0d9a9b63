"""Durable-execution health read from the app's run ledger and webhook queue.

A 202 from a dispatch-only route proves only that an event was sent. Whether the work ran is
in ``BackgroundFunctionRun`` (written by the Inngest functions): terminal ``SUCCEEDED`` /
``FAILED`` rows are the source of truth, and dispatch-side states such as
``BackgroundDispatchWindow.status=ENQUEUED`` never count as success. ``WebhookEvent`` shows
whether the queue drains. Everything here only reads: the PostgreSQL session is read-only and
SQLite is opened with ``mode=ro``, so a check can never add to the contention it measures.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from reversal.clock import Clock
from reversal.errors import InputError, StepFailed
from reversal.evidence.files import utc_iso
from reversal.redact import scrub

TERMINAL = ("SUCCEEDED", "FAILED")
HOUR_MS = 3_600_000
RECENT_RUNS = 20
INVALID_SIGNATURE = "invalid signature"

_RUN_COLUMNS = (
    "functionName", "status", "dispatchKey", "runId", "runKey", "attempt", "correlationId",
    "createdAt", "startedAt", "finishedAt", "durationMs", "lastError",
)
_TIME_COLUMNS = frozenset({"createdAt", "startedAt", "finishedAt", "requestedAt", "runAt", "updatedAt"})


def describe_dsn(dsn: str) -> str:
    """The DSN without credentials or query: ``postgresql://host:port/db`` / ``sqlite:///path``."""
    from reversal.redact import describe_dsn as describe

    return describe(dsn)


def _iso(value: Any) -> str | None:
    """Ledger timestamps (PostgreSQL naive-UTC datetimes, SQLite ISO text) as ``...123Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class RunRow:
    """One ``BackgroundFunctionRun`` row, timestamps as ISO-8601 UTC strings."""

    functionName: str
    status: str
    dispatchKey: str | None
    runId: str | None
    runKey: str
    attempt: int
    correlationId: str | None
    createdAt: str | None
    startedAt: str | None
    finishedAt: str | None
    durationMs: int | None
    lastError: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ledger:
    """Read-only access to the ledger tables over PostgreSQL (psycopg 3) or SQLite."""

    def __init__(self, conn: Any, dialect: Literal["postgresql", "sqlite"], described: str) -> None:
        self._conn, self.dialect, self.described = conn, dialect, described

    @classmethod
    def connect(cls, dsn: str) -> Ledger:
        described = describe_dsn(dsn)
        if dsn.startswith("sqlite:"):
            return cls(_connect_sqlite(dsn, described), "sqlite", described)
        if dsn.startswith(("postgresql://", "postgres://")):
            return cls(_connect_postgres(dsn, described), "postgresql", described)
        raise InputError(
            f"database URL {described}: unsupported scheme; expected postgresql://… (the run ledger) "
            "or sqlite:///path (the sandbox)."
        )

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- SQL helpers: the same queries on both engines ------------------------------------
    def _col(self, name: str) -> str:
        """A column for comparisons; SQLite text timestamps are normalised to one sortable form."""
        if self.dialect == "sqlite" and name in _TIME_COLUMNS:
            return f"strftime('%Y-%m-%dT%H:%M:%fZ', \"{name}\")"
        return f'"{name}"'

    def _at(self, ms: int) -> Any:
        moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)
        return utc_iso(ms) if self.dialect == "sqlite" else moment

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            sql = sql.replace("%s", "?")
        try:
            return list(self._conn.execute(sql, tuple(params)).fetchall())
        except (sqlite3.Error, _psycopg_error()) as exc:
            raise StepFailed(
                f"reading the run ledger at {self.described} failed: {str(exc).strip().splitlines()[0]}"
            ) from None

    def _runs(self, where: str, params: Iterable[Any], limit: int | None = None) -> list[RunRow]:
        columns = ", ".join(f'"{c}"' for c in _RUN_COLUMNS)
        sql = (
            f'SELECT {columns} FROM "BackgroundFunctionRun" WHERE {where} '
            f'ORDER BY {self._col("startedAt")} DESC, "attempt" DESC'
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = []
        for raw in self._query(sql, params):
            values = dict(zip(_RUN_COLUMNS, raw, strict=True))
            for key in ("createdAt", "startedAt", "finishedAt"):
                values[key] = _iso(values[key])
            values["status"] = str(values["status"])
            rows.append(RunRow(**values))
        return rows

    # -- public reads ----------------------------------------------------------------------
    def runs_for_dispatch(self, function: str | None, dispatch_key: str) -> list[RunRow]:
        """Every run written for ``dispatch_key`` (newest first), optionally of one function."""
        if function is None:
            return self._runs('"dispatchKey" = %s', [dispatch_key])
        return self._runs('"dispatchKey" = %s AND "functionName" = %s', [dispatch_key, function])

    def recent_runs(self, function: str, limit: int = RECENT_RUNS) -> list[RunRow]:
        return self._runs('"functionName" = %s', [function], limit)

    def runs_where(self, *, status: str, started_before_ms: int | None = None,
                   started_after_ms: int | None = None, limit: int = 200) -> list[RunRow]:
        clauses, params = [f'"status" = \'{_status(status)}\''], []
        if started_before_ms is not None:
            clauses.append(f"{self._col('startedAt')} < %s")
            params.append(self._at(started_before_ms))
        if started_after_ms is not None:
            clauses.append(f"{self._col('startedAt')} >= %s")
            params.append(self._at(started_after_ms))
        return self._runs(" AND ".join(clauses), params, limit)

    def run_status_counts(self, *, since_ms: int, function: str | None = None) -> list[dict[str, Any]]:
        sql = (
            'SELECT "functionName", "status", COUNT(*) FROM "BackgroundFunctionRun" '
            f"WHERE {self._col('startedAt')} >= %s"
        )
        params: list[Any] = [self._at(since_ms)]
        if function is not None:
            sql += ' AND "functionName" = %s'
            params.append(function)
        sql += ' GROUP BY "functionName", "status"'
        rows = [(name, str(status), int(count)) for name, status, count in self._query(sql, params)]
        # Sorted here: PostgreSQL orders enum values by declaration, SQLite by text.
        return [{"functionName": n, "status": s, "count": c} for n, s, c in sorted(rows)]

    def queue_counts(self, *, now_ms: int) -> dict[str, Any]:
        now, day_ago = self._at(now_ms), self._at(now_ms - 24 * HOUR_MS)
        run_at, updated = self._col("runAt"), self._col("updatedAt")
        by_status = self._query(
            'SELECT "status", COUNT(*) FROM "WebhookEvent" GROUP BY "status"'
        )
        (row,) = self._query(
            "SELECT "
            f"SUM(CASE WHEN \"status\" = 'PENDING' AND {run_at} <= %s THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN \"status\" = 'PENDING' AND {run_at} > %s THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN \"status\" = 'RUNNING' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN \"status\" = 'FAILED' AND {run_at} <= %s THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN \"status\" = 'FAILED' AND {updated} >= %s THEN 1 ELSE 0 END), "
            f"MIN(CASE WHEN \"status\" = 'PENDING' AND {run_at} <= %s THEN \"runAt\" END) "
            'FROM "WebhookEvent"',
            [now, now, now, day_ago, now],
        )
        pending_due, pending_future, running, failed_due, failed_24h, oldest = row
        return {
            "statusCountsAllTime": [
                {"status": s, "count": c} for s, c in sorted((str(s), int(c)) for s, c in by_status)
            ],
            "pendingDue": int(pending_due or 0),
            "pendingFuture": int(pending_future or 0),
            "running": int(running or 0),
            "failedDue": int(failed_due or 0),
            "failedLast24h": int(failed_24h or 0),
            "oldestPendingDueRunAt": _iso(oldest),
        }


def _status(status: str) -> str:
    if status not in ("RUNNING", "SUCCEEDED", "FAILED", "PENDING"):
        raise ValueError(f"unknown ledger status {status!r}")
    return status


def _psycopg_error() -> type[Exception]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a declared dependency
        return sqlite3.Error
    return psycopg.Error


def _connect_sqlite(dsn: str, described: str) -> sqlite3.Connection:
    raw = dsn.removeprefix("sqlite:").removeprefix("//").split("?", 1)[0]
    if not raw:
        raise InputError(f"database URL {described}: expected sqlite:///path/to/ledger.db.")
    path = Path(raw)
    if not path.is_file():
        raise InputError(f"database URL {described}: no SQLite file at {path}.")
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=10)
        conn.execute('SELECT 1 FROM "BackgroundFunctionRun" LIMIT 1')
    except sqlite3.Error as exc:
        raise StepFailed(f"cannot read the run ledger at {described}: {exc}.") from None
    return conn


def _connect_postgres(dsn: str, described: str) -> Any:
    import psycopg

    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=15)
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        conn.execute("SET default_transaction_read_only = on")
        conn.execute("SET statement_timeout = '30s'")
        conn.execute("SET TIME ZONE 'UTC'")  # Prisma stores UTC; naive parameters mean UTC too
    except psycopg.Error as exc:
        # psycopg messages can quote the connection string; keep only the first line, scrubbed.
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = scrub(message, [dsn])
        raise StepFailed(f"cannot connect to the run ledger at {described}: {message}") from None
    return conn


# -- waiting for a dispatched run ----------------------------------------------------------------

Outcome = Literal["succeeded", "failed", "timeout", "missing"]


@dataclass(frozen=True)
class RunOutcome:
    """How the run for one dispatch key ended, or what it still was when the wait ran out."""

    outcome: Outcome
    function: str | None
    dispatch_key: str
    rows: tuple[RunRow, ...]
    waited_s: float
    polls: int

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"

    @property
    def last_error(self) -> str | None:
        return next((r.lastError for r in self.rows if r.lastError), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "ok": self.ok,
            "functionName": self.function,
            "dispatchKey": self.dispatch_key,
            "lastError": self.last_error,
            "waitedSeconds": round(self.waited_s, 3),
            "polls": self.polls,
            "rowsByDispatch": [r.to_json() for r in self.rows],
        }


def classify(rows: Iterable[RunRow]) -> Literal["succeeded", "failed", "running", "missing"]:
    """Any SUCCEEDED row settles it; otherwise the newest row decides (a retry may follow a FAILED)."""
    rows = list(rows)
    if not rows:
        return "missing"
    if any(r.status == "SUCCEEDED" for r in rows):
        return "succeeded"
    return "failed" if rows[0].status == "FAILED" else "running"


def wait_terminal(
    ledger: Ledger,
    *,
    function: str | None,
    dispatch_key: str,
    clock: Clock,
    timeout_s: float,
    poll_s: float = 2,
    on_poll: Callable[[str, float], None] | None = None,
) -> RunOutcome:
    """Poll until the run for ``dispatch_key`` is terminal or ``timeout_s`` (clock time) passes.

    ``on_poll(state, elapsed_s)`` reports progress after each non-terminal look
    (state: ``running`` or ``missing``). ``timeout_s=0`` looks exactly once.
    """
    start = clock.now_ms()
    polls = 0
    while True:
        rows = ledger.runs_for_dispatch(function, dispatch_key)
        polls += 1
        state = classify(rows)
        elapsed = (clock.now_ms() - start) / 1000
        if state in ("succeeded", "failed"):
            return RunOutcome(state, function, dispatch_key, tuple(rows), elapsed, polls)
        if elapsed >= timeout_s:
            outcome: Outcome = "timeout" if state == "running" else "missing"
            return RunOutcome(outcome, function, dispatch_key, tuple(rows), elapsed, polls)
        if on_poll is not None:
            on_poll(state, elapsed)
        clock.sleep(min(poll_s, timeout_s - elapsed))


# -- snapshots -------------------------------------------------------------------------------


def health_snapshot(
    ledger: Ledger, *, function: str | None, now_ms: int, stuck_after_s: float = 900
) -> dict[str, Any]:
    """Run-ledger health as in the hand-made ``durable-health-*.json`` snapshots, plus findings.

    Recent runs and 6 h status counts for ``function``; 6 h counts for every background
    function; RUNNING rows older than ``stuck_after_s``; FAILED rows of the last 24 h with
    their ``lastError`` (``Invalid signature`` counted apart: it means the signing key is bad).
    """
    six_h, day = now_ms - 6 * HOUR_MS, now_ms - 24 * HOUR_MS
    stuck = ledger.runs_where(status="RUNNING", started_before_ms=now_ms - int(stuck_after_s * 1000))
    failed = ledger.runs_where(status="FAILED", started_after_ms=day)
    recent = ledger.recent_runs(function) if function else []
    counts = ledger.run_status_counts(since_ms=six_h, function=function) if function else []
    invalid = [r for r in failed if INVALID_SIGNATURE in (r.lastError or "").lower()]
    problems = []
    if function and not counts:
        problems.append(f"no {function} runs in the ledger in the last 6 h")
    if stuck:
        problems.append(
            f"{len(stuck)} run(s) RUNNING for more than {stuck_after_s:g}s: "
            + ", ".join(sorted({r.functionName for r in stuck}))
        )
    if failed:
        problems.append(
            f"{len(failed)} FAILED run(s) in the last 24 h"
            + (f" ({len(invalid)} with 'Invalid signature': check INNGEST_SIGNING_KEY)" if invalid else "")
        )
    return {
        "capturedAtUtc": utc_iso(now_ms),
        "database": ledger.described,
        "windows": {"cronRunWindowStartUtc": utc_iso(six_h), "failedWindowStartUtc": utc_iso(day)},
        "backgroundFunctionRun": {
            "function": function,
            "recentRuns": [r.to_json() for r in recent],
            "statusCountsLast6h": [{"status": c["status"], "count": c["count"]} for c in counts],
            "allFunctionStatusCountsLast6h": ledger.run_status_counts(since_ms=six_h),
            "stuckAfterSeconds": stuck_after_s,
            "stuckRunning": [
                {**r.to_json(), "ageSeconds": _age_s(r.startedAt, now_ms)} for r in stuck
            ],
            "failedLast24h": [r.to_json() for r in failed],
            "invalidSignatureFailuresLast24h": len(invalid),
        },
        "healthy": not problems,
        "problems": problems,
    }


def _age_s(iso: str | None, now_ms: int) -> float | None:
    if iso is None:
        return None
    started = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round(now_ms / 1000 - started.timestamp(), 3)


def queue_snapshot(ledger: Ledger, *, now_ms: int) -> dict[str, Any]:
    """``WebhookEvent`` depth: PENDING due/future, RUNNING, FAILED due and in the last 24 h."""
    counts = ledger.queue_counts(now_ms=now_ms)
    oldest = counts["oldestPendingDueRunAt"]
    return {
        "capturedAtUtc": utc_iso(now_ms),
        "capturedAtMs": now_ms,
        **counts,
        "oldestPendingDueAgeSeconds": _age_s(oldest, now_ms),
    }


@dataclass(frozen=True)
class _Delta:
    key: str
    before: int
    after: int


def queue_growth(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Compare two ``queue_snapshot`` results: the queue grows when pending-due rows increase."""
    deltas = [
        _Delta(k, int(before.get(k, 0)), int(after.get(k, 0)))
        for k in ("pendingDue", "pendingFuture", "running", "failedDue")
    ]
    interval = None
    if "capturedAtMs" in before and "capturedAtMs" in after:
        interval = round((after["capturedAtMs"] - before["capturedAtMs"]) / 1000, 3)
    growing = deltas[0].after > deltas[0].before
    return {
        "fromUtc": before.get("capturedAtUtc"),
        "toUtc": after.get("capturedAtUtc"),
        "intervalSeconds": interval,
        **{f"{d.key}Before": d.before for d in deltas},
        **{f"{d.key}After": d.after for d in deltas},
        **{f"{d.key}Delta": d.after - d.before for d in deltas},
        "growing": growing,
        "draining": deltas[0].after < deltas[0].before or deltas[0].after == 0,
    }


@dataclass
class DurableReport:
    """What ``reversal durable check`` found, as one JSON document (see ``to_json``)."""

    captured_at_ms: int
    slice: str
    route: str
    database: str
    function: str | None
    dispatch_key: str | None
    event_id: str | None
    outcome: RunOutcome | None
    health: dict[str, Any] | None
    queue: dict[str, Any] | None
    growth: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "capturedAtUtc": utc_iso(self.captured_at_ms),
            "slice": self.slice,
            "route": self.route,
            "database": self.database,
            "functionName": self.function,
            "dispatchKey": self.dispatch_key,
            "eventId": self.event_id,
            "ok": self.ok,
            "problems": self.problems,
            "run": self.outcome.to_json() if self.outcome else None,
            "backgroundFunctionRun": self.health,
            "webhookEvent": self.queue,
            "webhookEventGrowth": self.growth,
        }


# -- the one assessment ------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What a ledger snapshot says about a slice, as fields first and sentences second.

    The loop's durable step and ``reversal durable check`` both decide with this, so they can
    never disagree on what is healthy.
    """

    run: str | None  # the dispatched run: succeeded / failed / timeout / missing; None: no key
    stuck_running: int  # the slice's function's runs RUNNING past the stuck threshold
    failed_due: int  # WebhookEvent rows FAILED and due (the queue gave up on them)
    queue_growing: bool
    invalid_signature: int  # ledger FAILED rows (24 h) + Inngest runs failed with 'Invalid signature'
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "stuckRunning": self.stuck_running, "failedDue": self.failed_due,
                "queueGrowing": self.queue_growing, "invalidSignature": self.invalid_signature,
                "ok": self.ok, "problems": list(self.problems)}


def assess(*, outcome: RunOutcome | None, health: dict[str, Any] | None, queue: dict[str, Any] | None,
           growth: dict[str, Any] | None, function: str | None, queue_name: str | None,
           inngest: dict[str, Any] | None = None, failed_due_before: int | None = None) -> Assessment:
    """Pure: the findings that fail a slice's durable gate, from what was read.

    ``failed_due_before``: the FAILED-due count when the change started to be judged; given, only
    rows added since count (the loop judges the change, not the backlog it came to fix); absent,
    any FAILED-due row counts (``durable check`` judges the queue as it is)."""
    problems = []
    if outcome is not None and not outcome.ok:
        waited = f"after {outcome.waited_s:g}s"
        problems.append({
            "failed": f"run for {outcome.dispatch_key} FAILED: {outcome.last_error or 'no lastError'}",
            "timeout": f"run for {outcome.dispatch_key} still RUNNING {waited}",
            "missing": f"no {outcome.function or 'run'} row for {outcome.dispatch_key} {waited} "
                       "(a 202 / ENQUEUED dispatch is not execution)",
        }[outcome.outcome])
    bfr = (health or {}).get("backgroundFunctionRun") or {}
    stuck = [r for r in bfr.get("stuckRunning", []) if r.get("functionName") == function]
    if stuck:
        problems.append(f"{len(stuck)} {function} run(s) stuck RUNNING")
    growing = bool(queue_name and growth and growth.get("growing"))
    if growing:
        problems.append(
            f"{queue_name} pending-due grew {growth['pendingDueBefore']} → "  # type: ignore[index]
            f"{growth['pendingDueAfter']} in {growth['intervalSeconds']:g}s"  # type: ignore[index]
        )
    failed_due = int((queue or {}).get("failedDue") or 0) if queue_name else 0
    if failed_due_before is None and failed_due:
        problems.append(f"{queue_name} has {failed_due} FAILED rows due")
    elif failed_due_before is not None and failed_due > failed_due_before:
        problems.append(f"{queue_name} FAILED rows due rose from {failed_due_before} to {failed_due}")
    ledger_invalid = int(bfr.get("invalidSignatureFailuresLast24h") or 0)
    inngest_invalid = int((inngest or {}).get("invalidSignatureFailures") or 0)
    if ledger_invalid:
        problems.append(f"{ledger_invalid} ledger run(s) FAILED with 'Invalid signature' in 24 h: "
                        "check INNGEST_SIGNING_KEY for whitespace")
    if inngest_invalid:
        problems.append(f"{inngest_invalid} Inngest function runs failed with 'Invalid signature' in "
                        "the last 15 min: check INNGEST_SIGNING_KEY for whitespace")
    return Assessment(outcome.outcome if outcome else None, len(stuck), failed_due, growing,
                      ledger_invalid + inngest_invalid, tuple(problems))
