"""Rolling Releases and Instant Rollback on the Vercel REST API (docs/platform-api.md §8).

A rolling release serves a set share of production traffic to a *canary* deployment and the
rest to the current production deployment, so a canary iteration measures two builds over the
same minutes. Instant Rollback points production back at an earlier deployment without a build.

Shapes are @vercel/sdk's (``rollingRelease*`` and ``requestRollback`` operations). The SDK has
no abort operation: the CLI's ``vercel rr abort`` requests a rollback to the deployment that
served before, so ``abort`` here is an Instant Rollback to the control. Each POST that may have
landed before a timeout is not repeated blindly: its retry first reads the release (or the
production deployment) and stops if the effect is already there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reversal.clock import Clock
from reversal.errors import StepFailed
from reversal.platform.deploy import FAILED_STATES, DeployFailed, DeployRecord, StateCallback
from reversal.platform.vercel import INTENT_META_KEY, Deployment, VercelClient, VercelError

UNAVAILABLE_REASONS = frozenset({"plan_not_supported", "no_available_slots"})
"""``GET …/rolling-release/billing`` reasons that leave no Rolling Release for the project."""
ROLLBACK_REFUSED = frozenset({400, 402, 403, 404, 409, 410, 422})
"""``requestRollback``'s documented error statuses but 401 (the token): the rollback is not possible
(plan, eligibility, permission, conflict), which is not an outage."""


class RollingReleasesUnavailable(StepFailed):
    """The project cannot run a rolling release (plan, slots, or the endpoints refuse)."""


@dataclass(frozen=True)
class Stage:
    index: int
    target_percentage: float
    require_approval: bool
    is_final: bool


@dataclass(frozen=True)
class RollingRelease:
    """The project's rolling release document (``GET /v1/projects/{id}/rolling-release``)."""

    state: str  # ACTIVE | COMPLETE | ABORTED
    canary_id: str | None
    current_id: str | None
    stages: tuple[Stage, ...]
    active_stage: Stage | None
    next_stage: Stage | None
    advancement_type: str | None

    @property
    def canary_percentage(self) -> float | None:
        return self.active_stage.target_percentage if self.active_stage else None


def _stage(raw: Any) -> Stage | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("index"), int):
        return None
    share = raw.get("targetPercentage")
    return Stage(index=raw["index"],
                 target_percentage=float(share) if isinstance(share, int | float) else 0.0,
                 require_approval=bool(raw.get("requireApproval")), is_final=bool(raw.get("isFinalStage")))


def _id(raw: Any) -> str | None:
    return str(raw["id"]) if isinstance(raw, Mapping) and raw.get("id") else None


def parse_rolling_release(body: Any) -> RollingRelease | None:
    """The ``rollingRelease`` of a response body, or None (no release: ``{"rollingRelease": null}``)."""
    raw = body.get("rollingRelease") if isinstance(body, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    stages = tuple(s for s in map(_stage, raw.get("stages") or ()) if s is not None)
    return RollingRelease(
        state=str(raw.get("state") or "UNKNOWN"), canary_id=_id(raw.get("canaryDeployment")),
        current_id=_id(raw.get("currentDeployment")), stages=stages,
        active_stage=_stage(raw.get("activeStage")), next_stage=_stage(raw.get("nextStage")),
        advancement_type=str(raw["advancementType"]) if raw.get("advancementType") else None,
    )


def canary_config(share_percent: float) -> dict[str, Any]:
    """A two-stage, manually approved config: ``share_percent`` until approved, then 100%. Manual
    approval keeps the split fixed for as long as the loop measures (automatic advancement would
    move it on a timer the loop does not control). The CLI's ``vercel rr configure`` body."""
    if not 0 < share_percent < 100:
        raise ValueError(f"canary share {share_percent}% must be strictly between 0 and 100")
    return {"enabled": True, "advancementType": "manual-approval",
            "stages": [{"targetPercentage": share_percent, "requireApproval": True},
                       {"targetPercentage": 100}]}


class RollingReleases:
    """The project's Rolling Releases and Instant Rollback, over a ``VercelClient``."""

    def __init__(self, client: VercelClient) -> None:
        self.client = client
        self._base = f"/v1/projects/{client.project_id}"

    # -- availability and config -------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """Why the project cannot run a rolling release, or None. Reads the billing status
        (``GET …/rolling-release/billing``); an endpoint that refuses (403/404) is a reason too."""
        try:
            body = self.client.call("GET", f"{self._base}/rolling-release/billing",
                                    "rolling release billing status")
        except VercelError as exc:
            if exc.status in (402, 403, 404):
                return f"the Rolling Releases endpoints refuse ({exc})"
            raise
        reason = body.get("reason") if isinstance(body, Mapping) else None
        if reason in UNAVAILABLE_REASONS:
            message = body.get("message") or reason
            return f"Rolling Releases are not available to this project: {message} ({reason})"
        return None

    def get_config(self) -> dict[str, Any] | None:
        """The project's rolling release template (``rollingRelease``), None when disabled."""
        body = self.client.call("GET", f"{self._base}/rolling-release/config", "rolling release config")
        found = body.get("rollingRelease") if isinstance(body, Mapping) else None
        return dict(found) if isinstance(found, Mapping) else None

    def configure(self, config: Mapping[str, Any]) -> None:
        """``PATCH …/rolling-release/config`` (idempotent: retried as is)."""
        self.client.call("PATCH", f"{self._base}/rolling-release/config", "rolling release configure",
                         body=dict(config))

    # -- the release ---------------------------------------------------------------------------
    def get(self, *, state: str | None = None) -> RollingRelease | None:
        body = self.client.call("GET", f"{self._base}/rolling-release", "rolling release get",
                                params={"state": state})
        return parse_rolling_release(body)

    def _landed(self, check: Any) -> Any:
        def recover() -> Mapping[str, Any] | None:
            found = self.get()
            return {"landed": found} if found is not None and check(found) else None
        return recover

    def _post(self, action: str, body: Mapping[str, Any], check: Any) -> RollingRelease | None:
        reply = self.client.call("POST", f"{self._base}/rolling-release/{action}",
                                 f"rolling release {action}", body=dict(body), recover=self._landed(check))
        if isinstance(reply, Mapping) and "landed" in reply:
            return reply["landed"]  # type: ignore[no-any-return]
        return parse_rolling_release(reply)

    def start(self, canary_id: str) -> RollingRelease | None:
        """``POST …/rolling-release/start`` with ``{canaryDeploymentId}``."""
        return self._post("start", {"canaryDeploymentId": canary_id},
                          lambda r: r.canary_id == canary_id and r.state == "ACTIVE")

    def approve_stage(self, canary_id: str, next_stage_index: int) -> RollingRelease | None:
        """``POST …/rolling-release/approve-stage`` with ``{nextStageIndex, canaryDeploymentId}``."""
        body = {"nextStageIndex": next_stage_index, "canaryDeploymentId": canary_id}
        return self._post("approve-stage", body,
                          lambda r: r.canary_id == canary_id and (
                              r.state == "COMPLETE"
                              or (r.active_stage is not None and r.active_stage.index >= next_stage_index)))

    def complete(self, canary_id: str) -> RollingRelease | None:
        """``POST …/rolling-release/complete`` with ``{canaryDeploymentId}``: 100% to the canary."""
        return self._post("complete", {"canaryDeploymentId": canary_id},
                          lambda r: r.canary_id == canary_id and r.state == "COMPLETE")

    def abort(self, control_id: str) -> None:
        """Abort the active release: every request back to ``control_id``. The SDK has no abort
        operation; ``vercel rr abort`` requests a rollback, and so does this."""
        self.rollback(control_id, description="reversal: canary aborted")

    # -- Instant Rollback --------------------------------------------------------------------
    def rollback(self, deployment_id: str, *, description: str | None = None) -> None:
        """``POST /v1/projects/{projectId}/rollback/{deploymentId}`` (201, no body): production
        points at ``deployment_id`` again, without a build. A retry first checks whether
        production already serves it."""

        def landed() -> Mapping[str, Any] | None:
            return {} if self.client.production_deployment_id() == deployment_id else None

        self.client.call("POST", f"{self._base}/rollback/{deployment_id}",
                         f"instant rollback to {deployment_id}", params={"description": description},
                         recover=landed)


# -- the canary build ---------------------------------------------------------------------------

def wait_built(client: VercelClient, deployment_id: str, *, clock: Clock, deadline_s: float = 900,
               poll_s: float = 5, on_state: StateCallback | None = None,
               record: DeployRecord | None = None) -> DeployRecord:
    """Poll a canary build until READY, whatever its substate (it must *not* take production);
    a failure state or the deadline raises ``DeployFailed``."""
    started = clock.now_ms()
    record = record or DeployRecord(id=deployment_id, url="", source_id=None)
    while True:
        deployment = client.get_deployment(deployment_id)
        now = clock.now_ms()
        record.url = deployment.url or record.url
        elapsed = (now - started) / 1000
        label = deployment.state + (f"/{deployment.ready_substate}" if deployment.ready_substate else "")
        if not record.states or record.states[-1][0] != label:
            record.states.append((label, now))
            if on_state is not None:
                on_state(label, elapsed)
        if deployment.state == "READY":
            record.final_state, record.ready_substate = "READY", deployment.ready_substate
            record.ready_ms = deployment.ready_ms or now
            return record
        if deployment.state in FAILED_STATES:
            record.final_state = deployment.state
            raise DeployFailed(f"Canary deployment {deployment_id} ended {deployment.state}; production "
                               "was never touched.", record)
        if elapsed + poll_s > deadline_s:
            record.final_state, record.timed_out = deployment.state, True
            raise DeployFailed(f"Canary deployment {deployment_id} is still {deployment.state} after "
                               f"{elapsed:.0f}s; resume later to keep waiting for it.", record)
        clock.sleep(poll_s)


def build_canary(client: VercelClient, *, source: Deployment, clock: Clock, intent_id: str,
                 on_state: StateCallback | None = None) -> DeployRecord:
    """Rebuild ``source`` for production without the production domains (the new env baked in),
    tagged with ``intent_id``, and wait until it is READY."""
    created = client.create_deployment(name=source.name, deployment_id=source.id, target="production",
                                       meta={INTENT_META_KEY: intent_id}, auto_assign=False)
    record = DeployRecord(id=created.id, url=created.url, source_id=source.id,
                          created_ms=created.created_ms)
    return wait_built(client, created.id, clock=clock, on_state=on_state, record=record)
