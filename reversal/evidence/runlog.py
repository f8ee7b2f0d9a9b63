"""``run.log``: structlog JSON lines, one per event, appended to the iteration folder.

Timestamps come from the iteration's clock, like every artifact's: on the sandbox that is
the simulated clock, so ``run.log`` and the artifacts can be read side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reversal.clock import Clock, SystemClock
from reversal.evidence.files import utc_iso


class RunLog:
    def __init__(self, path: Path, clock: Clock | None = None, **bound: Any) -> None:
        import structlog

        clock = clock or SystemClock()
        simulated = getattr(clock, "factor", None)

        def stamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
            event["timestamp"] = utc_iso(clock.now_ms())
            if simulated is not None:
                event["clock"] = f"simulated x{simulated:g}"
            return event

        self._file = path.open("a", encoding="utf-8")
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[
                structlog.processors.add_log_level,
                stamp,
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        ).bind(**bound)

    def info(self, event: str, **fields: Any) -> None:
        self._log.info(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.error(event, **fields)

    def close(self) -> None:
        self._file.close()
