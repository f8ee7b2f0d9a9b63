"""Redeploy production so a new env applies, and follow it to a terminal state.

Time comes from the ``Clock`` (the sandbox compresses it); every state change is recorded
with the time it was seen, so the deploy artifact shows how long each phase took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reversal.clock import Clock
from reversal.errors import StepFailed
from reversal.platform.vercel import INTENT_META_KEY, Deployment, VercelClient

FAILED_STATES = frozenset({"ERROR", "CANCELED", "DELETED"})
StateCallback = Callable[[str, float], None]


def _ignore(state: str, elapsed_s: float) -> None:
    """Default ``on_state``: no progress display."""


@dataclass
class DeployRecord:
    id: str
    url: str
    source_id: str | None
    states: list[tuple[str, int]] = field(default_factory=list)  # (state, seen at ms)
    created_ms: int | None = None
    ready_ms: int | None = None
    final_state: str | None = None  # READY, ERROR, CANCELED, or the last state seen at a deadline
    timed_out: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id, "url": self.url, "sourceId": self.source_id,
            "states": [{"state": s, "atMs": at} for s, at in self.states],
            "createdMs": self.created_ms, "readyMs": self.ready_ms, "finalState": self.final_state,
            "timedOut": self.timed_out,
        }


class DeployFailed(StepFailed):
    """The deployment ended in ERROR or CANCELED, or did not finish before the deadline."""

    def __init__(self, message: str, record: DeployRecord) -> None:
        super().__init__(message)
        self.record = record


def current_production(client: VercelClient) -> Deployment:
    """The newest READY production deployment: the one a redeploy rebuilds."""
    found = client.list_deployments(target="production", state="READY", limit=20)
    if not found:
        raise StepFailed(
            f"Project {client.project_id} has no READY production deployment to redeploy; "
            "deploy it once (e.g. 'vercel --prod') before running the loop."
        )
    return found[0]


def wait_ready(
    client: VercelClient,
    deployment_id: str,
    *,
    clock: Clock,
    deadline_s: float = 900,
    poll_s: float = 5,
    on_state: StateCallback = _ignore,
    record: DeployRecord | None = None,
) -> DeployRecord:
    """Poll ``deployment_id`` until READY (returned) or ERROR / CANCELED / deadline (raised)."""
    started = clock.now_ms()
    record = record or DeployRecord(id=deployment_id, url="", source_id=None)
    while True:
        deployment = client.get_deployment(deployment_id)
        now = clock.now_ms()
        record.url = deployment.url or record.url
        record.created_ms = deployment.created_ms or record.created_ms
        elapsed = (now - started) / 1000
        if not record.states or record.states[-1][0] != deployment.state:
            record.states.append((deployment.state, now))
            on_state(deployment.state, elapsed)
        if deployment.state == "READY":
            record.final_state = "READY"
            record.ready_ms = deployment.ready_ms or now
            return record
        if deployment.state in FAILED_STATES:
            record.final_state = deployment.state
            raise DeployFailed(
                f"Deployment {deployment_id} ended {deployment.state} after {elapsed:.0f}s "
                f"(states: {' -> '.join(s for s, _ in record.states)}); production still serves "
                "the previous deployment. See the deployment's build logs in Vercel.",
                record,
            )
        if elapsed + poll_s > deadline_s:
            record.final_state, record.timed_out = deployment.state, True
            raise DeployFailed(
                f"Deployment {deployment_id} is still {deployment.state} after {elapsed:.0f}s "
                f"(deadline {deadline_s:.0f}s); resume later to keep waiting for it.",
                record,
            )
        clock.sleep(poll_s)


def redeploy(
    client: VercelClient,
    *,
    source: Deployment,
    clock: Clock,
    intent_id: str,
    deadline_s: float = 900,
    poll_s: float = 5,
    on_state: StateCallback = _ignore,
) -> DeployRecord:
    """Rebuild ``source`` for production (tagged with ``intent_id``) and wait until it is READY."""
    created = client.create_deployment(
        name=source.name, deployment_id=source.id, target="production",
        meta={INTENT_META_KEY: intent_id},
    )
    record = DeployRecord(id=created.id, url=created.url, source_id=source.id,
                          created_ms=created.created_ms)
    return wait_ready(client, created.id, clock=clock, deadline_s=deadline_s, poll_s=poll_s,
                      on_state=on_state, record=record)
