"""The real-world knobs as an HTTP client sees them (sources in docs/sandbox.md)."""

from __future__ import annotations

import httpx
import pytest

from reversal.errors import InputError
from reversal.sandbox import parse_knobs
from tests.sandbox.conftest import (
    env_by_key,
    ledger_rows,
    redeploy,
    request_log_rows,
    set_flag,
    sim_now,
    vercel,
    wait_until,
)

FLAG = "CRON_FOLLOWUPS_USE_INNGEST"


def _get(info, path, **params):
    with vercel(info) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _pull(info, target):
    return _get(info, f"/v3/env/pull/{info.project_id}/{target}")["env"]


def _probe(info, route="/api/cron/followups", secret=None):
    return httpx.get(info.app + route, headers={"Authorization": f"Bearer {secret or info.cron_secret}"},
                     timeout=10)


def test_sensitive_secrets_are_never_returned_but_still_deployed(start_sandbox):
    info = start_sandbox(sensitive_secrets=True, traffic=False)
    for key in ("CRON_SECRET", "INNGEST_SIGNING_KEY"):
        listed = env_by_key(info)[key]
        assert listed["type"] == "sensitive" and "value" not in listed and listed["decrypted"] is False
        assert listed["target"] == ["production", "preview"]  # sensitive cannot target development
        one = _get(info, f"/v1/projects/{info.project_id}/env/{listed['id']}")
        assert "value" not in one and one["decrypted"] is False
        assert _pull(info, "production")[key] == ""  # the CLI writes [SENSITIVE] for an empty sensitive value
        assert key not in _pull(info, "development")
    assert _probe(info).status_code in (200, 500)  # the deployment got the real secret: not 401
    assert _probe(info, secret="wrong").status_code == 401


def test_enforce_sensitive_promotes_new_production_and_preview_vars(start_sandbox):
    info = start_sandbox(enforce_sensitive=True, traffic=False)
    assert _get(info, f"/teams/{info.team_id}")["sensitiveEnvironmentVariablePolicy"] == "on"
    base = f"/v10/projects/{info.project_id}/env"

    def create(key, type_, *targets):
        with vercel(info) as c:
            return c.post(base, json={"key": key, "value": "v", "type": type_, "target": list(targets)})

    prod = create("NEW_PROD", "encrypted", "production")
    dev = create("NEW_DEV", "encrypted", "development")
    shared = create("NEW_ALL", "encrypted", "production", "preview", "development")
    plain = create("NEW_PLAIN", "plain", "production")
    assert prod.json()["created"]["type"] == "sensitive" and "value" not in prod.json()["created"]
    assert dev.json()["created"]["type"] == "encrypted"
    # development cannot be sensitive: the var is split, as the docs describe for marking one sensitive
    assert shared.status_code == 201 and shared.json()["created"]["type"] == "sensitive"
    envs = _get(info, f"/v10/projects/{info.project_id}/env")["envs"]
    split = sorted((e["type"], e["target"]) for e in envs if e["key"] == "NEW_ALL")
    assert split == [("encrypted", ["development"]), ("sensitive", ["production", "preview"])]
    refused = create("S_DEV", "sensitive", "development")
    assert refused.status_code == 400 and "Development" in refused.json()["error"]["message"]
    assert plain.json()["created"]["type"] == "plain"
    assert env_by_key(info)["CRON_SECRET"]["type"] == "encrypted"  # existing vars are left alone


@pytest.mark.parametrize("flag_targets", ["production", "all"])
def test_flag_targets_decides_whether_a_patch_flips_preview_and_development(start_sandbox, flag_targets):
    info = start_sandbox(flag_targets=flag_targets, traffic=False)
    records = [e for e in _get(info, f"/v10/projects/{info.project_id}/env")["envs"] if e["key"] == FLAG]
    shared = flag_targets == "all"
    expected = ([["development", "preview", "production"]] if shared
                else [["production"], ["development", "preview"]])
    assert [sorted(e["target"]) for e in records] == expected
    written = set_flag(info, FLAG, "true")  # a PATCH without `target`, as Vercel's docs show it
    assert written["target"] == records[0]["target"]
    flipped = {target: _pull(info, target)[FLAG] for target in ("production", "preview", "development")}
    expect = "true" if shared else "false"
    assert flipped == {"production": "true", "preview": expect, "development": expect}


def test_staged_production_is_newer_and_ready_but_does_not_serve(start_sandbox):
    info = start_sandbox(staged_production=True, traffic=False)
    listed = _get(info, "/v6/deployments", projectId=info.project_id, target="production", state="READY")
    newest, older = listed["deployments"]
    assert newest["readySubstate"] == "STAGED" and newest["aliasAssigned"] is False
    assert older["readySubstate"] == "PROMOTED" and newest["createdAt"] > older["createdAt"]
    project = _get(info, f"/v9/projects/{info.project_id}")
    assert project["targets"]["production"]["id"] == older["uid"]
    assert [d["readySubstate"] for d in project["latestDeployments"]] == ["STAGED", "PROMOTED"]
    production = _get(info, f"/projects/{info.project_id}/production-deployment")["deployment"]
    assert production["id"] == older["uid"] and production["alias"] == ["zrg-dashboard.vercel.app"]
    start = sim_now(info)
    _probe(info)
    row = wait_until(lambda: [r for r in request_log_rows(info, start, sim_now(info))
                              if r["requestPath"] == "/api/cron/followups"], what="the probe's log row")
    assert {r["deploymentId"] for r in row} == {older["uid"]}
    # redeploying what serves production promotes the new deployment; the staged one stays staged
    done = redeploy(info)
    assert done["readySubstate"] == "PROMOTED" and done["alias"] == ["zrg-dashboard.vercel.app"]
    sha = done["meta"]["githubCommitSha"]  # the serving commit was rebuilt, not the staged one
    assert sha == older["meta"]["githubCommitSha"] != newest["meta"]["githubCommitSha"]
    audit = _get(info, "/_sandbox/audit")["entries"]
    assert [e["redeployOf"] for e in audit if e["action"] == "deployment.create"] == [older["uid"]]
    project = _get(info, f"/v9/projects/{info.project_id}")
    assert project["targets"]["production"]["id"] == done["id"]
    staged = _get(info, f"/v13/deployments/{newest['uid']}")
    assert staged["readySubstate"] == "STAGED" and staged["alias"] == []


def test_blocked_deploy_is_terminal_and_never_builds(start_sandbox):
    info = start_sandbox(blocked_deploy=True, traffic=False, build_s=5)
    blocked = redeploy(info)
    assert blocked["readyState"] == blocked["status"] == "BLOCKED"
    assert blocked["ready"] is None and blocked["readySubstate"] is None and blocked["readyStateReason"]
    wait_until(lambda: sim_now(info) > blocked["createdAt"] + 60_000, what="a simulated minute")
    assert _get(info, f"/v13/deployments/{blocked['id']}")["readyState"] == "BLOCKED"
    assert _get(info, f"/v11/deployments/{blocked['id']}/builds")["builds"] == []
    serving = _get(info, f"/v9/projects/{info.project_id}")["targets"]["production"]["id"]
    assert serving != blocked["id"]
    assert redeploy(info)["readyState"] == "READY"  # only the next one


@pytest.mark.parametrize(("knob", "status", "code"), [("forbidden", 403, "forbidden"),
                                                      ("not_found", 404, "not_found"), ("gone", 410, "gone")])
def test_request_logs_refused(start_sandbox, knob, status, code):
    info = start_sandbox(request_logs=knob, traffic=False, history_s=60)
    r = httpx.get(f"{info.logs_api}/api/logs/request-logs",
                  params={"projectId": info.project_id, "ownerId": info.team_id},
                  headers={"Authorization": f"Bearer {info.token}"})
    assert r.status_code == status and r.json()["error"]["code"] == code
    with vercel(info) as c:  # the rest of the API answers
        assert c.get(f"/v10/projects/{info.project_id}/env").status_code == 200


def test_request_log_rows_carry_their_deployment_and_duration(start_sandbox):
    info = start_sandbox(history_s=5 * 60, factor=60)
    before = _get(info, f"/v9/projects/{info.project_id}")["targets"]["production"]["id"]
    end = sim_now(info)
    rows = request_log_rows(info, end - 5 * 60_000, end)
    assert rows and {r["deploymentId"] for r in rows} == {before}
    assert all(isinstance(r["durationMs"], int) and r["durationMs"] >= 0 for r in rows)
    assert any(r["durationMs"] > 1000 for r in rows)  # the slow inline routes
    done = redeploy(info)
    _probe(info)
    after = request_log_rows(info, done["ready"], sim_now(info), deploymentId=done["id"])
    assert after and all(r["deploymentId"] == done["id"] for r in after)
    assert request_log_rows(info, done["ready"], sim_now(info), deploymentId=before) == []


def test_runtime_logs_stream_one_line_per_log_of_that_deployment(start_sandbox):
    info = start_sandbox(history_s=5 * 60, factor=60, failure_rates={"followups": 1.0})
    serving = _get(info, f"/v9/projects/{info.project_id}")["targets"]["production"]["id"]
    with vercel(info) as c:
        r = c.get(f"/v1/projects/{info.project_id}/deployments/{serving}/runtime-logs")
        missing = c.get(f"/v1/projects/{info.project_id}/deployments/dpl_nope/runtime-logs")
    assert r.headers["content-type"].startswith("application/stream+json") and missing.status_code == 404
    lines = [httpx.Response(200, content=line).json() for line in r.content.splitlines()]
    assert lines and all(set(line) == {"level", "message", "rowId", "source", "timestampInMs", "domain",
                                       "messageTruncated", "requestMethod", "requestPath",
                                       "responseStatusCode"} for line in lines)
    assert any(line["level"] == "error" and line["requestPath"] == "/api/cron/followups" for line in lines)
    request_ids = {r["requestId"] for r in request_log_rows(info, sim_now(info) - 10 * 60_000, sim_now(info))}
    assert not any(line["rowId"].startswith(rid) for line in lines for rid in request_ids)  # no request id
    assert min(line["timestampInMs"] for line in lines) >= sim_now(info) - 5 * 60_000 - 60_000


def test_user_team_and_builds_for_the_cli(start_sandbox):
    info = start_sandbox(traffic=False)
    assert _get(info, "/v2/user")["user"]["id"] == "user_sandbox"
    team = _get(info, f"/teams/{info.team_id}")
    assert team["id"] == info.team_id and team["sensitiveEnvironmentVariablePolicy"] == "default"
    with vercel(info) as c:
        assert c.get("/teams/team_other").status_code == 404
    serving = _get(info, f"/v9/projects/{info.project_id}")["targets"]["production"]["id"]
    assert _get(info, f"/v11/deployments/{serving}/builds")["builds"][0]["readyState"] == "READY"
    assert info.token.isalnum() and len(info.token) == 24  # the CLI refuses a token with "-"


@pytest.mark.parametrize("pair", ["flag_targets=preview", "request_logs=403", "inngest_server=selfhosted"])
def test_choice_knobs_name_the_allowed_values(pair):
    with pytest.raises(InputError, match=pair.split("=")[0]):
        parse_knobs([pair])


@pytest.mark.parametrize("server", ["cloud", "oss"])
def test_inngest_server_decides_whether_function_failed_is_listed(start_sandbox, server):
    info = start_sandbox(inngest_server=server, bad_signing_key=True, traffic=False)
    set_flag(info, FLAG, "true")
    redeploy(info)
    assert _probe(info).status_code == 202
    auth = {"Authorization": f"Bearer {info.env['INNGEST_SIGNING_KEY']}"}

    def listed(name):
        r = httpx.get(f"{info.inngest_api}/v1/events", params={"name": name}, headers=auth)
        assert r.status_code == 200 and set(r.json()) == {"data", "metadata"}
        return r.json()["data"]

    wait_until(lambda: listed("cron/followups.requested"), what="the dispatched event")
    if server == "cloud":
        assert wait_until(lambda: listed("inngest/function.failed"), what="inngest/function.failed")
    else:  # the run failed all the same, but the open-source server never lists inngest/* events
        wait_until(lambda: [r for r in ledger_rows(info) if r["status"] == "FAILED"], what="the FAILED run")
        assert listed("inngest/function.failed") == []
