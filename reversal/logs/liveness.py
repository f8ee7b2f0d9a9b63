"""Capture liveness: does a captured window see the route at all?

A capture that silently sees nothing (a filter that misses the route, a host that is not the
production alias, a source that lags) gives a window with zero failures, which reads like a
success; canary tools have shipped exactly that bug (Flagger counting "no values", Argo marking
all-error analyses Successful). So every post and canary window must contain the loop's own
probe requests, found by the request id the platform gave them (``ProbeResult.request_ids``):
if one is missing the window is not evidence (a filter that misses the route, or a source that
lags behind the window's end), and the step stops as a platform error with the reason, never a
PASS. Each window's total requests on the target route are reported; a window
with none is flagged. Pure over records; ``check_file`` reads them through ``read_records``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reversal.logs.model import LogRecord


@dataclass(frozen=True)
class SentProbe:
    """One probe exchange of the loop: when it was sent and the id the platform gave it."""

    at_ms: int
    request_id: str


@dataclass(frozen=True)
class Liveness:
    route: str
    requests: int  # distinct requests on the route (rows, if the capture has no request ids)
    expected: tuple[str, ...]  # the loop's probe request ids sent inside the window
    found: tuple[str, ...]  # those the capture contains
    has_request_ids: bool  # the capture keys rows by request id (an empty capture: nothing says not)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r for r in self.expected if r not in self.found)

    @property
    def live(self) -> bool:
        """Every probe sent inside the window is in the capture: one missing at the window's end
        means the source lags (the window is incomplete), at its start a filter that misses."""
        return bool(self.expected) and not self.missing

    def problem(self) -> str | None:
        """Why the window is not evidence, or None."""
        counted = f"{self.requests} request(s) on {self.route} in the capture"
        if not self.expected:
            return (f"no probe request of the loop was sent inside this window ({counted}), so the "
                    "capture cannot be shown to see the route; probe during the window")
        if not self.has_request_ids:
            return (f"the capture carries no request ids ({counted}; runtime-log lines have none), so the "
                    "loop's probe requests cannot be found in it; capture request logs, an export or a drain")
        if self.missing:
            which = (f"none of the loop's {len(self.expected)} probe request(s)" if not self.found
                     else f"{len(self.missing)} of the loop's {len(self.expected)} probe request(s)")
            return (f"{which} ({', '.join(self.missing)}) is in the capture ({counted}): the capture's "
                    "filter, host or source does not see the route's traffic, or it lags (resume to capture "
                    "again later); the window is not evidence")
        return None

    def flags(self) -> list[str]:
        return [f"no requests on {self.route} in this window"] if self.requests == 0 else []

    def as_json(self) -> dict[str, Any]:
        return {"route": self.route, "requests": self.requests, "probesExpected": list(self.expected),
                "probesFound": list(self.found), "live": self.live, "problem": self.problem(),
                "flags": self.flags()}


def expected_ids(sent: Iterable[SentProbe], since_ms: int, until_ms: int) -> tuple[str, ...]:
    """The ids of the probes sent inside ``[since_ms, until_ms]``, in order, once each."""
    return tuple(dict.fromkeys(p.request_id for p in sent if since_ms <= p.at_ms <= until_ms))


def scan(records: Iterable[LogRecord], *, route: str, expected: Sequence[str]) -> Liveness:
    """Count the requests on ``route`` and find the ``expected`` probe ids among the records."""
    wanted = set(expected)
    found: set[str] = set()
    ids: set[str] = set()
    rows = 0
    any_ids, empty = False, True
    for record in records:
        rid = record.request_id
        any_ids, empty = any_ids or bool(rid), False
        if rid in wanted:
            found.add(rid)
        if record.route == route:
            rows += 1
            if rid:
                ids.add(rid)
    return Liveness(route=route, requests=len(ids) if any_ids else rows, expected=tuple(expected),
                    found=tuple(r for r in expected if r in found), has_request_ids=any_ids or empty)


def check_file(path: Path, *, route: str, expected: Sequence[str]) -> Liveness:
    """``scan`` over a captured window file, whatever its format."""
    from reversal.logs.readers import read_records

    return scan(read_records(path), route=route, expected=expected)


def require_live(liveness: Liveness, window: str) -> None:
    """Stop the step as a platform error (not a finding about the change) unless live."""
    problem = liveness.problem()
    if problem is not None:
        from reversal.iteration.ports import PlatformError

        raise PlatformError(f"{window} window is not evidence: {problem}.")
