"""The normalized log record every reader produces, whatever the source format."""

from __future__ import annotations

import msgspec

NO_RESPONSE = -1
"""``status`` of a line that carries no response (CLI/runtime streams send ``-1``)."""


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
