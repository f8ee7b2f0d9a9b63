"""Rolling Releases and Instant Rollback endpoints over a ``Platform`` (docs/platform-api.md §8).

Shapes are @vercel/sdk's ``rollingRelease*`` and ``requestRollback`` operations; what the
published sources do not say is marked there as an assumption. A plan without Rolling Releases
(knob ``rolling_releases=false``) reports ``plan_not_supported`` in the billing status, a null
config and release, and refuses every write with 403.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from reversal.sandbox.api import Call, Reply, error
from reversal.sandbox.platform import Deployment, Platform, Release

_ROLLING = re.compile(
    r"/v1/projects/([^/]+)/rolling-release(?:/(config|billing|start|approve-stage|complete))?")
_ROLLBACK = re.compile(r"/v(?:1|9)/projects/([^/]+)/rollback/([^/]+)")
ADVANCEMENT_TYPES = ("automatic", "manual-approval")
_NO_PLAN = "Rolling Releases are not available on your plan. Upgrade to Pro or Enterprise to use them."


def _deployment_ref(d: Deployment, now_ms: int, name: str) -> dict[str, Any]:
    """``currentDeployment`` / ``canaryDeployment`` (@vercel/sdk models/getrollingreleaseop.ts)."""
    state = d.state(now_ms)
    return {"id": d.id, "name": name, "url": d.url, "createdAt": d.created_ms, "readyState": state,
            "readyStateAt": d.ready_ms if state in ("READY", "ERROR") else None,
            "target": d.target, "source": d.source}


def _stages(release: Release) -> list[dict[str, Any]]:
    last = len(release.stages) - 1
    return [{"index": i, "isFinalStage": i == last, "targetPercentage": s["targetPercentage"],
             "requireApproval": bool(s.get("requireApproval")), "duration": s.get("duration"),
             "linearShift": False}
            for i, s in enumerate(release.stages)]


def release_view(platform: Platform, release: Release | None, now_ms: int) -> dict[str, Any]:
    """``{"rollingRelease": ...}`` as every rolling-release operation answers it."""
    if release is None:
        return {"rollingRelease": None}
    stages = _stages(release)
    active = release.active_index if release.state == "ACTIVE" else None
    refs = {}
    for key, ident in (("currentDeployment", release.current_id), ("canaryDeployment", release.canary_id)):
        found = platform.find_deployment(ident)
        refs[key] = _deployment_ref(found, now_ms, platform.project_name) if found else None
    return {"rollingRelease": {
        "state": release.state, "substate": None, **refs, "queuedDeploymentId": None,
        "advancementType": release.advancement, "stages": stages,
        "activeStage": stages[active] if active is not None else None,
        "nextStage": stages[active + 1] if active is not None and active + 1 < len(stages) else None,
        "startedAt": release.started_ms, "updatedAt": release.updated_ms,
    }}


def _config_problem(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return "the body must be a JSON object"
    if not body.get("enabled", True):
        return None
    if body.get("advancementType") not in ADVANCEMENT_TYPES:
        return "`advancementType` must be automatic or manual-approval"
    stages = body.get("stages")
    if not isinstance(stages, list) or not 2 <= len(stages) <= 10:
        return "`stages` must list 2 to 10 stages"
    shares = [s.get("targetPercentage") if isinstance(s, Mapping) else None for s in stages]
    if not all(isinstance(p, int | float) and 0 <= p <= 100 for p in shares):
        return "every stage needs a targetPercentage between 0 and 100"
    if shares[-1] != 100 or any(a >= b for a, b in itertools.pairwise(shares)):
        return "stage percentages must increase and the final stage must be 100"
    return None


def configure(platform: Platform, call: Call) -> Reply:
    """``PATCH …/rolling-release/config``: the CLI's ``vercel rr configure`` body
    (``enabled``, ``advancementType``, ``stages``); ``enabled: false`` disables."""
    problem = _config_problem(call.body)
    if problem:
        return error(400, "bad_request", f"Invalid request: {problem}.")
    with platform.lock:
        if not call.body.get("enabled", True):
            platform.rolling_config = None
            return Reply(200, {"rollingRelease": None})
        manual = call.body["advancementType"] == "manual-approval"
        stages = [{"targetPercentage": s["targetPercentage"],
                   "requireApproval": manual and i < len(call.body["stages"]) - 1,
                   **({"duration": s["duration"]} if "duration" in s else {})}
                  for i, s in enumerate(call.body["stages"])]
        platform.rolling_config = {"target": "production", "stages": stages,
                                   "advancementType": call.body["advancementType"]}
        return Reply(200, {"rollingRelease": {"stages": stages}})


def start_release(platform: Platform, canary: Deployment, now_ms: int) -> Release | None:
    """A release of ``canary`` against the deployment serving production, at the config's first
    stage; None if there is no config or nothing serves. Also what a production deployment made
    while the config is enabled does on its own ("triggers rolling release automatically")."""
    with platform.lock:
        config, current = platform.rolling_config, platform.serving(now_ms)
        if config is None or current is None:
            return None
        release = Release(canary_id=canary.id, current_id=current.id, stages=list(config["stages"]),
                          advancement=config["advancementType"], started_ms=now_ms, updated_ms=now_ms)
        release.move(now_ms, "ACTIVE", 0)
        platform.release = release
        platform.audit.append({"action": "rolling-release.start", "id": canary.id, "atMs": now_ms})
        return release


def _start(platform: Platform, call: Call, now_ms: int) -> Reply:
    ident = call.body.get("canaryDeploymentId") if isinstance(call.body, Mapping) else None
    if not isinstance(ident, str):
        return error(400, "bad_request", "Invalid request: missing required property `canaryDeploymentId`.")
    canary = platform.find_deployment(ident)
    if canary is None:
        return error(404, "not_found", f"Could not find the deployment: {ident}")
    with platform.lock:
        active = platform.release if platform.release and platform.release.state == "ACTIVE" else None
        if active is not None and active.canary_id == canary.id:  # "returns the current state"
            return Reply(200, release_view(platform, active, now_ms))
        if active is not None:
            return error(409, "conflict", "A rolling release is already active; complete or abort it first.")
        if canary.target != "production" or canary.state(now_ms) in ("ERROR", "CANCELED", "BLOCKED"):
            return error(400, "bad_request", f"Deployment {ident} cannot be a canary: it is not a "
                         "healthy production deployment.")
        release = start_release(platform, canary, now_ms)
    if release is None:
        return error(400, "bad_request", "Rolling releases are not configured for this project.")
    return Reply(200, release_view(platform, release, now_ms))


def _active(platform: Platform, call: Call) -> Release | Reply:
    ident = call.body.get("canaryDeploymentId") if isinstance(call.body, Mapping) else None
    release = platform.release
    if release is None or release.state != "ACTIVE":
        return error(404, "not_found", "No active rolling release for this project.")
    if ident != release.canary_id:
        return error(400, "bad_request",
                     f"Deployment {ident} is not the canary of the active rolling release.")
    return release


def _complete(platform: Platform, release: Release, now_ms: int) -> None:
    canary = platform.find_deployment(release.canary_id)
    assert canary is not None
    release.move(now_ms, "COMPLETE", None)
    canary.promoted_ms = now_ms
    platform.promote_to(canary, now_ms)
    platform.audit.append({"action": "rolling-release.complete", "id": canary.id, "atMs": now_ms})


def _approve(platform: Platform, call: Call, now_ms: int) -> Reply:
    with platform.lock:
        release = _active(platform, call)
        if isinstance(release, Reply):
            return release
        wanted = call.body.get("nextStageIndex")
        if not isinstance(wanted, int) or wanted != (release.active_index or 0) + 1:
            return error(400, "bad_request", "Invalid request: `nextStageIndex` must be the stage after "
                         f"the active one ({(release.active_index or 0) + 1}).")
        if wanted == len(release.stages) - 1:
            _complete(platform, release, now_ms)
        else:
            release.move(now_ms, "ACTIVE", wanted)
        return Reply(200, release_view(platform, release, now_ms))


def _complete_call(platform: Platform, call: Call, now_ms: int) -> Reply:
    with platform.lock:
        release = _active(platform, call)
        if isinstance(release, Reply):
            return release
        _complete(platform, release, now_ms)
        return Reply(200, release_view(platform, release, now_ms))


def billing(platform: Platform) -> dict[str, Any]:
    """``GET …/rolling-release/billing`` (@vercel/sdk models/getrollingreleasebillingstatusop.ts)."""
    if not platform.rolling_plan:
        return {"availableSlots": 0, "reason": "plan_not_supported", "message": _NO_PLAN}
    return {"availableSlots": "unlimited", "reason": "unlimited_slots",
            "message": "Rolling Releases can be enabled on any project of this team."}


def rollback(platform: Platform, ident: str, now_ms: int) -> Reply:
    """``POST /v1/projects/{projectId}/rollback/{deploymentId}``: 201, no body. Production points at
    the deployment again at once (no build); an active rolling release is aborted (what
    ``vercel rr abort`` relies on)."""
    target = platform.find_deployment(ident)
    if target is None:
        return error(404, "not_found", f"Could not find the deployment: {ident}")
    if not platform.instant_rollback:  # ⚠️ the status and code are our assumption (docs/sandbox.md)
        return error(422, "not_rollback_candidate", f"Deployment {ident} cannot be rolled back to: it is "
                     "not a rollback candidate.")
    if target.target != "production" or target.state(now_ms) != "READY":
        return error(400, "bad_request", f"Deployment {ident} is not a READY production deployment; "
                     "only those can be rolled back to.")
    with platform.lock:
        release = platform.release
        if release is not None and release.state == "ACTIVE":
            release.move(now_ms, "ABORTED", None)
        platform.promote_to(target, now_ms)
        platform.audit.append({"action": "deployment.rollback", "id": target.id, "atMs": now_ms})
    return Reply(201, b"")


def rolling_api(platform: Platform, call: Call, now_ms: int) -> Reply | None:
    """The reply for a Rolling Releases or rollback path, or None for any other path."""
    m, path = call.method, call.path.rstrip("/")
    if match := _ROLLBACK.fullmatch(path):
        if match.group(1) not in (platform.project_id, platform.project_name):
            return error(404, "not_found", f"Project not found: {match.group(1)}")
        return rollback(platform, match.group(2), now_ms) if m == "POST" else _method(call)
    match = _ROLLING.fullmatch(path)
    if match is None:
        return None
    if match.group(1) not in (platform.project_id, platform.project_name):
        return error(404, "not_found", f"Project not found: {match.group(1)}")
    action = match.group(2)
    if action == "billing" and m == "GET":
        return Reply(200, billing(platform))
    if m == "GET" and action in (None, "config"):
        if action == "config":
            config = platform.rolling_config if platform.rolling_plan else None
            return Reply(200, {"rollingRelease": None if config is None else
                               {k: v for k, v in config.items() if k != "advancementType"}})
        state = call.query.get("state")
        release = platform.release if platform.rolling_plan else None
        return Reply(200, release_view(platform, release if release is None or state in (None, release.state)
                                       else None, now_ms))
    writes = {("PATCH", "config"): lambda: configure(platform, call),
              ("POST", "start"): lambda: _start(platform, call, now_ms),
              ("POST", "approve-stage"): lambda: _approve(platform, call, now_ms),
              ("POST", "complete"): lambda: _complete_call(platform, call, now_ms)}
    handler = writes.get((m, action or ""))
    if handler is None:
        return _method(call)
    if not platform.rolling_plan:
        return error(403, "forbidden", _NO_PLAN)
    return handler()


def _method(call: Call) -> Reply:
    return error(405, "method_unknown", f"{call.method} is not allowed on {call.path}")
