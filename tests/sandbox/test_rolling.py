"""Rolling Releases and Instant Rollback in the sandbox: shapes, the split by env snapshot, knobs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.sandbox.conftest import redeploy, request_log_rows, set_flag, sim_now, vercel, wait_until

FLAG = "INBOXXIA_EMAIL_SENT_ASYNC"  # the webhook slice's flag
MINUTE = 60_000


def configure(c, share: float, **extra: Any):
    return c.patch(f"{_base(c)}/rolling-release/config", json={
        "enabled": True, "advancementType": "manual-approval",
        "stages": [{"targetPercentage": share}, {"targetPercentage": 100}], **extra})


def _base(c) -> str:
    return f"/v1/projects/{c.project_id}"


def client(info):
    c = vercel(info)
    c.project_id = info.project_id
    return c


def production_id(c) -> str:
    return c.get(f"/v9/projects/{c.project_id}").json()["targets"]["production"]["id"]


def staged_canary(c, control: str) -> dict[str, Any]:
    """A production build that does not take the domain (``vercel deploy --prod --skip-domain``)."""
    created = c.post("/v13/deployments", json={
        "name": "zrg-dashboard", "deploymentId": control, "project": c.project_id, "target": "production",
        "autoAssignCustomDomains": False, "meta": {"reversalCanary": "1"}}).json()
    return wait_until(lambda: (d := c.get(f"/v13/deployments/{created['id']}").json())["readyState"]
                      == "READY" and d, what="the canary build")


def rows_by_deployment(info, since: int, until: int, path: str) -> Counter:
    rows = request_log_rows(info, since, until)
    return Counter(r["deploymentId"] for r in rows if r["requestPath"] == path)


def test_release_splits_traffic_by_env_snapshot_and_completes(start_sandbox):
    info = start_sandbox()
    with client(info) as c:
        assert c.get(f"{_base(c)}/rolling-release/config").json() == {"rollingRelease": None}
        assert configure(c, 50).status_code == 200
        config = c.get(f"{_base(c)}/rolling-release/config").json()["rollingRelease"]
        assert [s["targetPercentage"] for s in config["stages"]] == [50, 100]
        assert config["target"] == "production"
        control = production_id(c)
        set_flag(info, FLAG, "true")
        canary = staged_canary(c, control)
        assert canary["readySubstate"] == "STAGED" and production_id(c) == control
        started = c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": canary["id"]})
        assert started.status_code == 200, started.text
        body = started.json()["rollingRelease"]
        assert body["state"] == "ACTIVE" and body["canaryDeployment"]["id"] == canary["id"]
        assert body["currentDeployment"]["id"] == control and body["activeStage"]["targetPercentage"] == 50
        assert body["nextStage"]["index"] == 1 and body["advancementType"] == "manual-approval"
        assert c.get(f"/v13/deployments/{canary['id']}").json()["readySubstate"] == "ROLLING"
        again = c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": canary["id"]})
        assert again.status_code == 200 and again.json()["rollingRelease"]["startedAt"] == body["startedAt"]

        since = sim_now(info)
        wait_until(lambda: sim_now(info) > since + 40 * MINUTE, what="40 simulated minutes")
        rows = [r for r in request_log_rows(info, since, since + 38 * MINUTE)
                if r["requestPath"] == "/api/webhooks/email"]
        arms = Counter(r["deploymentId"] for r in rows)
        assert set(arms) == {control, canary["id"]}
        assert 0.25 < arms[canary["id"]] / sum(arms.values()) < 0.75
        # each arm serves with its own env snapshot: queue-first (flag on) only on the canary
        queued = {r["deploymentId"] for r in rows if any("queued" in line["message"] for line in r["logs"])}
        assert queued == {canary["id"]}

        wrong = c.post(f"{_base(c)}/rolling-release/approve-stage",
                       json={"canaryDeploymentId": canary["id"], "nextStageIndex": 3})
        assert wrong.status_code == 400
        done = c.post(f"{_base(c)}/rolling-release/approve-stage",
                      json={"canaryDeploymentId": canary["id"], "nextStageIndex": 1})
        assert done.status_code == 200 and done.json()["rollingRelease"]["state"] == "COMPLETE"
        assert production_id(c) == canary["id"]
        assert c.get(f"/v13/deployments/{canary['id']}").json()["readySubstate"] == "PROMOTED"
        after = sim_now(info)
        wait_until(lambda: sim_now(info) > after + 12 * MINUTE, what="12 simulated minutes")
        assert set(rows_by_deployment(info, after + MINUTE, after + 10 * MINUTE, "/api/webhooks/email")) == {
            canary["id"]}


def test_instant_rollback_restores_without_a_build_and_aborts_a_release(start_sandbox):
    info = start_sandbox()
    with client(info) as c:
        assert configure(c, 30).status_code == 200
        control = production_id(c)
        canary = staged_canary(c, control)
        c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": canary["id"]})
        count = len(c.get("/v6/deployments", params={"limit": 100, "state": None}).json()["deployments"])
        reply = c.post(f"/v1/projects/{info.project_id}/rollback/{control}",
                       params={"description": "canary failed"})
        assert reply.status_code == 201 and reply.content == b""
        release = c.get(f"{_base(c)}/rolling-release").json()["rollingRelease"]
        assert release["state"] == "ABORTED" and release["activeStage"] is None
        assert c.get(f"{_base(c)}/rolling-release", params={"state": "ACTIVE"}).json() == {
            "rollingRelease": None}
        assert len(c.get("/v6/deployments", params={"limit": 100}).json()["deployments"]) == count
        since = sim_now(info)
        wait_until(lambda: sim_now(info) > since + 12 * MINUTE, what="12 simulated minutes")
        assert set(rows_by_deployment(info, since + MINUTE, since + 10 * MINUTE,
                                      "/api/webhooks/email")) == {control}

        # a rollback to an older deployment after a newer one took production (config off, so the
        # redeploy is promoted instead of starting another release)
        assert c.patch(f"{_base(c)}/rolling-release/config", json={"enabled": False}).status_code == 200
        newer = redeploy(info)
        assert newer["readyState"] == "READY" and production_id(c) == newer["id"]
        assert c.post(f"/v1/projects/{info.project_id}/rollback/{control}").status_code == 201
        assert production_id(c) == control
        missing = c.post(f"/v1/projects/{info.project_id}/rollback/dpl_nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_configured_release_starts_on_a_production_deployment(start_sandbox):
    info = start_sandbox()
    with client(info) as c:
        configure(c, 10)
        control = production_id(c)
        new = redeploy(info)
        assert new["readySubstate"] == "ROLLING" and production_id(c) == control
        release = c.get(f"{_base(c)}/rolling-release", params={"state": "ACTIVE"}).json()["rollingRelease"]
        assert release["canaryDeployment"]["id"] == new["id"]
        assert release["currentDeployment"]["id"] == control
        other = staged_canary(c, control)
        clash = c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": other["id"]})
        assert clash.status_code == 409
        done = c.post(f"{_base(c)}/rolling-release/complete", json={"canaryDeploymentId": new["id"]})
        assert done.json()["rollingRelease"]["state"] == "COMPLETE" and production_id(c) == new["id"]
        assert c.patch(f"{_base(c)}/rolling-release/config", json={"enabled": False}).status_code == 200
        assert redeploy(info)["readySubstate"] == "PROMOTED"


def test_invalid_configs_are_refused(start_sandbox):
    info = start_sandbox()
    with client(info) as c:
        for stages in ([{"targetPercentage": 100}], [{"targetPercentage": 50}, {"targetPercentage": 90}],
                       [{"targetPercentage": 60}, {"targetPercentage": 40}, {"targetPercentage": 100}]):
            r = c.patch(f"{_base(c)}/rolling-release/config",
                        json={"enabled": True, "advancementType": "manual-approval", "stages": stages})
            assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
        assert configure(c, 10, advancementType="sometimes").status_code == 400
        canary = staged_canary(c, production_id(c))
        unconfigured = c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": canary["id"]})
        assert unconfigured.status_code == 400


def test_plan_without_rolling_releases(start_sandbox):
    info = start_sandbox(rolling_releases=False)
    with client(info) as c:
        billing = c.get(f"{_base(c)}/rolling-release/billing").json()
        assert billing["reason"] == "plan_not_supported" and billing["availableSlots"] == 0
        refused = configure(c, 10)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert c.get(f"{_base(c)}/rolling-release").json() == {"rollingRelease": None}
        canary = staged_canary(c, production_id(c))
        assert c.post(f"{_base(c)}/rolling-release/start",
                      json={"canaryDeploymentId": canary["id"]}).status_code == 403
        # Instant Rollback is not a Rolling Releases feature: it still works
        assert c.post(f"/v1/projects/{info.project_id}/rollback/{production_id(c)}").status_code == 201


def test_cron_split_false_keeps_crons_on_production(start_sandbox):
    info = start_sandbox(cron_split=False)
    with client(info) as c:
        configure(c, 50)
        control = production_id(c)
        canary = staged_canary(c, control)
        c.post(f"{_base(c)}/rolling-release/start", json={"canaryDeploymentId": canary["id"]})
        since = sim_now(info)
        wait_until(lambda: sim_now(info) > since + 32 * MINUTE, what="32 simulated minutes")
        rows = request_log_rows(info, since, since + 30 * MINUTE)
        crons = Counter(r["deploymentId"] for r in rows if r["requestPath"].startswith("/api/cron/"))
        webhooks = Counter(r["deploymentId"] for r in rows if r["requestPath"] == "/api/webhooks/email")
        assert set(crons) == {control} and sum(crons.values()) > 30
        assert set(webhooks) == {control, canary["id"]}


def test_without_instant_rollback_no_deployment_is_a_candidate_and_a_rollback_is_refused(start_sandbox):
    info = start_sandbox(instant_rollback=False, traffic=False, history_s=60)
    with client(info) as c:
        control = production_id(c)
        listed = c.get("/v6/deployments", params={"target": "production", "state": "READY"}).json()
        assert [d["isRollbackCandidate"] for d in listed["deployments"]] == [False]
        newer = redeploy(info)
        refused = c.post(f"/v1/projects/{info.project_id}/rollback/{control}")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_rollback_candidate"
        assert production_id(c) == newer["id"]
