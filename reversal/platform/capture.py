"""Capture a request-log window as a dashboard-shaped export plus a meta file, from a source
chosen per capture:

* ``api``: Vercel's request-logs endpoint (``vercel.com/api/logs/request-logs``). It is private:
  in neither the OpenAPI spec nor ``@vercel/sdk``, only the CLI uses it; a refusal
  (401/403/404/410) stops with the exact alternatives below (``RequestLogsRefused``).
* ``export``: a dashboard export of the window (Logs → Export), given as a file.
* ``drain``: what a Log Drain delivered (JSON or NDJSON), given as a file.

A file is read by the same readers as ``attribute``/``compare`` (any format is detected), kept
to the window, environment and route, and written in the same shape as an API capture, so every
source gives comparable windows. The protocol compares a baseline window with a post window;
they are only comparable when both were captured the same way. The meta file records exactly how
(window, filters, source, project, deployments seen, counts, the export's sha256), so a
comparison can check it. The export is streamed to a temp file and renamed into place: a window
is fully written or absent, whatever its size.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reversal.clock import Clock, SystemClock
from reversal.errors import InputError, StepFailed
from reversal.evidence.files import atomic_writer, utc_iso, write_json
from reversal.logs.model import LogRecord, normalize_path
from reversal.logs.request_logs import export_rows, timestamp_ms
from reversal.platform.vercel import VercelClient, VercelError

SOURCE = "vercel-request-logs-api"
PROGRESS_EVERY = 500  # requests between two progress calls
SOURCES = {"api": SOURCE, "export": "dashboard-export", "drain": "log-drain"}
"""``--source`` choice -> the ``source`` recorded in the meta file."""
REFUSED = frozenset({401, 403, 404, 410})


class RequestLogsRefused(StepFailed):
    """The private request-logs endpoint refused this token/project: use another source."""


def refused_message(status: int | None, code: str | None, since_ms: int, until_ms: int,
                    detail: str = "") -> str:
    """The exact alternatives to the request-logs API for this window (``detail``: Vercel's
    answer, already scrubbed of the token)."""
    window = f"--since {utc_iso(since_ms)} --until {utc_iso(until_ms)}"
    return (
        f"Vercel refused the request-logs endpoint (HTTP {status}" + (f" {code}" if code else "")
        + (f"; {detail.rstrip('.')}" if detail else "")
        + "): it is private (not in Vercel's OpenAPI spec nor @vercel/sdk; only the CLI uses it) "
        "and may be closed to this token, team or plan. Capture the window another way: "
        f"(1) dashboard export — Logs, environment production, all routes, {utc_iso(since_ms)} to "
        f"{utc_iso(until_ms)}, Export as JSON, then 'reversal capture --source export --file FILE "
        f"{window}' (in an iteration: 'reversal resume ITERATION --export FILE'); "
        "(2) a Log Drain (JSON or NDJSON) covering the window: 'reversal capture --source drain "
        f"--file FILE {window}'."
    )


@dataclass(frozen=True)
class CaptureMeta:
    path: Path
    meta_path: Path
    since_ms: int
    until_ms: int
    environment: str
    route: str | None
    project_id: str
    deployment_ids: tuple[str, ...]
    rows: int  # export rows (one per log line of a request)
    requests: int  # distinct requests
    dropped: dict[str, int]
    sha256: str
    captured_at_ms: int

    source: str = SOURCE
    input_file: str | None = None  # the export / drain file a capture was read from

    def as_json(self) -> dict[str, Any]:
        return {
            "window": {"since_ms": self.since_ms, "until_ms": self.until_ms,
                       "since": utc_iso(self.since_ms), "until": utc_iso(self.until_ms)},
            "filters": {"environment": self.environment, "route": self.route},
            "source": self.source,
            **({"input": self.input_file} if self.input_file else {}),
            "project_id": self.project_id,
            "deployment_ids_seen": list(self.deployment_ids),
            "rows": self.rows,
            "requests": self.requests,
            "dropped": self.dropped,
            "export": self.path.name,
            "sha256": self.sha256,
            "captured_at": utc_iso(self.captured_at_ms),
        }


def meta_path_for(out: Path) -> Path:
    """``baseline-logs.json`` -> ``baseline-logs.meta.json``, beside the export."""
    return out.with_name(f"{out.stem}.meta.json")


def _keep(row: dict[str, Any], since_ms: int, until_ms: int, route: str | None,
          seen: set[str], dropped: dict[str, int]) -> bool:
    """Whether a served row belongs to the window; counts why it does not."""
    ts = timestamp_ms(row.get("timestamp"))
    if ts is None:
        dropped["no_timestamp"] += 1
        return False
    if not since_ms <= ts <= until_ms:
        dropped["outside_window"] += 1
        return False
    if route is not None and normalize_path(str(row.get("requestPath") or "/"))[1] != route:
        return False
    request_id = row.get("requestId")
    if request_id:
        if request_id in seen:  # pages shift when rows arrive while paging
            dropped["duplicate_request"] += 1
            return False
        seen.add(request_id)
    return True


def _write_export(out: Path, rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """Stream ``rows`` as one JSON array into ``out`` (atomically): (row count, sha256)."""
    digest = hashlib.sha256()
    count = 0
    with atomic_writer(out) as handle:

        def emit(chunk: str) -> None:
            data = chunk.encode("utf-8")
            digest.update(data)
            handle.write(data)

        emit("[")
        for row in rows:
            emit(("\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
            count += 1
        emit("\n]\n")
    return count, digest.hexdigest()


def _finish(out: Path, *, since_ms: int, until_ms: int, environment: str, route: str | None,
            project_id: str, clock: Clock | None, written: tuple[int, str], deployments: set[str],
            requests: int, dropped: dict[str, int], **source: Any) -> CaptureMeta:
    """The meta of a written window, saved beside it."""
    meta = CaptureMeta(
        path=out, meta_path=meta_path_for(out), since_ms=since_ms, until_ms=until_ms,
        environment=environment, route=route, project_id=project_id,
        deployment_ids=tuple(sorted(deployments)), rows=written[0], requests=requests,
        dropped=dropped, sha256=written[1], captured_at_ms=(clock or SystemClock()).now_ms(), **source,
    )
    write_json(meta.meta_path, meta.as_json())
    return meta


def capture_window(
    client: VercelClient,
    *,
    since_ms: int,
    until_ms: int,
    environment: str,
    route: str | None,
    out: Path,
    project_id: str,
    clock: Clock | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> CaptureMeta:
    """Page the request-logs API over the window and write ``out`` + its meta file;
    ``on_rows`` hears the requests kept so far (progress), every ``PROGRESS_EVERY``."""
    route = normalize_path(route)[1] if route else None
    dropped = {"no_timestamp": 0, "outside_window": 0, "duplicate_request": 0}
    seen: set[str] = set()
    deployments: set[str] = set()
    requests = [0]  # rows kept (a request without an id is counted too)

    def rows() -> Iterator[dict[str, Any]]:
        try:
            for row in client.iter_request_logs(since_ms=since_ms, until_ms=until_ms,
                                                environment=environment):
                if _keep(row, since_ms, until_ms, route, seen, dropped):
                    requests[0] += 1
                    if on_rows is not None and requests[0] % PROGRESS_EVERY == 0:
                        on_rows(requests[0])
                    if row.get("deploymentId"):
                        deployments.add(str(row["deploymentId"]))
                    yield from export_rows(row)
        except VercelError as exc:
            if exc.status in REFUSED:
                raise RequestLogsRefused(
                    refused_message(exc.status, exc.code, since_ms, until_ms, str(exc))) from None
            raise

    written = _write_export(out, rows())
    return _finish(out, since_ms=since_ms, until_ms=until_ms, environment=environment, route=route,
                   project_id=project_id, clock=clock, written=written, deployments=deployments,
                   requests=requests[0], dropped=dropped)


def _export_row(record: LogRecord) -> dict[str, Any]:
    """A record in the dashboard export's shape (what ``capture_window`` writes)."""
    return {
        "TimeUTC": utc_iso(record.ts_ms)[:19].replace("T", " "),
        "timestampInMs": record.ts_ms,
        "requestPath": f"{record.host}{record.route}" if record.host else record.route,
        "requestMethod": record.method,
        "responseStatusCode": "" if record.status is None else record.status,
        "requestId": record.request_id,
        "environment": record.environment,
        "host": record.host,
        "deploymentId": record.deployment_id,
        "type": record.source,
        "level": record.level,
        "message": record.message,
        "durationMs": "" if record.duration_ms is None else record.duration_ms,
    }


def capture_file(
    source_file: Path,
    *,
    source: str,
    since_ms: int,
    until_ms: int,
    environment: str,
    route: str | None,
    out: Path,
    project_id: str,
    clock: Clock | None = None,
) -> CaptureMeta:
    """A window read from a dashboard export or Log Drain file (``source`` ``export`` /
    ``drain``), written like an API capture. Rows of another environment are left out; rows
    without one (drains may omit it) are kept."""
    from reversal.logs.readers import read_records

    if source not in ("export", "drain"):
        raise InputError(f"--source {source}: a file is read only for --source export or drain.")
    route = normalize_path(route)[1] if route else None
    dropped = {"no_timestamp": 0, "outside_window": 0, "duplicate_request": 0, "other_environment": 0}
    deployments: set[str] = set()
    request_ids: set[str] = set()

    def rows() -> Iterator[dict[str, Any]]:
        for record in read_records(source_file):
            if not since_ms <= record.ts_ms <= until_ms:
                dropped["outside_window"] += 1
            elif record.environment and record.environment != environment:
                dropped["other_environment"] += 1
            elif route is None or record.route == route:
                if record.deployment_id:
                    deployments.add(record.deployment_id)
                if record.request_id:
                    request_ids.add(record.request_id)
                yield _export_row(record)

    written = _write_export(out, rows())
    return _finish(out, since_ms=since_ms, until_ms=until_ms, environment=environment, route=route,
                   project_id=project_id, clock=clock, written=written, deployments=deployments,
                   requests=len(request_ids), dropped=dropped, source=SOURCES[source],
                   input_file=source_file.name)


def capture(
    client: VercelClient | None,
    *,
    source: str = "api",
    source_file: Path | None = None,
    since_ms: int,
    until_ms: int,
    environment: str,
    route: str | None,
    out: Path,
    project_id: str,
    clock: Clock | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> CaptureMeta:
    """One window from the chosen source: the entry point for the command and the machine
    (which records the choice per iteration and may change it on resume)."""
    if source not in SOURCES:
        raise InputError(f"--source {source!r}: expected one of {', '.join(SOURCES)}.")
    common = dict(since_ms=since_ms, until_ms=until_ms, environment=environment, route=route,
                  out=out, project_id=project_id, clock=clock)
    if source == "api":
        if client is None:
            raise InputError("--source api needs Vercel credentials (VERCEL_TOKEN and the project).")
        return capture_window(client, **common, on_rows=on_rows)  # type: ignore[arg-type]
    if source_file is None:
        kind = "dashboard export" if source == "export" else "Log Drain file"
        raise InputError(
            f"--source {source} reads a file: give the {kind} of the window {utc_iso(since_ms)} -> "
            f"{utc_iso(until_ms)} with --file."
        )
    return capture_file(source_file, source=source, **common)  # type: ignore[arg-type]
