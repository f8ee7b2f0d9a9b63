"""One captured window split into a rolling release's two arms, by the deployment that served
each request, and judged with ``reversal.logs.canary.assess``. Pure over records.

Each arm's exposure is its own count of distinct requests on the target route (the realised
split, never the configured share); the loop's own probe requests are left out of both arms
(they are not production traffic). Requests served by any other deployment are counted apart:
many of them mean the window was not the release's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from reversal.logs.canary import Arm, CanaryVerdict, assess
from reversal.logs.model import LogRecord


@dataclass(frozen=True)
class Arms:
    canary: Arm
    control: Arm
    other_requests: int  # on the route, served by neither arm's deployment
    configured_share: float  # percent

    def as_json(self) -> dict[str, Any]:
        return {"canary": self.canary.as_json(), "control": self.control.as_json(),
                "otherRequests": self.other_requests, "configuredSharePercent": self.configured_share}


def split_arms(records: Iterable[LogRecord], *, route: str, canary_id: str, control_id: str,
               is_target: Any, exclude: Collection[str] = (), configured_share: float) -> Arms:
    """Count requests and target failures per arm. ``is_target(record)`` says whether a row
    carries the slice's target failure; a request fails if any of its rows does. Rows without a
    request id count as their own request."""
    requests: dict[str, set[str]] = {canary_id: set(), control_id: set()}
    failing: dict[str, set[str]] = {canary_id: set(), control_id: set()}
    other: set[str] = set()
    for n, record in enumerate(records):
        if record.route != route or record.request_id in exclude:
            continue
        key = record.request_id or f"row-{n}"
        if record.deployment_id not in requests:
            other.add(key)
            continue
        requests[record.deployment_id].add(key)
        if is_target(record):
            failing[record.deployment_id].add(key)
    arm = {d: Arm(d, len(requests[d]), len(failing[d])) for d in requests}
    return Arms(arm[canary_id], arm[control_id], len(other), configured_share)


def judge(arms: Arms, *, min_drop: float, alpha: float) -> CanaryVerdict:
    return assess(arms.canary, arms.control, min_drop=min_drop, alpha=alpha)


def render_markdown(slice_name: str, route: str, arms: Arms, verdict: CanaryVerdict) -> str:
    rows = [f"| {name} | `{a.deployment_id}` | {a.requests} | {a.failures} | {a.rate:.2%} |"
            for name, a in (("canary (flag on)", arms.canary), ("control (flag off)", arms.control))]
    share = "n/a" if verdict.canary_share is None else f"{verdict.canary_share:.1%}"
    return "\n".join([
        f"# Canary compare — {slice_name}", "",
        f"Route `{route}`, one window, two arms served at the same time. Configured canary share "
        f"{arms.configured_share:g}%, realised {share}.", "",
        "| arm | deployment | requests | target failures | rate |", "| --- | --- | ---: | ---: | ---: |",
        *rows, "",
        f"Requests on the route served by neither arm: {arms.other_requests}.", "",
        f"**{verdict.verdict}**", "", *(f"- {r}" for r in verdict.reasons), "",
    ])
