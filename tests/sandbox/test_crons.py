"""Cron definitions as Vercel's API shows them: on each deployment, and the project's running set."""

from __future__ import annotations

from reversal.crons import changes, schedules
from reversal.sandbox.platform import CHANGED_SCHEDULE, CRONS
from tests.sandbox.conftest import redeploy, vercel


def _project_crons(info):
    with vercel(info) as c:
        return c.get(f"/v9/projects/{info.project_id}").json()["crons"]


def _deployment_crons(info, deployment_id):
    with vercel(info) as c:
        return c.get(f"/v13/deployments/{deployment_id}").json()["crons"]


def test_deployments_carry_the_app_crons_and_a_redeploy_keeps_them(start_sandbox):
    info = start_sandbox(traffic=False)
    before = _project_crons(info)
    assert {(d["path"], d["schedule"]) for d in before["definitions"]} == {
        (c["path"], c["schedule"]) for c in CRONS}
    assert _deployment_crons(info, before["deploymentId"]) == [
        {"schedule": c["schedule"], "path": c["path"]} for c in CRONS]
    deployed = redeploy(info)
    assert deployed["readyState"] == "READY"
    assert changes(schedules(CRONS), schedules(deployed["crons"])) == []
    assert _project_crons(info)["deploymentId"] == deployed["id"]


def test_cron_change_on_deploy_changes_one_schedule_of_the_next_api_deployment_only(start_sandbox):
    info = start_sandbox(traffic=False, cron_change_on_deploy=True)
    first = redeploy(info)
    [change] = changes(schedules(CRONS), schedules(first["crons"]))
    assert change == f"{CRONS[0]['path']}: schedule {CRONS[0]['schedule']} -> {CHANGED_SCHEDULE}"
    running = {d["path"]: d["schedule"] for d in _project_crons(info)["definitions"]}
    assert running[CRONS[0]["path"]] == CHANGED_SCHEDULE  # production now runs the changed one
    second = redeploy(info)
    assert changes(schedules(first["crons"]), schedules(second["crons"])) == []  # once only
