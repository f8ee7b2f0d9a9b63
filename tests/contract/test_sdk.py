"""Every operation the sandbox serves validates with ``@vercel/sdk`` 1.28.35 (zod on).

One plain sandbox and one with the real-world knobs (sensitive secrets under an enforced team
policy, a staged production deployment, a blocked deployment), so each shape the sandbox can
answer is checked, not just the happy one.
"""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import vercel, wait_until

pytestmark = pytest.mark.timeout(900)  # the first test may wait for npm ci

@pytest.fixture(scope="module")
def plain(start_served):
    return start_served()


@pytest.fixture(scope="module")
def real_world(start_served):
    return start_served(sensitive_secrets=True, enforce_sensitive=True, staged_production=True,
                        blocked_deploy=True, flag_targets="all")


@pytest.fixture(params=["plain", "real_world"])
def info(request):
    return request.getfixturevalue(request.param)


def _raw_envs(info):
    with vercel(info) as c:
        return {(e["key"], tuple(e["target"])): e
                for e in c.get(f"/v10/projects/{info.project_id}/env").json()["envs"]}


def test_env_list_validates_decrypted_or_not(info, sdk):
    for decrypt in ("true", "false"):
        envs = sdk(info, "filter-project-envs", {"decrypt": decrypt})["envs"]
        keys = {e["key"] for e in envs}
        assert keys >= {"CRON_SECRET", "INNGEST_SIGNING_KEY", "CRON_FOLLOWUPS_USE_INNGEST"}
        assert all(e["securityIssues"] == [] for e in envs)


def test_env_get_validates_for_every_type(info, sdk):
    types = set()
    for env in _raw_envs(info).values():
        got = sdk(info, "get-project-env", {"id": env["id"]})
        assert got["id"] == env["id"] and got["type"] == env["type"]
        assert ("value" in got) is (env["type"] != "sensitive")
        types.add(env["type"])
    assert types >= {"encrypted", "plain"}


def test_env_create_single_array_upsert_and_edit_validate(info, sdk):
    one = {"key": "CONTRACT_ONE", "value": "1", "type": "encrypted", "target": ["production"]}
    created = sdk(info, "create-project-env", {"requestBody": one})
    assert created["created"]["key"] == "CONTRACT_ONE" and created["failed"] == []
    clash = sdk(info, "create-project-env", {"requestBody": one})
    assert clash["failed"][0]["error"]["code"] == "ENV_ALREADY_EXISTS"
    many = [{**one, "key": "CONTRACT_TWO"}, {**one, "value": "2"}]
    upserted = sdk(info, "create-project-env", {"upsert": "true", "requestBody": many})
    assert [e["key"] for e in upserted["created"]] == ["CONTRACT_TWO", "CONTRACT_ONE"]
    edited = sdk(info, "edit-project-env", {"id": created["created"]["id"], "requestBody": {"value": "3"}})
    assert edited["id"] == created["created"]["id"]


def test_project_validates_and_names_the_deployment_serving_production(info, sdk):
    project = sdk(info, "get-project")
    production = project["targets"]["production"]
    assert production["readyState"] == "READY" and production["readySubstate"] == "PROMOTED"
    assert project["alias"][0]["deployment"]["id"] == production["id"]
    latest = project["latestDeployments"]
    assert latest[0]["createdAt"] >= production["createdAt"]


def test_deployments_list_v6_and_v7_validate_and_agree(info, sdk):
    v7 = sdk(info, "get-deployments", {"limit": 5})
    v6 = sdk(info, "get-deployments-v6", {"limit": "5"})
    assert [d["uid"] for d in v7["deployments"]] == [d["uid"] for d in v6["deployments"]]
    assert v7["deployments"] and v7["pagination"]["count"] == len(v7["deployments"])


def test_runtime_logs_lines_validate(info, sdk):
    serving = sdk(info, "get-project")["targets"]["production"]["id"]
    lines = sdk(info, "get-runtime-logs", {"deploymentId": serving})
    assert lines, "the serving deployment wrote no runtime log line in the last 5 simulated minutes"
    assert {line["source"] for line in lines} == {"serverless"}
    assert all(line["requestPath"].startswith("/api/") for line in lines)


def test_create_then_get_deployment_validate_in_every_state(info, sdk, request):
    serving = sdk(info, "get-project")["targets"]["production"]["id"]
    body = {"name": "zrg-dashboard", "project": info.project_id, "deploymentId": serving,
            "target": "production", "meta": {"redeployedBy": "contract"}}
    created = sdk(info, "create-deployment", {"requestBody": body})
    assert created["sdk"]["readyState"] == "QUEUED" and created["raw"]["meta"].items() >= body["meta"].items()
    finals = []
    for new in (created["sdk"]["id"], created["raw"]["id"]):
        done = wait_until(lambda new=new: (got := sdk(info, "get-deployment", {"idOrUrl": new}))["readyState"]
                          in ("READY", "ERROR", "BLOCKED") and got, timeout=30, what=f"{new} to finish")
        finals.append(done["readyState"])
    # blocked_deploy: the first deployment made through the API ends BLOCKED, the next one READY
    blocked = request.node.callspec.params["info"] == "real_world"
    assert finals == (["BLOCKED", "READY"] if blocked else ["READY", "READY"])
