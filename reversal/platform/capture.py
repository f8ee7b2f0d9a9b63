"""Capture a request-log window from Vercel as a dashboard-shaped export plus a meta file.

The protocol compares a baseline window with a post window; they are only comparable when both
were captured the same way. The meta file records exactly how (window, filters, source,
project, deployments seen, counts, the export's sha256), so a comparison can check it.
The export is streamed to a temp file and renamed into place: a window is fully written or
absent, whatever its size.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reversal.clock import Clock, SystemClock
from reversal.evidence.files import atomic_writer, utc_iso, write_json
from reversal.logs.model import normalize_path
from reversal.logs.request_logs import export_rows, timestamp_ms
from reversal.platform.vercel import VercelClient

SOURCE = "vercel-request-logs-api"
PROGRESS_EVERY = 500  # requests between two progress calls


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

    def as_json(self) -> dict[str, Any]:
        return {
            "window": {"since_ms": self.since_ms, "until_ms": self.until_ms,
                       "since": utc_iso(self.since_ms), "until": utc_iso(self.until_ms)},
            "filters": {"environment": self.environment, "route": self.route},
            "source": SOURCE,
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
    clock = clock or SystemClock()
    route = normalize_path(route)[1] if route else None
    digest = hashlib.sha256()
    dropped = {"no_timestamp": 0, "outside_window": 0, "duplicate_request": 0}
    seen: set[str] = set()
    deployments: set[str] = set()
    rows = requests = 0
    with atomic_writer(out) as handle:

        def emit(chunk: str) -> None:
            data = chunk.encode("utf-8")
            digest.update(data)
            handle.write(data)

        emit("[")
        for row in client.iter_request_logs(since_ms=since_ms, until_ms=until_ms,
                                            environment=environment):
            if not _keep(row, since_ms, until_ms, route, seen, dropped):
                continue
            requests += 1
            if on_rows is not None and requests % PROGRESS_EVERY == 0:
                on_rows(requests)
            if row.get("deploymentId"):
                deployments.add(str(row["deploymentId"]))
            for flat in export_rows(row):
                emit(("\n" if rows == 0 else ",\n") + json.dumps(flat, ensure_ascii=False))
                rows += 1
        emit("\n]\n")
    meta = CaptureMeta(
        path=out, meta_path=meta_path_for(out), since_ms=since_ms, until_ms=until_ms,
        environment=environment, route=route, project_id=project_id,
        deployment_ids=tuple(sorted(deployments)), rows=rows, requests=requests, dropped=dropped,
        sha256=digest.hexdigest(), captured_at_ms=clock.now_ms(),
    )
    write_json(meta.meta_path, meta.as_json())
    return meta
