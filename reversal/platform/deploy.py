"""Redeploy production so a new env applies, and follow it until it serves production.

"Production" is what Vercel says serves it: the project's production deployment
(``targets.production``, as ``vercel logs`` finds it), not the newest READY production build,
which after an Instant Rollback or with a staged build (``readySubstate`` STAGED/ROLLING) is not
the live one. A redeploy is done when it is READY *and* serving production (``readySubstate``
PROMOTED, or the project's production pointer names it). ERROR, CANCELED, DELETED and BLOCKED
are terminal. Time comes from the ``Clock`` (the sandbox compresses it); every state change is
recorded with the time it was seen, so the deploy artifact shows how long each phase took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reversal.clock import Clock
from reversal.errors import StepFailed
from reversal.platform.vercel import INTENT_META_KEY, Deployment, VercelClient

FAILED_STATES = frozenset({"ERROR", "CANCELED", "DELETED", "BLOCKED"})
SERVING = "PROMOTED"
PROMOTE_GRACE_S = 120.0
"""How long a READY deployment may stay STAGED/ROLLING (aliases being assigned, a rolling
release advancing) before the wait stops and names the fix."""
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
    final_state: str | None = None  # READY, ERROR, CANCELED, BLOCKED, or the last state at a deadline
    timed_out: bool = False
    ready_substate: str | None = None
    serving: bool = False  # READY and serving production

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id, "url": self.url, "sourceId": self.source_id,
            "states": [{"state": s, "atMs": at} for s, at in self.states],
            "createdMs": self.created_ms, "readyMs": self.ready_ms, "finalState": self.final_state,
            "readySubstate": self.ready_substate, "servingProduction": self.serving,
            "timedOut": self.timed_out,
        }


class DeployFailed(StepFailed):
    """The deployment ended in ERROR or CANCELED, or did not finish before the deadline."""

    def __init__(self, message: str, record: DeployRecord) -> None:
        super().__init__(message)
        self.record = record


def find_production(client: VercelClient) -> tuple[Deployment, str]:
    """The deployment serving production and how it was found: the project's production
    deployment, else (an API that names none) the newest READY production deployment that has
    served production (``readySubstate`` not STAGED)."""
    live_id = client.production_deployment_id()
    if live_id is not None:
        return client.get_deployment(live_id), "project production deployment"
    found = [d for d in client.list_deployments(target="production", state="READY", limit=20)
             if d.ready_substate in (None, SERVING)]
    if not found:
        raise StepFailed(
            f"Project {client.project_id} has no READY production deployment serving production "
            "to redeploy; deploy it once (e.g. 'vercel --prod') before running the loop."
        )
    return found[0], "newest READY production deployment (the project names none)"


def current_production(client: VercelClient) -> Deployment:
    """The deployment serving production: the one a redeploy rebuilds."""
    return find_production(client)[0]


def _serving(client: VercelClient, deployment: Deployment) -> bool:
    """READY and serving production: PROMOTED, or (no substate) the project's pointer names it."""
    if deployment.ready_substate is not None:
        return deployment.ready_substate == SERVING
    live_id = client.production_deployment_id()
    return live_id is None or live_id == deployment.id


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
    """Poll ``deployment_id`` until READY and serving production (returned), or ERROR /
    CANCELED / DELETED / BLOCKED / READY-but-not-serving past the grace / deadline (raised)."""
    started = clock.now_ms()
    record = record or DeployRecord(id=deployment_id, url="", source_id=None)
    ready_since: int | None = None
    while True:
        deployment = client.get_deployment(deployment_id)
        now = clock.now_ms()
        record.url = deployment.url or record.url
        record.created_ms = deployment.created_ms or record.created_ms
        elapsed = (now - started) / 1000
        label = deployment.state + (f"/{deployment.ready_substate}" if deployment.ready_substate
                                    and deployment.ready_substate != SERVING else "")
        if not record.states or record.states[-1][0] != label:
            record.states.append((label, now))
            on_state(label, elapsed)
        if deployment.state == "READY":
            record.ready_substate = deployment.ready_substate
            record.ready_ms = deployment.ready_ms or record.ready_ms or now
            if _serving(client, deployment):
                record.final_state, record.serving = "READY", True
                return record
            ready_since = ready_since if ready_since is not None else now
            if (now - ready_since) / 1000 + poll_s > PROMOTE_GRACE_S:
                record.final_state = "READY"
                raise DeployFailed(
                    f"Deployment {deployment_id} is READY but not serving production after "
                    f"{(now - ready_since) / 1000:.0f}s (readySubstate "
                    f"{deployment.ready_substate or 'unknown'}); nothing was probed. Promote it "
                    f"('vercel promote {deployment_id}', or approve the rolling release), or turn "
                    "on auto-assignment of production domains, then resume.",
                    record,
                )
        elif deployment.state in FAILED_STATES:
            record.final_state = deployment.state
            why = f" ({deployment.state_reason})" if deployment.state_reason else ""
            raise DeployFailed(
                f"Deployment {deployment_id} ended {deployment.state}{why} after {elapsed:.0f}s "
                f"(states: {' -> '.join(s for s, _ in record.states)}); production still serves "
                "the previous deployment. See the deployment's build logs and checks in Vercel.",
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
