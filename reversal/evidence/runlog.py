"""``run.log``: structlog JSON lines, one per event, appended to the iteration folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class RunLog:
    def __init__(self, path: Path, **bound: Any) -> None:
        import structlog

        self._file = path.open("a", encoding="utf-8")
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        ).bind(**bound)

    def info(self, event: str, **fields: Any) -> None:
        self._log.info(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.error(event, **fields)

    def close(self) -> None:
        self._file.close()
