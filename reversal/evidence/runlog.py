"""``run.log``: structlog JSON lines, one per event, appended to the iteration folder.

Timestamps come from the iteration's clock, like every artifact's: on the sandbox that is
the simulated clock, so ``run.log`` and the artifacts can be read side by side.
Mode 0600 like every other artifact, and every field is scrubbed of secrets before it is
rendered (``reversal.redact``): an exception message may quote a DSN or a header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reversal.clock import Clock, SystemClock
from reversal.evidence.files import utc_iso


class RunLog:
    def __init__(self, path: Path, clock: Clock | None = None, **bound: Any) -> None:
        import os

        import structlog

        from reversal.redact import scrub_obj

        clock = clock or SystemClock()
        simulated = getattr(clock, "factor", None)

        def stamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
            event["timestamp"] = utc_iso(clock.now_ms())
            if simulated is not None:
                event["clock"] = f"simulated x{simulated:g}"
            return event

        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # a run.log created by an older version was 0644
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[
                structlog.processors.add_log_level,
                stamp,
                lambda _logger, _name, event: scrub_obj(event),
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        ).bind(**bound)

    def info(self, event: str, **fields: Any) -> None:
        self._log.info(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.error(event, **fields)

    def close(self) -> None:
        self._file.close()
