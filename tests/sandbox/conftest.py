"""Helpers to drive a running sandbox over plain HTTP, as an outside client would."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reversal.clock import parse_clock
from reversal.sandbox import Sandbox, SandboxInfo, SandboxSettings
from reversal.sandbox.durable import sqlite_path


def sim_now(info: SandboxInfo) -> int:
    return parse_clock(info.env["REVERSAL_CLOCK"]).now_ms()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def vercel(info: SandboxInfo, *, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=info.api, headers={"Authorization": f"Bearer {token or info.token}"},
                        params={"teamId": info.team_id}, timeout=10)


def request_log_rows(info: SandboxInfo, start_ms: int, end_ms: int, **extra: str) -> list[dict[str, Any]]:
    """Every row of the window, paging until hasMoreRows is false (as the CLI does)."""
    rows: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {info.token}"}
    with httpx.Client(base_url=info.logs_api, headers=auth, timeout=10) as c:
        for page in range(10_000):
            r = c.get("/api/logs/request-logs", params={
                "projectId": info.project_id, "ownerId": info.team_id, "startDate": start_ms,
                "endDate": end_ms, "page": page, "environment": "production", **extra})
            assert r.status_code == 200, r.text
            body = r.json()
            rows += body["rows"]
            if not body["hasMoreRows"]:
                return rows
    raise AssertionError("request-logs never stopped paging")


def ledger_rows(info: SandboxInfo, dispatch_key: str | None = None) -> list[dict[str, Any]]:
    """``BackgroundFunctionRun`` rows of the sandbox's SQLite ledger (all, or one dispatch key's)."""
    with sqlite3.connect(sqlite_path(info.database_url)) as db:
        db.row_factory = sqlite3.Row
        sql = 'SELECT * FROM "BackgroundFunctionRun"' + (' WHERE "dispatchKey" = ?' if dispatch_key else "")
        return [dict(r) for r in db.execute(sql, (dispatch_key,) if dispatch_key else ())]


def env_by_key(info: SandboxInfo, target: str = "production") -> dict[str, dict[str, Any]]:
    """The records that apply to ``target`` (a flag has one record per target unless flag_targets=all)."""
    with vercel(info) as c:
        envs = c.get(f"/v10/projects/{info.project_id}/env",
                     params={"decrypt": "true", "target": target}).json()["envs"]
    return {e["key"]: e for e in envs}


def set_flag(info: SandboxInfo, name: str, value: str) -> dict[str, Any]:
    env = env_by_key(info)[name]
    with vercel(info) as c:
        r = c.patch(f"/v9/projects/{info.project_id}/env/{env['id']}", json={"value": value})
    assert r.status_code == 200, r.text
    return r.json()


def redeploy(info: SandboxInfo, timeout: float = 10.0) -> dict[str, Any]:
    """Redeploy the deployment serving production (the project's ``targets.production``, which the
    newest READY one need not be) and poll it to a terminal state."""
    with vercel(info) as c:
        current = c.get(f"/v9/projects/{info.project_id}").json()["targets"]["production"]
        created = c.post("/v13/deployments", json={
            "name": "zrg-dashboard", "deploymentId": current["id"], "project": info.project_id,
            "target": "production", "withLatestCommit": False, "meta": {"redeployedBy": "tests"}}).json()
        return wait_until(
            lambda: (d := c.get(f"/v13/deployments/{created['id']}").json())["readyState"]
            in ("READY", "ERROR", "CANCELED", "BLOCKED") and d,
            timeout, "the deployment to finish")


@contextmanager
def sandbox_starter(**defaults: Any) -> Iterator[Callable[..., SandboxInfo]]:
    """``start(**settings)`` over ``defaults``; every sandbox started is stopped on exit."""
    running: list[Sandbox] = []

    def start(**settings: Any) -> SandboxInfo:
        sandbox = Sandbox(SandboxSettings(**{**defaults, **settings}))
        running.append(sandbox)
        return sandbox.start()

    try:
        yield start
    finally:
        for sandbox in running:
            sandbox.stop()


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxInfo]]:
    """Start sandboxes with the given settings; all are stopped at the end of the test."""
    with sandbox_starter(seed=7, factor=600) as start:
        yield start
