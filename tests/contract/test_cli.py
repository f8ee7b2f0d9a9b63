"""The Vercel CLI 58.10.0, pointed at the sandbox with ``--api``, works on a linked folder:
``vercel env ls``, ``vercel env pull``, ``vercel ls``, ``vercel inspect``, ``vercel logs --json``
and ``vercel logs --follow --json``."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.sandbox.conftest import request_log_rows, sim_now, vercel

pytestmark = pytest.mark.timeout(900)  # the first test may wait for npm ci

@pytest.fixture(scope="module")
def sensitive(start_served):
    return start_served(sensitive_secrets=True, staged_production=True, traffic=False)


def _ok(proc):
    assert proc.returncode == 0, f"vercel exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _deployments(info):
    with vercel(info) as c:
        return c.get("/v6/deployments", params={"projectId": info.project_id}).json()["deployments"]


def test_env_ls_resolves_the_linked_project_and_lists_sensitive_vars(sensitive, vercel_cli):
    out = _ok(vercel_cli(sensitive, "env", "ls", "production"))
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isupper()}
    assert "Sensitive" in rows["CRON_SECRET"] and "Sensitive" in rows["INNGEST_SIGNING_KEY"]
    assert "Non-sensitive" in rows["CRON_FOLLOWUPS_USE_INNGEST"]
    assert sensitive.cron_secret not in out


def test_env_pull_writes_the_target_and_a_placeholder_for_sensitive_values(sensitive, vercel_cli, tmp_path):
    """The pull endpoint answers a sensitive var with an empty value; the CLI then checks its type and
    writes ``[SENSITIVE]`` (packages/cli/src/commands/env/pull.ts ``getRedactedSensitiveKeys``)."""
    _ok(vercel_cli(sensitive, "env", "pull", "--yes", "--environment", "production", str(tmp_path / "p.env")))
    pulled = dict(line.split("=", 1) for line in (tmp_path / "p.env").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert pulled["CRON_RESPONSE_TIMING_USE_INNGEST"] == '"false"'
    assert pulled["CRON_SECRET"] == '"[SENSITIVE]"' and pulled["NEXT_PUBLIC_APP_URL"] == f'"{sensitive.app}"'
    _ok(vercel_cli(sensitive, "env", "pull", "--yes", str(tmp_path / "d.env")))  # development
    assert "CRON_SECRET" not in (tmp_path / "d.env").read_text()  # sensitive: production/preview only


def test_ls_lists_every_deployment(sensitive, vercel_cli):
    out = _ok(vercel_cli(sensitive, "ls"))
    urls = [d["url"] for d in _deployments(sensitive)]
    assert len(urls) == 2 and all(f"https://{url}" in out for url in urls)


def test_inspect_shows_the_deployment_and_its_alias(sensitive, vercel_cli):
    for deployment in _deployments(sensitive):
        out = _ok(vercel_cli(sensitive, "inspect", deployment["uid"]))
        assert deployment["uid"] in out and "Ready" in out
        serves = deployment["readySubstate"] == "PROMOTED"
        assert ("https://zrg-dashboard.vercel.app" in out) is serves


@pytest.fixture(scope="module")
def live(start_served):
    return start_served(history_s=20 * 60)


def _iso(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_logs_json_prints_one_request_per_line_from_the_request_logs(live, vercel_cli):
    """``vercel logs --json`` (CLI 58.x) reads ``/api/logs/request-logs`` on the --api host and prints
    one JSON line per request: the format users save (packages/cli/src/util/logs-v2.ts)."""
    end = sim_now(live) // 1000 * 1000 - 60_000
    start = end - 10 * 60_000
    out = _ok(vercel_cli(live, "logs", "--json", "--environment", "production", "--since", _iso(start),
                         "--until", _iso(end), "--limit", "1000"))
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    rows = request_log_rows(live, start, end)
    assert sorted(p["id"] for p in printed) == sorted(r["requestId"] for r in rows) and printed
    row = {r["requestId"]: r for r in rows}
    for p in printed:
        assert {"id", "timestamp", "deploymentId", "requestPath", "responseStatusCode", "logs"} <= set(p)
        assert p["responseStatusCode"] == row[p["id"]]["statusCode"]
        assert p["deploymentId"] == row[p["id"]]["deploymentId"] and isinstance(p["timestamp"], int)


def test_logs_follow_json_streams_the_production_deployments_runtime_lines(live, vercel_cli):
    """``vercel logs --follow --json`` asks ``/projects/{p}/production-deployment``, then prints the
    runtime-logs stream line by line (packages/cli/src/commands/logs/index.ts, util/logs.ts)."""
    out = _ok(vercel_cli(live, "logs", "--follow", "--json", "--environment", "production"))
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    with vercel(live) as c:
        serving = c.get(f"/projects/{live.project_id}/production-deployment").json()["deployment"]
    assert lines and {line["source"] for line in lines} == {"serverless"}
    assert all(line["domain"] == "zrg-dashboard.vercel.app" and "timestampInMs" in line for line in lines)
    first = min(line["timestampInMs"] for line in lines)
    rows = request_log_rows(live, first - 120_000, sim_now(live), deploymentId=serving["id"])
    assert {line["requestPath"] for line in lines} <= {r["requestPath"] for r in rows}
    assert len({line["rowId"] for line in lines}) == len(lines)
