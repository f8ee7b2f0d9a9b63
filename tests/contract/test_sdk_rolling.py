"""Rolling Releases and Instant Rollback: every answer of the sandbox validates with @vercel/sdk."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import vercel, wait_until

pytestmark = pytest.mark.timeout(900)  # the first test may wait for npm ci

CONFIG = {"enabled": True, "advancementType": "manual-approval",
          "stages": [{"targetPercentage": 10}, {"targetPercentage": 100}]}


def _production(info) -> str:
    with vercel(info) as c:
        return c.get(f"/v9/projects/{info.project_id}").json()["targets"]["production"]["id"]


def _staged_canary(info, source: str) -> str:
    with vercel(info) as c:
        created = c.post("/v13/deployments", json={
            "name": "zrg-dashboard", "deploymentId": source, "project": info.project_id,
            "target": "production", "autoAssignCustomDomains": False, "meta": {}}).json()
        wait_until(lambda: c.get(f"/v13/deployments/{created['id']}").json()["readyState"] == "READY",
                   what="the canary build")
    return created["id"]


def test_release_lifecycle_and_rollback_validate(start_served, sdk):
    info = start_served(factor=600)
    assert sdk(info, "get-rolling-release-billing")["reason"] == "unlimited_slots"
    assert sdk(info, "get-rolling-release-config") == {"rollingRelease": None}
    assert sdk(info, "get-rolling-release") == {"rollingRelease": None}
    sdk(info, "update-rolling-release-config", CONFIG)
    config = sdk(info, "get-rolling-release-config")["rollingRelease"]
    assert [s["targetPercentage"] for s in config["stages"]] == [10, 100]

    control = _production(info)
    canary = _staged_canary(info, control)
    started = sdk(info, "start-rolling-release",
                  {"requestBody": {"canaryDeploymentId": canary}})["rollingRelease"]
    assert started["state"] == "ACTIVE" and started["activeStage"]["targetPercentage"] == 10
    active = sdk(info, "get-rolling-release", {"state": "ACTIVE"})["rollingRelease"]
    assert active["canaryDeployment"]["id"] == canary
    done = sdk(info, "approve-rolling-release-stage",
               {"requestBody": {"nextStageIndex": 1, "canaryDeploymentId": canary}})["rollingRelease"]
    assert done["state"] == "COMPLETE" and _production(info) == canary

    assert sdk(info, "request-rollback", {"deploymentId": control, "description": "contract"}) == {
        "rolledBack": control}
    assert _production(info) == control
    second = _staged_canary(info, control)
    sdk(info, "start-rolling-release", {"requestBody": {"canaryDeploymentId": second}})
    sdk(info, "request-rollback", {"deploymentId": control})  # an abort, as `vercel rr abort` does it
    aborted = sdk(info, "get-rolling-release")["rollingRelease"]
    assert aborted["state"] == "ABORTED" and aborted["activeStage"] is None
    third = _staged_canary(info, control)
    sdk(info, "start-rolling-release", {"requestBody": {"canaryDeploymentId": third}})
    completed = sdk(info, "complete-rolling-release", {"requestBody": {"canaryDeploymentId": third}})
    assert completed["rollingRelease"]["state"] == "COMPLETE"


def test_plan_without_rolling_releases_validates(start_served, sdk):
    info = start_served(rolling_releases=False)
    billing = sdk(info, "get-rolling-release-billing")
    assert billing["reason"] == "plan_not_supported" and billing["availableSlots"] == 0
    assert sdk(info, "get-rolling-release") == {"rollingRelease": None}
