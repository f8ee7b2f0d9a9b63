"""Vercel- and Inngest-shaped REST endpoints over a ``Platform`` (shapes: docs/platform-api.md).

Each endpoint is a function from a parsed request to ``Reply(status, body, headers)``; the
loopback servers only move bytes. Paths, versions, fields, the error body
``{"error": {"code", "message"}}`` and the pagination schemes are the ones the real client
speaks, so the client runs unchanged against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reversal.sandbox.app import RequestRecord, iso
from reversal.sandbox.platform import CRONS, Deployment, Platform


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: Any  # decoded JSON, or None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Faults:
    api_429_rate: float = 0.0
    api_5xx_rate: float = 0.0


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message, **extra}})


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _gate(call: Call, platform: Platform, token: str, faults: Faults, rng: random.Random) -> Reply | None:
    """Token, team scope and the injected rate-limit / server faults, in Vercel's order."""
    if _bearer(call.headers) != token:
        return error(401, "forbidden", "Not authorized", invalidToken=True)
    team = call.query.get("teamId")
    if team is not None and team != platform.team_id:
        return error(403, "forbidden", "You don't have permission to access this team.")
    if faults.api_429_rate and rng.random() < faults.api_429_rate:
        reset_ms = int(time.time() * 1000) + 1000
        reply = error(429, "rate_limited",
                      "The rate limit of 100 exceeded for 'api-sandbox'. Try again in 1 second",
                      limit={"remaining": 0, "reset": reset_ms // 1000, "resetMs": reset_ms, "total": 100})
        headers = {"retry-after": "1", "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0",
                   "x-ratelimit-reset": str(reset_ms // 1000)}
        return Reply(429, reply.body, headers)
    if faults.api_5xx_rate and rng.random() < faults.api_5xx_rate:
        return error(500, "internal_server_error", "An unexpected internal error occurred.")
    return None


# -- env ------------------------------------------------------------------------------------------
def _env_view(entry: Mapping[str, Any], decrypt: bool) -> dict[str, Any]:
    view = dict(entry)
    if entry["type"] == "sensitive":
        view.pop("value", None)
        view["decrypted"] = False
    elif not decrypt and entry["type"] != "plain":
        view["value"] = "enc:" + hashlib.sha256(entry["value"].encode()).hexdigest()[:32]
        view["decrypted"] = False
    else:
        view["decrypted"] = entry["type"] != "plain"
    return view


def _project(platform: Platform, id_or_name: str) -> Reply | None:
    if id_or_name in (platform.project_id, platform.project_name):
        return None
    return error(404, "not_found", f"Project not found: {id_or_name}")


def _targets(value: Any) -> list[str] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            t in ("production", "preview", "development") for t in items):
        return None
    return list(items)


def _env_records(platform: Platform, requested: str, targets: list[str]
                 ) -> list[tuple[str, list[str]]] | None:
    """The (type, targets) records Vercel stores for one new var. With the team's sensitive policy on,
    an ``encrypted`` production/preview var silently becomes ``sensitive`` (internals/types
    ``Team.sensitiveEnvironmentVariablePolicy``); development cannot be sensitive, so a var that also
    targets development is split into a sensitive record and a development one, as the docs'
    "Sensitive environment variables" page describes. None: ``sensitive`` asked for development."""
    if requested == "sensitive" and "development" in targets:
        return None
    promoted = platform.enforce_sensitive and requested == "encrypted"
    if not (promoted and {"production", "preview"} & set(targets)):
        return [(requested, targets)]
    rest = [t for t in targets if t != "development"]
    return [("sensitive", rest)] + ([("encrypted", ["development"])] if "development" in targets else [])


def list_env(platform: Platform, call: Call) -> Reply:
    decrypt = call.query.get("decrypt") == "true"
    target = call.query.get("target")
    with platform.lock:
        envs = [_env_view(e, decrypt) for e in platform.envs if target is None or target in e["target"]]
    return Reply(200, {"envs": envs})


def pull_env(platform: Platform, target: str) -> Reply:
    """``GET /v3/env/pull/{project}/{target}`` (packages/cli/src/util/env/get-env-records.ts): the
    target's vars as a flat map; a sensitive value cannot be read back, so it is pulled empty."""
    if target not in ("production", "preview", "development"):
        return error(404, "not_found", f"Unknown environment: {target}")
    with platform.lock:
        env = {e["key"]: "" if e["type"] == "sensitive" else e["value"]
               for e in platform.envs if target in e["target"]}
    return Reply(200, {"env": env, "buildEnv": env})


def get_env(platform: Platform, env_id: str) -> Reply:
    with platform.lock:
        entry = next((e for e in platform.envs if e["id"] == env_id), None)
        if entry is None:
            return error(404, "not_found", f"Could not find the environment variable: {env_id}")
        return Reply(200, _env_view(entry, decrypt=True))


def _create_one(platform: Platform, item: Mapping[str, Any], type_: str, targets: list[str], upsert: bool,
                now_ms: int) -> dict[str, Any]:
    """One stored record (created, or updated by ``upsert``), or the ``failed[]`` entry of a clash."""
    key = item["key"]
    with platform.lock:
        clash = next((e for e in platform.envs if e["key"] == key and set(e["target"]) & set(targets)), None)
        if clash is not None and not upsert:
            return {"error": {"code": "ENV_ALREADY_EXISTS", "key": key, "envVarId": clash["id"],
                              "message": f"A variable with the name `{key}` already exists for "
                                         "the target production, preview or development.",
                              "target": targets}}
        value = platform.stored_value(key, item["value"])
        platform.audit.append({"action": "env.write", "key": key, "atMs": now_ms})
        if clash is not None:
            clash.update(value=value, type=type_, target=targets, updatedAt=now_ms,
                         updatedBy="user_sandbox", comment=item.get("comment", clash["comment"]))
            return _env_view(clash, decrypt=False)
        entry = platform.add_env(key, value, now_ms, type_=type_, target=tuple(targets))
        entry["comment"] = item.get("comment")
        return _env_view(entry, decrypt=False)


def create_env(platform: Platform, call: Call, now_ms: int) -> Reply:
    items = call.body if isinstance(call.body, list) else [call.body]
    upsert = call.query.get("upsert") == "true"
    created: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            return error(400, "bad_request", "Invalid request: each item must be an object.")
        missing = [k for k in ("key", "value", "type") if not isinstance(item.get(k), str)]
        targets = _targets(item.get("target"))
        if missing or targets is None:
            return error(400, "bad_request", "Invalid request: missing required property "
                         f"`{(missing or ['target'])[0]}` (key, value, type and target are required).")
        records = _env_records(platform, item["type"], targets)
        if records is None:
            return error(400, "bad_request", "Sensitive Environment Variables are not supported on the "
                         "Development Environment.")
        for type_, record_targets in records:
            outcome = _create_one(platform, item, type_, record_targets, upsert, now_ms)
            (created if "error" not in outcome else failed).append(outcome)
    body_created: Any = created if isinstance(call.body, list) else (created[0] if created else [])
    return Reply(201, {"created": body_created, "failed": failed})


def edit_env(platform: Platform, call: Call, env_id: str, now_ms: int) -> Reply:
    if not isinstance(call.body, Mapping):
        return error(400, "bad_request", "Invalid request: the body must be a JSON object.")
    with platform.lock:
        entry = next((e for e in platform.envs if e["id"] == env_id), None)
        if entry is None:
            return error(404, "not_found", f"Could not find the environment variable: {env_id}")
        targets = _targets(call.body["target"]) if "target" in call.body else entry["target"]
        if targets is None:
            return error(400, "bad_request", "Invalid request: `target` must list production, preview "
                         "or development.")
        if call.body.get("type", entry["type"]) == "sensitive" and "development" in targets:
            return error(400, "bad_request", "Sensitive Environment Variables are not supported on the "
                         "Development Environment.")
        entry["target"] = targets  # a PATCH without `target` keeps the record's targets: all of them change
        for key in ("key", "type", "comment", "gitBranch"):
            if key in call.body:
                entry[key] = call.body[key]
        if "value" in call.body:
            if not isinstance(call.body["value"], str):
                return error(400, "bad_request", "Invalid request: `value` must be a string.")
            entry["value"] = platform.stored_value(entry["key"], call.body["value"])
            platform.audit.append({"action": "env.write", "key": entry["key"], "atMs": now_ms})
        entry.update(updatedAt=now_ms, updatedBy="user_sandbox")
        return Reply(200, _env_view(entry, decrypt=False))


# -- deployments ----------------------------------------------------------------------------------
_CREATOR = {"uid": "user_sandbox", "username": "sandbox", "email": "sandbox@example.com"}
_REGIONS = ["iad1"]


def _deployment_common(platform: Platform, d: Deployment, now_ms: int) -> dict[str, Any]:
    state = d.state(now_ms)
    ready = d.ready_ms if state in ("READY", "ERROR") else None
    building = min(d.created_ms + 2000, d.ready_ms) if state not in ("QUEUED", "BLOCKED") else None
    substate = d.ready_substate(now_ms)
    promoted = substate == "PROMOTED"
    rolling = platform.release
    if (substate == "STAGED" and rolling is not None
            and (rolling.state, rolling.canary_id) == ("ACTIVE", d.id)):
        substate = "ROLLING"  # the canary of an active rolling release
    return {
        "name": platform.project_name, "projectId": platform.project_id, "url": d.url,
        "createdAt": d.created_ms, "buildingAt": building, "ready": ready if state == "READY" else None,
        "readyState": state, "readySubstate": substate,
        "target": d.target, "meta": d.meta, "creator": dict(_CREATOR),
        "aliasAssigned": promoted, "aliasError": None,
        "inspectorUrl": f"https://vercel.com/{platform.team_id}/{platform.project_name}/{d.id[4:]}",
    }


def deployment_view(platform: Platform, d: Deployment, now_ms: int) -> dict[str, Any]:
    """``GET /v13/deployments/{idOrUrl}`` and ``POST /v13/deployments``, the owner view
    (@vercel/sdk models/getdeploymentresponsebody1.ts ``GetDeploymentResponseBody2``)."""
    view = {"id": d.id, **_deployment_common(platform, d, now_ms)}
    promoted = view["aliasAssigned"]
    view.update(status=view["readyState"], canceledAt=None,
                alias=[platform.domain] if promoted else [], aliasAssignedAt=d.ready_ms if promoted else None,
                type="LAMBDAS", plan="pro", regions=list(_REGIONS), env=[], build={"env": []},
                projectSettings={}, public=False, ownerId=platform.team_id, version=2,
                lambdas=[], routes=None, source=d.source, isInConcurrentBuildsQueue=False,
                isInSystemBuildsQueue=False, createdIn=_REGIONS[0], bootedAt=d.created_ms,
                buildingAt=view["buildingAt"] or d.created_ms, readyStateReason=None,
                crons=[{"schedule": c["schedule"], "path": c["path"]} for c in d.crons])
    if view["readyState"] == "ERROR":
        view.update(errorCode="BUILD_FAILED", errorStep="build",
                    errorMessage='Command "npm run build" exited with 1')
    if view["readyState"] == "BLOCKED":
        view.update(readyStateReason="The deployment was blocked: the commit author is not a member "
                    "of the team.")
    return view


def builds_view(d: Deployment, now_ms: int) -> list[dict[str, Any]]:
    """``GET /v11/deployments/{id}/builds``, read by ``vercel inspect`` for a version-2 deployment
    (packages/cli/src/commands/inspect/index.ts, internals/types ``Build``): one Next.js build."""
    state = d.state(now_ms)
    if state in ("QUEUED", "BLOCKED"):
        return []
    return [{"id": "bld_" + d.id[4:18].lower(), "deploymentId": d.id, "entrypoint": "package.json",
             "readyState": state, "readyStateAt": d.ready_ms if state != "BUILDING" else now_ms,
             "createdAt": d.created_ms, "createdIn": _REGIONS[0], "use": "@vercel/next",
             "config": {"zeroConfig": True}, "output": [], "fingerprint": None}]


def deployment_summary(platform: Platform, d: Deployment, now_ms: int) -> dict[str, Any]:
    """One item of ``GET /v6|v7/deployments`` (@vercel/sdk models/getdeploymentsop.ts ``Deployments``)."""
    common = _deployment_common(platform, d, now_ms)
    return {"uid": d.id, **common, "created": d.created_ms, "state": common["readyState"],
            "type": "LAMBDAS", "source": d.source,
            "isRollbackCandidate": platform.instant_rollback and d.target == "production"
            and d.state(now_ms) == "READY"}


def project_deployment(platform: Platform, d: Deployment, now_ms: int) -> dict[str, Any]:
    """A deployment as the project embeds it in ``targets`` and ``latestDeployments``
    (@vercel/sdk models/getprojectfrompreset.ts ``GetProjectTargets``)."""
    common = _deployment_common(platform, d, now_ms)
    view = {key: common[key] for key in ("createdAt", "creator", "readyState", "readySubstate", "target",
                                         "meta", "aliasAssigned", "aliasError", "url", "name")}
    view.update(id=d.id, createdIn=_REGIONS[0], deploymentHostname=d.url.removesuffix(".vercel.app"),
                plan="pro", private=True, type="LAMBDAS", buildingAt=common["buildingAt"] or d.created_ms,
                alias=[platform.domain] if common["aliasAssigned"] else [])
    if common["ready"] is not None:
        view["readyAt"] = common["ready"]
    return {k: v for k, v in view.items() if v is not None or k in ("creator", "aliasAssigned", "aliasError")}


def list_deployments(platform: Platform, call: Call, now_ms: int) -> Reply:
    q = call.query
    if q.get("projectId") not in (None, platform.project_id, platform.project_name):
        return Reply(200, {"pagination": {"count": 0, "next": None, "prev": None}, "deployments": []})
    try:
        limit = max(1, min(100, int(q.get("limit", "20"))))
        until = int(q["until"]) if "until" in q else None
        since = int(q["since"]) if "since" in q else None
    except ValueError:
        return error(400, "bad_request", "Invalid request: limit, since and until must be integers.")
    states = set(q["state"].split(",")) if q.get("state") else None
    with platform.lock:
        items = sorted(platform.deployments, key=lambda d: d.created_ms, reverse=True)
    items = [d for d in items
             if (until is None or d.created_ms < until) and (since is None or d.created_ms > since)
             and (q.get("target") is None or d.target == q["target"])
             and (states is None or d.state(now_ms) in states)
             and all(d.meta.get(k[5:]) == v for k, v in q.items() if k.startswith("meta-"))]
    page = items[:limit]
    views = [deployment_summary(platform, d, now_ms) for d in page]
    pagination = {"count": len(page), "next": page[-1].created_ms if len(items) > limit else None,
                  "prev": page[0].created_ms if page else None}
    return Reply(200, {"pagination": pagination, "deployments": views})


# -- project, team, user --------------------------------------------------------------------------
def project_view(platform: Platform, now_ms: int) -> dict[str, Any]:
    """``GET /v9/projects/{idOrName}`` (@vercel/sdk models/getprojectresponsebody.ts). ``targets.production``
    is the deployment serving production, which need not be the newest READY production one."""
    serving = platform.serving(now_ms)
    with platform.lock:
        latest = sorted(platform.deployments, key=lambda d: d.created_ms, reverse=True)[:5]
        created = min((d.created_ms for d in platform.deployments), default=now_ms)
    production = project_deployment(platform, serving, now_ms) if serving else None
    return {
        "id": platform.project_id, "name": platform.project_name, "accountId": platform.team_id,
        "createdAt": created, "updatedAt": now_ms, "framework": "nextjs", "nodeVersion": "22.x",
        "directoryListing": False, "autoAssignCustomDomains": True, "live": False,
        "serverlessFunctionRegion": _REGIONS[0],
        "alias": [{"domain": platform.domain, "environment": "production", "target": "PRODUCTION",
                   "createdAt": created, "deployment": production}],
        "defaultResourceConfig": {"functionDefaultRegions": list(_REGIONS)},
        "resourceConfig": {"functionDefaultRegions": list(_REGIONS)},
        "deploymentExpiration": {"expirationDays": 90, "expirationDaysProduction": 365},
        "env": [], "targets": {"production": production} if production else {},
        # what Vercel runs: the serving deployment's definitions (SDK GetProjectCrons)
        **({"crons": {"enabledAt": created, "disabledAt": None, "updatedAt": serving.ready_ms,
                      "deploymentId": serving.id,
                      "definitions": [{"host": platform.domain, "path": c["path"], "schedule": c["schedule"]}
                                      for c in serving.crons]}} if serving else {}),
        "latestDeployments": [project_deployment(platform, d, now_ms) for d in latest],
    }


def production_deployment(platform: Platform, now_ms: int) -> Reply:
    """``GET /projects/{p}/production-deployment``: how ``vercel logs`` finds the deployment serving
    production (packages/cli/src/commands/logs/index.ts ``getActiveProductionDeployment``); 404 if none."""
    serving = platform.serving(now_ms)
    if serving is None:
        return error(404, "not_found", "No production deployment found for this project.")
    return Reply(200, {"deployment": deployment_view(platform, serving, now_ms)})


def team_view(platform: Platform) -> dict[str, Any]:
    """``GET /teams/{id}`` (packages/cli/src/util/teams/get-team-by-id.ts, internals/types ``Team``)."""
    return {
        "id": platform.team_id, "slug": "sandbox-team", "name": "Sandbox Team", "avatar": None,
        "created": "2024-01-01T00:00:00.000Z", "createdAt": 1704067200000, "creatorId": _CREATOR["uid"],
        "membership": {"uid": _CREATOR["uid"], "role": "OWNER", "created": 1704067200000},
        "billing": {"plan": "pro"}, "limited": False,
        "sensitiveEnvironmentVariablePolicy": "on" if platform.enforce_sensitive else "default",
    }


def user_view(platform: Platform) -> dict[str, Any]:
    """``GET /v2/user`` (packages/cli/src/util/get-user.ts, internals/types ``User``)."""
    return {"user": {"id": _CREATOR["uid"], "uid": _CREATOR["uid"], "username": _CREATOR["username"],
                     "email": _CREATOR["email"], "name": "Sandbox", "avatar": "", "createdAt": 1704067200000,
                     "billing": {"plan": "hobby"}, "defaultTeamId": platform.team_id, "version": "northstar"}}


def create_deployment(platform: Platform, call: Call, now_ms: int) -> Reply:
    body = call.body
    if not isinstance(body, Mapping) or not isinstance(body.get("name"), str):
        return error(400, "bad_request", "Invalid request: missing required property `name`.")
    project = body.get("project", body["name"])
    missing = _project(platform, project)
    if missing:
        return missing
    source, origin = "cli", None
    if body.get("deploymentId") is not None:
        origin = platform.find_deployment(str(body["deploymentId"]))
        if origin is None:
            return error(404, "not_found", f"Could not find the deployment: {body['deploymentId']}")
        source = "redeploy"
    target = body.get("target")
    if target not in (None, "production", "staging"):
        return error(400, "bad_request", "Invalid request: `target` must be production, staging or omitted.")
    meta = body.get("meta") or {}
    if not isinstance(meta, Mapping) or not all(isinstance(v, str) for v in meta.values()):
        return error(400, "bad_request", "Invalid request: `meta` must map strings to strings.")
    # a redeploy rebuilds the source deployment's commit: its git meta carries over
    git = {k: v for k, v in (origin.meta if origin else {}).items() if k.startswith("github")}
    crons = platform.take_cron_change(list(origin.crons) if origin else list(CRONS))
    # `vercel deploy --prod --skip-domain` sends autoAssignCustomDomains: false (a STAGED deployment);
    # with Rolling Releases configured, a production deployment starts a rolling release instead
    promote = body.get("autoAssignCustomDomains") is not False
    rolling = promote and target == "production" and platform.rolling_config is not None
    deployment = platform.create_deployment(now_ms, target=target, meta={**git, **meta}, source=source,
                                            promote=promote and not rolling, crons=crons)
    if rolling:
        from reversal.sandbox.rolling import start_release

        start_release(platform, deployment, now_ms)
    with platform.lock:
        platform.audit.append({"action": "deployment.create", "id": deployment.id, "meta": dict(meta),
                               "redeployOf": origin.id if origin else None, "atMs": now_ms})
    return Reply(200, deployment_view(platform, deployment, now_ms))


# -- request logs ---------------------------------------------------------------------------------
def log_row(record: RequestRecord, domain: str) -> dict[str, Any]:
    """A request as ``GET /api/logs/request-logs`` returns it: log lines nested in ``logs``."""
    return {
        "requestId": record.request_id, "timestamp": iso(record.ts_ms), "deploymentId": record.deployment_id,
        "domain": domain, "requestMethod": record.method, "requestPath": record.path,
        "statusCode": -1 if record.status is None else record.status, "environment": "production",
        "branch": "main", "cache": "BYPASS" if "cron" in record.path else "MISS", "traceId": "",
        "userAgent": record.user_agent, "durationMs": record.duration_ms,
        "logs": [{"level": line.level, "message": line.message, "messageTruncated": False,
                  "timestamp": iso(record.ts_ms + line.offset_ms)} for line in record.lines],
        "events": [{"source": "serverless"}, {"source": "edge-middleware"}],
    }


def _status_matches(status: int | None, wanted: str) -> bool:
    code = -1 if status is None else status
    for item in wanted.split(","):
        item = item.strip().lower()
        family = item.endswith("xx") and item[:-2].isdigit() and code // 100 == int(item[:-2])
        if family or item == str(code):
            return True
    return False


def request_logs(platform: Platform, call: Call, now_ms: int, page_size: int, lag_ms: int = 0) -> Reply:
    """Rows of the window, newest first, ``page_size`` per page; a row reaches the endpoint
    ``lag_ms`` after its request (knob ``request_logs_lag_s``: a source that lags)."""
    q = call.query
    if q.get("projectId") not in (platform.project_id, platform.project_name):
        return error(404, "not_found", f"Project not found: {q.get('projectId')}")
    if q.get("ownerId") not in (None, platform.team_id):
        return error(403, "forbidden", "You don't have permission to access this team.")
    try:
        start = int(q.get("startDate", now_ms - 86_400_000))
        end = int(q.get("endDate", now_ms))
        page = int(q.get("page", "0"))
    except ValueError:
        return error(400, "bad_request", "Invalid request: startDate, endDate and page must be integers.")
    if page < 0 or start > end:
        return error(400, "bad_request", "Invalid request: page must be >= 0 and startDate <= endDate.")
    environment = q.get("environment")
    levels = set(q["level"].split(",")) if q.get("level") else None
    with platform.lock:
        records = [r for r in platform.records if start <= r.ts_ms <= min(end, now_ms - lag_ms)]
    records = [r for r in records
               if environment in (None, "production")
               and (q.get("deploymentId") in (None, r.deployment_id))
               and (q.get("requestId") in (None, r.request_id))
               and (q.get("statusCode") is None or _status_matches(r.status, q["statusCode"]))
               and (levels is None or any(line.level in levels for line in r.lines))
               and (not q.get("search") or any(q["search"] in line.message for line in r.lines)
                    or q["search"] in r.path)]
    records.sort(key=lambda r: (r.ts_ms, r.request_id), reverse=True)
    rows = [log_row(r, platform.domain) for r in records[page * page_size:(page + 1) * page_size]]
    return Reply(200, {"rows": rows, "hasMoreRows": (page + 1) * page_size < len(records)})


RUNTIME_LOGS_WINDOW_MS = 5 * 60_000  # the CLI follows a live tail for at most 5 minutes


def _row_id(request_id: str, n: int) -> str:
    """An opaque row id: runtime lines do not say which request they belong to."""
    return hashlib.sha256(f"{request_id}/{n}".encode()).hexdigest()[:24]


def runtime_logs(platform: Platform, deployment_id: str, now_ms: int) -> Reply:
    """``GET /v1/projects/{p}/deployments/{d}/runtime-logs``: ``application/stream+json``, one
    object per line (@vercel/sdk models/getruntimelogsop.ts; packages/cli/src/util/logs.ts). Vercel
    tails live output for up to 5 minutes; the sandbox sends the deployment's output of the last
    5 simulated minutes and ends the stream. Runtime lines carry no request id, and
    ``responseStatusCode`` is -1 when the request got no status."""
    deployment = platform.find_deployment(deployment_id)
    if deployment is None:
        return error(404, "not_found", f"Could not find the deployment: {deployment_id}")
    with platform.lock:
        records = [r for r in platform.records if r.deployment_id == deployment.id
                   and now_ms - RUNTIME_LOGS_WINDOW_MS <= r.ts_ms <= now_ms]
    lines = [{"level": line.level if line.level in ("error", "warning", "info") else "info",
              "message": line.message, "rowId": _row_id(r.request_id, n), "source": "serverless",
              "timestampInMs": r.ts_ms + line.offset_ms, "domain": platform.domain, "messageTruncated": False,
              "requestMethod": r.method, "requestPath": r.path,
              "responseStatusCode": -1 if r.status is None else r.status}
             for r in records for n, line in enumerate(r.lines)]
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
    return Reply(200, body, {"content-type": "application/stream+json; charset=utf-8"})


# -- Inngest --------------------------------------------------------------------------------------
def hashed_signing_key(key: str) -> str:
    """The SDKs' form: ``signkey-<env>-`` + sha256 of the hex-decoded rest."""
    match = re.fullmatch(r"(signkey-[a-z]+-)([0-9a-f]+)", key)
    if not match:
        return key
    return match.group(1) + hashlib.sha256(bytes.fromhex(match.group(2))).hexdigest()


def _rfc3339(value: str | None) -> int | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp() * 1000)


INNGEST_DEFAULT_EVENTS, INNGEST_MAX_EVENTS = 20, 51  # pkg/api/apiv1/events.go, pkg/cqrs/events.go
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def _inngest_error(status: int, message: str) -> Reply:
    """pkg/publicerr ``Error`` as ``WriteHTTP`` encodes it."""
    return Reply(status, {"error": message, "data": None, "status": status})


def inngest_events(platform: Platform, call: Call, signing_key: str, now_ms: int, *,
                   internal_events: bool = True) -> Reply:
    """``GET /v1/events`` with the open-source server's rules (inngest/inngest pkg/api/apiv1/events.go,
    pkg/cqrs/manager/cqrs.go): ``limit`` defaults to 20 and is capped at 51; newest first by
    ``internal_id``; ``cursor`` is the ULID of the last event seen (older ones follow); the window
    defaults to the last hour; the body is ``{data, metadata}`` with no cursor. ``inngest/*``
    events are left out unless ``internal_events`` (Inngest Cloud lists ``inngest/function.failed``;
    the Dev Server and self-hosted never do: ``IncludeInternalEvents`` is never set there)."""
    if _bearer(call.headers) not in (signing_key, hashed_signing_key(signing_key)):
        return _inngest_error(401, "No auth found")
    q = call.query
    try:
        limit = int(q.get("limit", "0"))
    except ValueError:
        limit = 0  # strconv.Atoi's error is ignored there too
    limit = max(1, min(INNGEST_MAX_EVENTS, limit or INNGEST_DEFAULT_EVENTS))
    cursor = q.get("cursor", "").upper()
    if cursor and not _ULID.fullmatch(cursor):
        return _inngest_error(400, "Invalid cursor query parameter")
    after, before = _rfc3339(q.get("received_after")), _rfc3339(q.get("received_before"))
    if (q.get("received_after") and after is None) or (q.get("received_before") and before is None):
        return _inngest_error(400, "Invalid received_after query parameter")
    after = now_ms - 3_600_000 if after is None else after
    before = now_ms if before is None else before
    with platform.lock:
        events = [e for e in platform.events
                  if e["ts"] <= now_ms and (q.get("name") in (None, "", e["name"]))
                  and after <= e["ts"] <= before and (not cursor or e["internal_id"] < cursor)
                  and (internal_events or not e["name"].startswith("inngest/"))]
    events.sort(key=lambda e: e["internal_id"], reverse=True)
    # the rest of pkg/cqrs/events.go ``Event``: account and environment ids, the ingest source
    account, environment = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"{platform.team_id}/{part}"))
                            for part in ("account", "production"))
    rows = [{"account_id": account, "environment_id": environment, "source": "", "source_id": None, **e}
            for e in events[:limit]]
    return Reply(200, {"data": rows, "metadata": {"fetched_at": iso(now_ms)}})


# -- routing --------------------------------------------------------------------------------------
_ENV_ONE = re.compile(r"/v(1|9|10)/projects/([^/]+)/env/([^/]+)")
_ENV_ALL = re.compile(r"/v10/projects/([^/]+)/env")
_PROJECT = re.compile(r"/v9/projects/([^/]+)")
_DEPLOYMENT = re.compile(r"/v13/deployments/([^/]+)")
_ENV_PULL = re.compile(r"/v3/env/pull/([^/]+)(?:/([^/]+))?")
_RUNTIME_LOGS = re.compile(r"/v1/projects/([^/]+)/deployments/([^/]+)/runtime-logs")
_PRODUCTION = re.compile(r"/projects/([^/]+)/production-deployment")
_BUILDS = re.compile(r"/v11/deployments/([^/]+)/builds")
_TEAM = re.compile(r"/(?:v\d+/)?teams/([^/]+)")


def vercel_api(platform: Platform, call: Call, now_ms: int, *, token: str, faults: Faults,
               rng: random.Random, page_size: int = 100, refusal: str = "ok", lag_ms: int = 0) -> Reply:
    gate = _gate(call, platform, token, faults, rng)
    if gate:
        return gate
    m, path = call.method, call.path.rstrip("/")
    if match := _ENV_ONE.fullmatch(path):
        version, project, env_id = match.groups()
        missing = _project(platform, project)
        if missing:
            return missing
        if m == "GET" and version == "1":
            return get_env(platform, env_id)
        if m == "PATCH" and version in ("9", "10"):
            return edit_env(platform, call, env_id, now_ms)
        return error(405, "method_unknown", f"{m} is not allowed on {call.path}")
    if match := _ENV_ALL.fullmatch(path):
        missing = _project(platform, match.group(1))
        if missing:
            return missing
        if m == "GET":
            return list_env(platform, call)
        if m == "POST":
            return create_env(platform, call, now_ms)
        return error(405, "method_unknown", f"{m} is not allowed on {call.path}")
    if match := _PROJECT.fullmatch(path):
        return _project(platform, match.group(1)) or Reply(200, project_view(platform, now_ms))
    if (match := _ENV_PULL.fullmatch(path)) and m == "GET":
        return _project(platform, match.group(1)) or pull_env(platform, match.group(2) or "development")
    if (match := _RUNTIME_LOGS.fullmatch(path)) and m == "GET":
        return _project(platform, match.group(1)) or runtime_logs(platform, match.group(2), now_ms)
    if (match := _TEAM.fullmatch(path)) and m == "GET":
        if match.group(1) not in (platform.team_id, "sandbox-team"):
            return error(404, "not_found", "Team not found")
        return Reply(200, team_view(platform))
    if (match := _BUILDS.fullmatch(path)) and m == "GET":
        deployment = platform.find_deployment(match.group(1))
        if deployment is None:
            return error(404, "not_found", f"Could not find the deployment: {match.group(1)}")
        return Reply(200, {"builds": builds_view(deployment, now_ms)})
    if (match := _PRODUCTION.fullmatch(path)) and m == "GET":
        return _project(platform, match.group(1)) or production_deployment(platform, now_ms)
    if path == "/api/logs/request-logs" and m == "GET":  # the CLI's host when --api is not api.vercel.com
        return _REFUSALS.get(refusal) or request_logs(platform, call, now_ms, page_size, lag_ms)
    if path == "/v2/user" and m == "GET":
        return Reply(200, user_view(platform))
    if path == "/_sandbox/audit" and m == "GET":  # the sandbox's own audit log, for tests
        with platform.lock:
            return Reply(200, {"entries": list(platform.audit)})
    if path in ("/v6/deployments", "/v7/deployments") and m == "GET":
        return list_deployments(platform, call, now_ms)
    if path == "/v13/deployments" and m == "POST":
        return create_deployment(platform, call, now_ms)
    if (match := _DEPLOYMENT.fullmatch(path)) and m == "GET":
        ident = call.query.get("url", "") if match.group(1) == "get" else match.group(1)
        deployment = platform.find_deployment(ident.removeprefix("https://"))
        if deployment is None:
            return error(404, "not_found", f"Could not find the deployment: {ident}")
        return Reply(200, deployment_view(platform, deployment, now_ms))
    from reversal.sandbox.rolling import rolling_api

    return rolling_api(platform, call, now_ms) or error(404, "not_found",
                                                        f"The requested path {call.path} was not found.")


_REFUSALS = {
    "forbidden": error(403, "forbidden", "You don't have permission to read this project's request logs."),
    "not_found": error(404, "not_found", "The requested path /api/logs/request-logs was not found."),
    "gone": error(410, "gone", "This endpoint is no longer available."),
}


def logs_api(platform: Platform, call: Call, now_ms: int, *, token: str, faults: Faults,
             rng: random.Random, page_size: int, refusal: str = "ok", lag_ms: int = 0) -> Reply:
    gate = _gate(call, platform, token, faults, rng)
    if gate:
        return gate
    if call.path.rstrip("/") == "/api/logs/request-logs" and call.method == "GET":
        return _REFUSALS.get(refusal) or request_logs(platform, call, now_ms, page_size, lag_ms)
    return error(404, "not_found", f"The requested path {call.path} was not found.")


def inngest_api(platform: Platform, call: Call, now_ms: int, *, signing_key: str,
                internal_events: bool = True) -> Reply:
    if call.path.rstrip("/") == "/v1/events" and call.method == "GET":
        return inngest_events(platform, call, signing_key, now_ms, internal_events=internal_events)
    return Reply(404, {"error": f"Not found: {call.path}"})
