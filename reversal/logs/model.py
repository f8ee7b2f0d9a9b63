"""The normalized log record every reader produces, whatever the source format."""

from __future__ import annotations

import msgspec

NO_RESPONSE = -1
"""``status`` of a runtime-log line: the response is not known when a line is logged (the
runtime-logs stream and ``vercel logs --follow --json`` send ``-1`` on every line)."""

FORMAT_LIMITS: dict[str, tuple[str, ...]] = {
    "runtime-logs": (
        "requests: runtime-log lines carry no request id, so only rows (log lines) are counted",
        "statuses: every line has responseStatusCode -1 (unknown when the line was logged), so "
        "failures by status cannot be counted; failures by signature (message) can",
    ),
}
"""What a format cannot count, by ``readers.detect_format`` name (absent: it counts everything)."""


class LogRecord(msgspec.Struct, frozen=True, gc=False):
    """One log row. ``status`` is an int, ``None`` for a blank status, or -1 for no response.

    ``route`` has the host prefix and the query string stripped. One request yields several
    rows (middleware, function, each log line): count rows and distinct ``request_id``s, and
    say which one a figure is.
    """

    ts_ms: int
    route: str
    status: int | None
    message: str = ""
    request_id: str = ""
    host: str = ""
    method: str = ""
    deployment_id: str = ""
    level: str = ""
    duration_ms: float | None = None
    source: str = ""
    environment: str = ""


def normalize_path(request_path: str) -> tuple[str, str]:
    """Split a raw ``requestPath`` into ``(host, route)``; drop the query string.

    Dashboard exports write ``zrg-dashboard.vercel.app/api/webhooks/email``; streams write
    ``/api/webhooks/email``. A bare host becomes route ``/``.
    """
    path = request_path.split("?", 1)[0].split("#", 1)[0]
    if path.startswith(("https://", "http://")):
        path = path.split("://", 1)[1]
    if path.startswith("/"):
        return "", path
    host, sep, rest = path.partition("/")
    return host, "/" + rest if sep else "/"
