import json

import httpx
import pytest
import respx

from reversal.platform.rolling import RollingReleases, canary_config, parse_rolling_release
from reversal.platform.vercel import VercelError
from tests.platform.fakes import API, PROJECT, TEAM, TOKEN, error, make_client

BASE = f"{API}/v1/projects/{PROJECT}"


def release(state="ACTIVE", canary="dpl_canary", current="dpl_control", active=0):
    stages = [{"index": 0, "isFinalStage": False, "targetPercentage": 10, "requireApproval": True,
               "duration": None},
              {"index": 1, "isFinalStage": True, "targetPercentage": 100, "requireApproval": False,
               "duration": None}]
    deployment = {"name": "app", "createdAt": 1, "readyState": "READY", "url": "x.vercel.app"}
    return {"rollingRelease": {
        "state": state, "substate": None, "currentDeployment": {**deployment, "id": current},
        "canaryDeployment": {**deployment, "id": canary}, "queuedDeploymentId": None,
        "advancementType": "manual-approval", "stages": stages,
        "activeStage": None if active is None else stages[active],
        "nextStage": stages[active + 1] if active is not None and active + 1 < len(stages) else None,
        "startedAt": 1, "updatedAt": 2}}


@pytest.fixture
def router():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as r:
        yield r


def test_parse_release_and_null():
    parsed = parse_rolling_release(release())
    assert parsed.state == "ACTIVE" and parsed.canary_id == "dpl_canary"
    assert parsed.current_id == "dpl_control"
    assert parsed.canary_percentage == 10 and parsed.next_stage.index == 1 and len(parsed.stages) == 2
    assert parse_rolling_release({"rollingRelease": None}) is None
    assert parse_rolling_release(release(active=None)).canary_percentage is None


def test_canary_config_is_two_stage_manual_and_refuses_bad_shares():
    config = canary_config(10)
    assert config["advancementType"] == "manual-approval" and config["enabled"] is True
    assert [s["targetPercentage"] for s in config["stages"]] == [10, 100]
    for bad in (0, 100, -5, 150):
        with pytest.raises(ValueError):
            canary_config(bad)


def test_endpoints_paths_bodies_and_team_scope(router):
    seen = []

    def record(request):
        seen.append((request.method, request.url.path, dict(request.url.params),
                     json.loads(request.content) if request.content else None))
        return httpx.Response(200, json=release())

    router.route(host="api.test.vercel").mock(side_effect=record)
    rr = RollingReleases(make_client())
    rr.configure(canary_config(10))
    rr.start("dpl_canary")
    rr.approve_stage("dpl_canary", 1)
    rr.complete("dpl_canary")
    assert rr.get(state="ACTIVE").canary_id == "dpl_canary"
    paths = [(m, p) for m, p, _, _ in seen]
    assert paths == [("PATCH", f"/v1/projects/{PROJECT}/rolling-release/config"),
                     ("POST", f"/v1/projects/{PROJECT}/rolling-release/start"),
                     ("POST", f"/v1/projects/{PROJECT}/rolling-release/approve-stage"),
                     ("POST", f"/v1/projects/{PROJECT}/rolling-release/complete"),
                     ("GET", f"/v1/projects/{PROJECT}/rolling-release")]
    assert all(params.get("teamId") == TEAM for _, _, params, _ in seen)
    assert seen[1][3] == {"canaryDeploymentId": "dpl_canary"}
    assert seen[2][3] == {"nextStageIndex": 1, "canaryDeploymentId": "dpl_canary"}
    assert seen[4][2]["state"] == "ACTIVE"


def test_instant_rollback_and_abort_post_to_the_rollback_endpoint(router):
    route = router.post(f"{BASE}/rollback/dpl_control").respond(201)
    rr = RollingReleases(make_client())
    rr.rollback("dpl_control", description="bad deploy")
    rr.abort("dpl_control")
    assert route.call_count == 2
    first = route.calls[0].request
    assert first.url.params["description"] == "bad deploy" and first.url.params["teamId"] == TEAM
    assert first.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_start_that_landed_before_a_5xx_is_not_repeated(router):
    start = router.post(f"{BASE}/rolling-release/start").mock(
        side_effect=[error(502, "bad_gateway"), httpx.Response(200, json=release())])
    router.get(f"{BASE}/rolling-release").respond(200, json=release())
    result = RollingReleases(make_client()).start("dpl_canary")
    assert start.call_count == 1 and result.canary_id == "dpl_canary"


def test_a_start_that_did_not_land_is_retried(router):
    start = router.post(f"{BASE}/rolling-release/start").mock(
        side_effect=[error(503, "unavailable"), httpx.Response(200, json=release())])
    router.get(f"{BASE}/rolling-release").respond(200, json={"rollingRelease": None})
    assert RollingReleases(make_client()).start("dpl_canary").state == "ACTIVE"
    assert start.call_count == 2


def test_rollback_retry_stops_once_production_serves_the_target(router):
    post = router.post(f"{BASE}/rollback/dpl_control").mock(side_effect=[error(500, "internal_server_error")])
    router.get(f"{API}/v9/projects/{PROJECT}").respond(
        200, json={"targets": {"production": {"id": "dpl_control"}}})
    RollingReleases(make_client()).rollback("dpl_control")
    assert post.call_count == 1


@pytest.mark.parametrize("body,expected", [
    ({"availableSlots": 0, "reason": "plan_not_supported", "message": "Upgrade to Pro"}, "Upgrade to Pro"),
    ({"availableSlots": 0, "reason": "no_available_slots", "message": "All slots used",
      "enabledProjects": ["prj_x"]}, "no_available_slots"),
    ({"availableSlots": "unlimited", "reason": "unlimited_slots", "message": "ok"}, None),
    ({"availableSlots": 2, "reason": "available_slots", "message": "ok"}, None),
])
def test_unavailable_reason_from_billing_status(router, body, expected):
    router.get(f"{BASE}/rolling-release/billing").respond(200, json=body)
    reason = RollingReleases(make_client()).unavailable_reason()
    assert (reason is None) if expected is None else (expected in reason)


def test_unavailable_when_the_endpoint_refuses_but_other_errors_raise(router):
    route = router.get(f"{BASE}/rolling-release/billing")
    route.respond(403, json={"error": {"code": "forbidden", "message": "Not authorized"}})
    assert "refuse" in RollingReleases(make_client()).unavailable_reason()
    route.respond(400, json={"error": {"code": "bad_request", "message": "nope"}})
    with pytest.raises(VercelError):
        RollingReleases(make_client()).unavailable_reason()


def test_get_config_none_when_disabled(router):
    route = router.get(f"{BASE}/rolling-release/config")
    route.respond(200, json={"rollingRelease": None})
    assert RollingReleases(make_client()).get_config() is None
    route.respond(200, json={"rollingRelease": {"target": "production", "stages": []}})
    assert RollingReleases(make_client()).get_config()["target"] == "production"


def test_canary_build_is_not_promoted_and_a_failed_build_raises(router):
    from reversal.platform.deploy import DeployFailed
    from reversal.platform.rolling import build_canary
    from reversal.platform.vercel import parse_deployment
    from tests.platform.fakes import FakeClock

    created = router.post(f"{API}/v13/deployments").respond(
        200, json={"id": "dpl_new", "url": "n.vercel.app", "readyState": "QUEUED", "createdAt": 1})
    states = iter(["BUILDING", "READY"])
    router.get(f"{API}/v13/deployments/dpl_new").mock(side_effect=lambda _: httpx.Response(
        200, json={"id": "dpl_new", "url": "n.vercel.app", "readyState": next(states),
                   "readySubstate": "STAGED", "ready": 5}))
    source = parse_deployment({"id": "dpl_src", "name": "app", "readyState": "READY"})
    record = build_canary(make_client(), source=source, clock=FakeClock(), intent_id="it:deploy:canary")
    body = json.loads(created.calls[0].request.content)
    assert body["autoAssignCustomDomains"] is False and body["meta"] == {"reversalIntent": "it:deploy:canary"}
    assert record.final_state == "READY" and record.ready_substate == "STAGED"
    router.get(f"{API}/v13/deployments/dpl_new").respond(
        200, json={"id": "dpl_new", "url": "n.vercel.app", "readyState": "ERROR"})
    with pytest.raises(DeployFailed, match="ended ERROR"):
        build_canary(make_client(), source=source, clock=FakeClock(), intent_id="it:deploy:canary#2")


@pytest.mark.parametrize(("status", "refused"), [(422, True), (402, True), (403, True), (401, False),
                                                 (503, False)])
def test_a_refused_instant_rollback_is_told_apart_from_an_outage(router, status, refused):
    from reversal.iteration.live import LivePlatform
    from reversal.iteration.ports import PlatformError, RollbackRefused

    router.post(f"{BASE}/rollback/dpl_control").mock(return_value=error(status, "nope", "not possible"))
    router.get(f"{API}/v9/projects/{PROJECT}").respond(200, json={"targets": {"production": {"id": "dpl_x"}}})
    platform = LivePlatform(config=None, clock=None, ui=None, client=make_client())  # type: ignore[arg-type]
    with pytest.raises(PlatformError) as caught:
        platform.instant_rollback("dpl_control", "verdict FAIL")
    assert isinstance(caught.value, RollbackRefused) is refused


def test_preflight_reads_whether_the_known_good_deployment_is_a_rollback_candidate(router):
    from reversal.iteration.live import LivePlatform

    listed = [{"uid": "dpl_a", "state": "READY", "target": "production", "isRollbackCandidate": False},
              {"uid": "dpl_b", "state": "READY", "target": "production", "isRollbackCandidate": None}]
    router.get(f"{API}/v6/deployments").respond(200, json={"deployments": listed})
    platform = LivePlatform(config=None, clock=None, ui=None, client=make_client())  # type: ignore[arg-type]
    assert [platform.rollback_candidate(d) for d in ("dpl_a", "dpl_b", "dpl_c")] == [False, None, None]
