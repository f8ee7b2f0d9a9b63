"""Test doubles: a stateful Vercel on respx routes (the documented shapes) and a fake time."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from reversal.platform.vercel import RetryPolicy, VercelClient

API = "https://api.test.vercel"
LOGS = "https://logs.test.vercel"
TOKEN = "tok_SeCrEt_0123456789abcdef"
PROJECT = "prj_test"
TEAM = "team_abc"


class FakeTime:
    """``monotonic`` and ``sleep`` for the client: sleeping advances the time, records waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeClock:
    """A reversal ``Clock`` whose sleep advances simulated ms."""

    def __init__(self, start_ms: int = 1_771_380_000_000) -> None:
        self.ms = start_ms
        self.slept: list[float] = []

    def now_ms(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.ms += int(seconds * 1000)


def make_client(time: FakeTime | None = None, **kw: Any) -> VercelClient:
    time = time or FakeTime()
    kw.setdefault("retry", RetryPolicy(attempts=5, max_elapsed_s=60, base_delay_s=0.5, max_delay_s=10))
    return VercelClient(TOKEN, PROJECT, team_id=TEAM, owner_id=TEAM, api_base=API, logs_api_base=LOGS,
                        sleep=time.sleep, monotonic=time.monotonic, wall_ms=lambda: 1_000_000,
                        jitter=lambda: 1.0, **kw)


def error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


@dataclass
class FakeVercel:
    """Env vars, deployments and request logs behind the documented endpoints.

    ``deploy_states`` is the sequence a new deployment's ``readyState`` walks through, one per
    GET. ``log_rows`` are served by request-logs in pages of ``page_size``.
    """

    router: respx.MockRouter
    envs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    deploy_states: tuple[str, ...] = ("QUEUED", "BUILDING", "READY")
    log_rows: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 50
    enforce_sensitive: bool = False  # the team enforces sensitive: new vars become sensitive
    production_id: str | None = None  # the project's production deployment (targets.production)
    project_endpoint: str = "v9"  # which names it: "v9" getProject, "cli" production-deployment, "none"
    new_substate: str | None = "PROMOTED"  # readySubstate a new deployment gets once READY
    requests: list[httpx.Request] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _polls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.router
        r.get(f"{API}/v10/projects/{PROJECT}/env").mock(side_effect=self._list_env)
        r.get(url__regex=rf"{API}/v1/projects/{PROJECT}/env/(?P<env_id>[^/?]+)").mock(
            side_effect=self._get_env)
        r.post(f"{API}/v10/projects/{PROJECT}/env", name="create_env").mock(side_effect=self._create_env)
        r.patch(url__regex=rf"{API}/v9/projects/{PROJECT}/env/(?P<env_id>[^/?]+)", name="edit_env").mock(
            side_effect=self._edit_env)
        r.get(f"{API}/v6/deployments").mock(side_effect=self._list_deployments)
        r.get(url__regex=rf"{API}/v13/deployments/(?P<dep_id>[^/?]+)").mock(
            side_effect=self._get_deployment)
        r.post(f"{API}/v13/deployments", name="create_deployment").mock(side_effect=self._create_deployment)
        r.get(f"{LOGS}/api/logs/request-logs", name="request_logs").mock(side_effect=self._request_logs)
        r.get(f"{API}/v9/projects/{PROJECT}").mock(side_effect=self._get_project)
        r.get(f"{API}/projects/{PROJECT}/production-deployment").mock(side_effect=self._production)

    # -- seeding -------------------------------------------------------------------------------

    def add_env(self, key: str, value: str, target: tuple[str, ...] = ("production",),
                type: str = "encrypted") -> str:
        env_id = f"env{next(self._ids)}"
        self.envs[env_id] = {"id": env_id, "key": key, "value": value, "type": type,
                             "target": list(target), "gitBranch": None, "createdAt": 1, "updatedAt": 1}
        return env_id

    def add_deployment(self, state: str = "READY", created: int = 1_771_000_000_000,
                       target: str | None = "production", meta: dict | None = None,
                       substate: str | None = None, live: bool = False) -> str:
        """``live``: the project's production deployment (as after a promote or a rollback)."""
        dep_id = f"dpl_{next(self._ids)}"
        self.deployments[dep_id] = {"uid": dep_id, "id": dep_id, "name": "zrg-dashboard",
                                    "url": f"zrg-{dep_id}.vercel.app", "created": created,
                                    "createdAt": created, "ready": created + 60_000, "state": state,
                                    "readyState": state, "target": target, "meta": meta or {},
                                    "readySubstate": substate}
        if live:
            self.production_id = dep_id
        return dep_id

    def value(self, key: str, target: str = "production") -> str | None:
        return next((e["value"] for e in self.envs.values() if e["key"] == key and target in e["target"]),
                    None)

    # -- handlers ------------------------------------------------------------------------------

    def _seen(self, request: httpx.Request) -> None:
        self.requests.append(request)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.url.params.get("teamId") == TEAM

    def _list_env(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        decrypt = request.url.params.get("decrypt") == "true"
        envs = [{**self._view(e), **({"value": e["value"] if decrypt else "enc:blob"}
                                      if e["type"] != "sensitive" else {}), "decrypted": decrypt}
                for e in self.envs.values()]
        return httpx.Response(200, json={"envs": envs})

    def _get_env(self, request: httpx.Request, env_id: str) -> httpx.Response:
        self._seen(request)
        if env_id not in self.envs:
            return error(404, "not_found", f"Could not find the env: {env_id}")
        return httpx.Response(200, json={**self._view(self.envs[env_id]),
                                         "decrypted": self.envs[env_id]["type"] != "sensitive"})

    def _create_env(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        assert request.url.params.get("upsert") == "true"
        body = json.loads(request.content)
        existing = next((e for e in self.envs.values() if e["key"] == body["key"]
                         and set(e["target"]) & set(body["target"])), None)
        kind = "sensitive" if self.enforce_sensitive else body["type"]
        if existing:
            existing["value"] = body["value"]
            created = existing
        else:
            created = self.envs[self.add_env(body["key"], body["value"], tuple(body["target"]), kind)]
        return httpx.Response(201, json={"created": {**self._view(created), "value": "enc:blob"},
                                         "failed": []})

    def _edit_env(self, request: httpx.Request, env_id: str) -> httpx.Response:
        self._seen(request)
        body = json.loads(request.content)
        if "target" in body:
            self.envs[env_id]["target"] = list(body["target"])
        if "value" in body:
            self.envs[env_id]["value"] = body["value"]
        return httpx.Response(200, json={**self._view(self.envs[env_id]), "value": "enc:blob",
                                         "decrypted": False})

    @staticmethod
    def _view(env: dict[str, Any]) -> dict[str, Any]:
        """A sensitive value is never returned, decrypted or not (CLI 51.8+ default)."""
        return {k: v for k, v in env.items() if not (k == "value" and env["type"] == "sensitive")}

    def _list_deployments(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        p = request.url.params
        found = [d for d in self.deployments.values()
                 if (not p.get("target") or d["target"] == p["target"])
                 and (not p.get("state") or d["state"] in p["state"].split(","))
                 and all(d["meta"].get(k[5:]) == v for k, v in p.items() if k.startswith("meta-"))]
        found.sort(key=lambda d: d["created"], reverse=True)
        listed = [{k: v for k, v in d.items() if k not in ("id", "readyState")} for d in found]
        return httpx.Response(200, json={"deployments": listed[: int(p.get("limit", 20))],
                                         "pagination": {"count": len(found), "next": None, "prev": None}})

    def _get_deployment(self, request: httpx.Request, dep_id: str) -> httpx.Response:
        self._seen(request)
        if dep_id not in self.deployments:
            return error(404, "not_found", f"Could not find the deployment: {dep_id}")
        d = self.deployments[dep_id]
        if dep_id in self._polls:
            step = min(self._polls[dep_id], len(self.deploy_states) - 1)
            d["state"] = d["readyState"] = self.deploy_states[step]
            self._polls[dep_id] += 1
            if d["state"] == "READY" and d["readySubstate"] is None:
                d["readySubstate"] = self.new_substate
                if self.new_substate == "PROMOTED":
                    self.production_id = dep_id
        body = {k: v for k, v in d.items() if k not in ("uid", "state", "created")}
        body["ready"] = d["ready"] if d["readyState"] == "READY" else None
        return httpx.Response(200, json=body)

    def _create_deployment(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        body = json.loads(request.content)
        assert body["deploymentId"] in self.deployments and body["name"]
        created = max((d["created"] for d in self.deployments.values()), default=0) + 1000
        dep_id = self.add_deployment(state="QUEUED", created=created, target=body.get("target"),
                                     meta=body.get("meta"))
        self._polls[dep_id] = 0
        d = self.deployments[dep_id]
        return httpx.Response(200, json={k: v for k, v in d.items() if k not in ("uid", "state")})

    def _get_project(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        if self.project_endpoint != "v9":
            return error(404, "not_found", "Project not found")
        targets = {"production": {"id": self.production_id}} if self.production_id else {}
        return httpx.Response(200, json={"id": PROJECT, "name": "zrg-dashboard", "targets": targets})

    def _production(self, request: httpx.Request) -> httpx.Response:
        self._seen(request)
        if self.project_endpoint != "cli" or not self.production_id:
            return error(404, "not_found", "No production deployment")
        d = self.deployments[self.production_id]
        return httpx.Response(200, json={"deployment": {"id": d["id"], "url": d["url"]}})

    def _request_logs(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        p = request.url.params
        assert p["projectId"] == PROJECT and p["ownerId"] == TEAM
        page = int(p["page"])
        start = page * self.page_size
        chunk = self.log_rows[start:start + self.page_size]
        return httpx.Response(200, json={"rows": chunk,
                                         "hasMoreRows": start + self.page_size < len(self.log_rows)})


def request_row(i: int, *, ts_ms: int, path: str = "/api/cron/response-timing", status: int | None = 500,
                messages: tuple[str, ...] = ("Task timed out after 60 seconds",),
                deployment: str = "dpl_live") -> dict[str, Any]:
    from reversal.evidence.files import utc_iso

    return {
        "requestId": f"req-{i}", "timestamp": utc_iso(ts_ms), "deploymentId": deployment,
        "domain": "zrg-dashboard.vercel.app", "requestMethod": "GET", "requestPath": path,
        "statusCode": status, "environment": "production", "branch": "main", "cache": "MISS",
        "traceId": f"t{i}", "logs": [{"level": "error", "message": m, "messageTruncated": False}
                                    for m in messages],
        "events": [{"source": "serverless"}],
    }
