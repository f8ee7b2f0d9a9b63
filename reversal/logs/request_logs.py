"""Rows of the request-logs API (one per *request*) flattened into dashboard-export rows.

``durationMs`` (or ``duration``) is kept when a row carries it; the CLI's typing of the
endpoint does not list it, so it is often absent and the export then writes "" (blank).

The dashboard export has one row per log line, with the request's path (host-prefixed),
status and id repeated on each. ``reversal capture`` writes captured windows in that shape so
a captured window and a dashboard export are read, counted and compared the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

# request-logs `events[].source` -> dashboard export `type`
SOURCE_TYPES = {"serverless": "function", "edge-function": "function", "edge-middleware": "middleware",
          "static": "static", "request": "function"}


def timestamp_ms(value: Any) -> int | None:
    """The row's ``timestamp``: an ISO-8601 string in the API, epoch ms tolerated."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def export_rows(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dashboard-shaped row per log line of the request (one row if it logged nothing)."""
    ts = timestamp_ms(row.get("timestamp"))
    if ts is None:
        raise ValueError("request-logs row has no parseable 'timestamp'")
    domain = row.get("domain") or ""
    path = row.get("requestPath") or "/"
    status = row.get("statusCode")
    duration = row.get("durationMs", row.get("duration"))
    events = row.get("events") or [{}]
    source = (events[0] or {}).get("source", "") if isinstance(events, list) else ""
    base = {
        "TimeUTC": dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "timestampInMs": ts,
        "requestPath": f"{domain}{path}" if domain and path.startswith("/") else path,
        "requestMethod": row.get("requestMethod") or "",
        "requestQueryString": "",
        "responseStatusCode": status if isinstance(status, int) and status > 0 else "",
        "requestId": row.get("requestId") or "",
        "environment": row.get("environment") or "",
        "branch": row.get("branch") or "",
        "host": domain,
        "deploymentDomain": domain,
        "deploymentId": row.get("deploymentId") or "",
        "traceId": row.get("traceId") or "",
        "type": SOURCE_TYPES.get(source, source),
        "durationMs": duration if isinstance(duration, int | float) and not isinstance(duration, bool)
        else "",
    }
    logs = row.get("logs") or []
    if not logs:
        return [{**base, "level": "", "message": ""}]
    return [
        {**base, "level": entry.get("level") or "", "message": entry.get("message") or ""}
        for entry in logs
        if isinstance(entry, Mapping)
    ]
