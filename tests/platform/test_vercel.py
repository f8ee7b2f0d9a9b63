import json
from pathlib import Path

import httpx
import pytest
import respx

from reversal.config import load_config
from reversal.errors import InputError
from reversal.platform.vercel import EnvVar, RetryBudgetExhausted, RetryPolicy, VercelClient, VercelError
from tests.platform.fakes import API, LOGS, PROJECT, TEAM, TOKEN, FakeTime, FakeVercel, error, make_client


@pytest.fixture
def router():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as r:
        yield r


# -- endpoints ---------------------------------------------------------------------------------


def test_env_list_get_and_find_use_documented_paths(router):
    fake = FakeVercel(router)
    fake.add_env("CRON_FOLLOWUPS_USE_INNGEST", "true")
    fake.add_env("CRON_FOLLOWUPS_USE_INNGEST", "false", target=("preview",))
    client = make_client()
    listed = client.list_env()
    assert [e.key for e in listed] == ["CRON_FOLLOWUPS_USE_INNGEST"] * 2
    assert all(e.value is None for e in listed)  # encrypted blobs are not values
    found = client.find_env("CRON_FOLLOWUPS_USE_INNGEST", "production")
    assert found is not None and found.value == "true" and found.target == ("production",)
    assert client.find_env("MISSING") is None
    assert client.find_env("CRON_FOLLOWUPS_USE_INNGEST", "preview").value == "false"


def test_env_target_as_bare_string_and_single_env_body(router):
    router.get(f"{API}/v10/projects/{PROJECT}/env").respond(
        200, json={"id": "e1", "key": "K", "value": "v", "type": "plain", "target": "production"})
    [env] = make_client().list_env()
    assert env.target == ("production",) and env.value == "v"


def test_env_repr_hides_the_value():
    env = EnvVar("e1", "CRON_SECRET", "very-secret-value", "encrypted", ("production",))
    assert "very-secret-value" not in repr(env)
    assert "17 chars" in repr(env)


def test_create_env_posts_upsert_and_reports_failed_items(router):
    fake = FakeVercel(router)
    created = make_client().create_env("NEW_FLAG", "true")
    assert created.key == "NEW_FLAG" and fake.value("NEW_FLAG") == "true"
    post = next(r for r in fake.requests if r.method == "POST")
    assert json.loads(post.content) == {"key": "NEW_FLAG", "value": "true", "type": "encrypted",
                                        "target": ["production"]}
    router.post(f"{API}/v10/projects/{PROJECT}/env").respond(
        201, json={"created": [], "failed": [{"error": {"code": "ENV_CONFLICT", "message": "conflict"}}]})
    with pytest.raises(VercelError, match="ENV_CONFLICT: conflict") as info:
        make_client().create_env("NEW_FLAG", "hunter2-value")
    assert "hunter2-value" not in str(info.value)


def test_edit_env_patches_v9(router):
    fake = FakeVercel(router)
    env_id = fake.add_env("F", "false")
    make_client().edit_env(env_id, "true")
    assert fake.value("F") == "true"
    assert any(r.method == "PATCH" and r.url.path.startswith("/v9/") for r in fake.requests)


def test_deployments_list_get_create(router):
    fake = FakeVercel(router)
    old = fake.add_deployment(created=1000)
    new = fake.add_deployment(created=2000)
    fake.add_deployment(state="ERROR", created=3000)
    client = make_client()
    listed = client.list_deployments()
    assert [d.id for d in listed] == [new, old]  # list uses `uid`; READY only; newest first
    got = client.get_deployment(new)
    assert got.id == new and got.state == "READY" and got.created_ms == 2000
    made = client.create_deployment(name="zrg-dashboard", deployment_id=new, meta={"reversalIntent": "i1"})
    assert made.state == "QUEUED" and made.meta == {"reversalIntent": "i1"}
    post = next(r for r in fake.requests if r.method == "POST")
    assert post.url.params["forceNew"] == "1"
    assert json.loads(post.content)["deploymentId"] == new


def test_request_logs_page_until_has_more_rows_is_false(router):
    fake = FakeVercel(router, page_size=2)
    fake.log_rows = [{"requestId": f"r{i}", "timestamp": "2026-02-18T03:00:00Z"} for i in range(7)]
    rows = list(make_client().iter_request_logs(since_ms=1, until_ms=2, status_code="5xx"))
    assert [r["requestId"] for r in rows] == [f"r{i}" for i in range(7)]
    pages = [r for r in fake.requests if r.url.path == "/api/logs/request-logs"]
    assert [int(r.url.params["page"]) for r in pages] == [0, 1, 2, 3]
    assert {(r.url.params["startDate"], r.url.params["endDate"], r.url.params["statusCode"])
            for r in pages} == {("1", "2", "5xx")}


def test_request_logs_stop_on_empty_page_even_if_server_says_more(router):
    router.get(f"{LOGS}/api/logs/request-logs").respond(200, json={"rows": [], "hasMoreRows": True})
    assert list(make_client().iter_request_logs(since_ms=1, until_ms=2)) == []


def test_runtime_logs_stream_ndjson_until_delimiter(router):
    lines = [
        {"level": "info", "message": "a", "rowId": "1", "source": "serverless", "timestampInMs": 1},
        {"level": "error", "message": "b", "rowId": "2", "source": "serverless", "timestampInMs": 2},
        {"level": "error", "message": "limit reached", "rowId": "", "source": "delimiter"},
        {"level": "info", "message": "after", "rowId": "3", "source": "serverless"},
    ]
    route = router.get(f"{API}/v1/projects/{PROJECT}/deployments/dpl_1/runtime-logs").respond(
        200, content="\n".join(json.dumps(x) for x in lines).encode() + b"\n",
        headers={"content-type": "application/stream+json"})
    got = list(make_client().stream_runtime_logs("dpl_1"))
    assert [x["message"] for x in got] == ["a", "b"]
    assert route.calls.last.request.url.params["format"] == "lines"
    assert [x["message"] for x in make_client().stream_runtime_logs("dpl_1", max_lines=1)] == ["a"]


def test_base_url_trailing_slash_and_no_team(router):
    route = router.get(f"{API}/v13/deployments/dpl_9").respond(
        200, json={"id": "dpl_9", "readyState": "READY"})
    client = VercelClient(TOKEN, PROJECT, api_base=API + "/", sleep=lambda s: None)
    assert client.get_deployment("dpl_9").state == "READY"
    assert "teamId" not in route.calls.last.request.url.params


# -- retries -----------------------------------------------------------------------------------


def test_429_honours_retry_after(router):
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        error(429, "rate_limited", "slow down", **{"Retry-After": "7"}),
        httpx.Response(200, json={"id": "dpl_1", "readyState": "READY"}),
    ])
    time = FakeTime()
    assert make_client(time).get_deployment("dpl_1").state == "READY"
    assert time.slept == [7.0] and route.call_count == 2


def test_429_without_header_waits_for_body_limit_reset(router):
    body = {"error": {"code": "rate_limited", "message": "x",
                      "limit": {"remaining": 0, "reset": 1003, "resetMs": 1_003_000, "total": 6}}}
    router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        httpx.Response(429, json=body), httpx.Response(200, json={"id": "dpl_1", "readyState": "READY"})])
    time = FakeTime()
    make_client(time).get_deployment("dpl_1")  # wall clock is 1_000_000 ms in make_client
    assert time.slept == [3.0]


def test_502_then_success_backs_off_exponentially(router):
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        error(502, "bad_gateway"), error(503, "unavailable"),
        httpx.Response(200, json={"id": "dpl_1", "readyState": "BUILDING"})])
    time = FakeTime()
    assert make_client(time).get_deployment("dpl_1").state == "BUILDING"
    assert time.slept == [0.5, 1.0] and route.call_count == 3  # jitter pinned to its maximum


def test_timeout_and_connection_error_then_success(router):
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        httpx.ReadTimeout("read timed out"), httpx.ConnectError("refused"),
        httpx.Response(200, json={"id": "dpl_1", "readyState": "READY"})])
    assert make_client().get_deployment("dpl_1").id == "dpl_1"
    assert route.call_count == 3


def test_retry_budget_exhausted_by_attempts(router):
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(return_value=error(500, "internal_server_error"))
    with pytest.raises(RetryBudgetExhausted, match=r"after 5 attempt\(s\).*HTTP 500") as info:
        make_client().get_deployment("dpl_1")
    assert route.call_count == 5 and info.value.status == 500
    assert TOKEN not in str(info.value)


def test_retry_budget_exhausted_by_time_before_sleeping(router):
    router.get(f"{API}/v13/deployments/dpl_1").mock(
        return_value=error(429, "rate_limited", "Try again in 7 days", **{"Retry-After": "604800"}))
    time = FakeTime()
    with pytest.raises(RetryBudgetExhausted, match="exceed the retry budget"):
        make_client(time).get_deployment("dpl_1")
    assert time.slept == []  # never waits longer than the budget allows


def test_retry_jitter_stays_within_cap():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=10)
    assert policy.backoff(10, lambda: 1.0) == 10
    assert policy.backoff(3, lambda: 0.0) == 1.0  # never below half the step
    assert policy.backoff(3, lambda: 0.5) == 1.5


@pytest.mark.parametrize("jitter", [0.0, 1.0])
def test_default_budget_really_rides_out_about_a_minute(router, jitter):
    """docs/configuration.md: up to 6 attempts within 60 s, waits ~2, 4, 8, 16, 20 s (halved at random)."""
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(return_value=error(503, "unavailable"))
    time = FakeTime()
    client = VercelClient(TOKEN, PROJECT, team_id=TEAM, api_base=API, sleep=time.sleep,
                          monotonic=time.monotonic, jitter=lambda: jitter)
    with pytest.raises(RetryBudgetExhausted, match=r"after 6 attempt\(s\).*\(6 attempts, 60s\)"):
        client.get_deployment("dpl_1")
    assert route.call_count == 6
    assert time.slept == ([1.0, 2.0, 4.0, 8.0, 10.0] if jitter == 0 else [2.0, 4.0, 8.0, 16.0, 20.0])
    assert 25 <= sum(time.slept) <= 60


def test_429_retry_after_as_http_date(router):
    # make_client's wall clock is 1_000_000 ms = Thu, 01 Jan 1970 00:16:40 GMT
    route = router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        error(429, "rate_limited", "slow down", **{"Retry-After": "Thu, 01 Jan 1970 00:16:52 GMT"}),
        error(503, "unavailable", **{"Retry-After": "Wed, 31 Dec 1969 23:00:00 GMT"}),  # past: now
        httpx.Response(200, json={"id": "dpl_1", "readyState": "READY"}),
    ])
    time = FakeTime()
    assert make_client(time).get_deployment("dpl_1").state == "READY"
    assert time.slept == [12.0, 0.0] and route.call_count == 3


def test_unparsable_retry_after_falls_back_to_backoff(router):
    router.get(f"{API}/v13/deployments/dpl_1").mock(side_effect=[
        error(503, "unavailable", **{"Retry-After": "soon-ish"}),
        httpx.Response(200, json={"id": "dpl_1", "readyState": "READY"})])
    time = FakeTime()
    make_client(time).get_deployment("dpl_1")
    assert time.slept == [0.5]


@pytest.mark.parametrize("body", [
    {"err": {"code": "bad_request", "message": "Invalid request: `target` should be array"}},
    {"error": {"code": "bad_request", "message": "Invalid request: `target` should be array"}},
    {"code": "bad_request", "message": "Invalid request: `target` should be array"},
])
def test_err_shaped_and_bare_error_bodies_are_read_like_the_cli(router, body):
    router.get(f"{API}/v13/deployments/dpl_1").respond(400, json=body)
    with pytest.raises(VercelError, match=r"HTTP 400 bad_request: Invalid request: `target` should be array"):
        make_client().get_deployment("dpl_1")


def test_403_challenge_required_is_named_not_called_an_invalid_token(router):
    router.get(f"{API}/v1/projects/{PROJECT}/env/e1").respond(403, json={"error": {
        "code": "challenge_required", "message": "Additional authentication required"}})
    with pytest.raises(VercelError) as info:
        make_client().get_env("e1")
    text = str(info.value)
    assert info.value.code == "challenge_required" and "challenge_required" in text
    assert "step-up" in text and "not invalid" in text and "invalid or expired" not in text


@pytest.mark.parametrize(("environ", "named"), [
    ({"VERCEL_TOKEN": TOKEN + "\n"}, "VERCEL_TOKEN has leading or trailing whitespace"),
    ({"VERCEL_TOKEN": "tok abc"}, "VERCEL_TOKEN has whitespace inside it"),
    ({"REVERSAL_VERCEL_API": "api.vercel.com"}, r"REVERSAL_VERCEL_API .* absolute http\(s\) URL"),
    ({"REVERSAL_VERCEL_API": "http://[::1"}, r"REVERSAL_VERCEL_API .* absolute http\(s\) URL"),
    ({"REVERSAL_VERCEL_LOGS_API": "https://vercel.com:99999"}, r"REVERSAL_VERCEL_LOGS_API .* http\(s\) URL"),
    ({"REVERSAL_VERCEL_API": "https:///v1"}, r"REVERSAL_VERCEL_API .* but it has no host"),
    ({"REVERSAL_VERCEL_API": "https://api.vercel.com\n"}, r"REVERSAL_VERCEL_API .* it contains whitespace"),
    ({"REVERSAL_VERCEL_API": "https://api.vercel.com:0"}, r"REVERSAL_VERCEL_API .* but its port is 0"),
])
def test_invalid_configuration_is_an_input_error_before_any_call(tmp_path, router, environ, named):
    base = {"VERCEL_TOKEN": TOKEN, "VERCEL_PROJECT_ID": PROJECT, "VERCEL_ORG_ID": TEAM}
    with pytest.raises(InputError, match=named) as info:
        VercelClient.from_config(load_config(environ={**base, **environ}, cwd=tmp_path))
    assert TOKEN not in str(info.value) and "tok abc" not in str(info.value)
    assert not router.calls


def test_401_names_the_token_problem_without_the_token(router):
    router.get(f"{API}/v13/deployments/dpl_1").respond(403, json={"error": {
        "code": "forbidden", "message": f"Not authorized: {TOKEN}"}})
    with pytest.raises(VercelError) as info:
        make_client().get_deployment("dpl_1")
    assert info.value.status == 403 and info.value.code == "forbidden"
    assert "VERCEL_TOKEN" in str(info.value) and TOKEN not in str(info.value)


def test_404_is_not_retried(router):
    route = router.get(f"{API}/v1/projects/{PROJECT}/env/nope").respond(
        404, json={"error": {"code": "not_found", "message": "Could not find the env: nope"}})
    with pytest.raises(VercelError, match="not_found: Could not find the env") as info:
        make_client().get_env("nope")
    assert route.call_count == 1 and info.value.code == "not_found"


# -- check before retry --------------------------------------------------------------------------


def test_create_env_that_landed_before_a_timeout_is_not_created_twice(router):
    fake = FakeVercel(router)
    original = router.routes["create_env"].side_effect

    def lands_then_times_out(request):
        original(request)
        raise httpx.ReadTimeout("response lost")

    router.routes["create_env"].side_effect = lands_then_times_out
    env = make_client().create_env("CRON_X_USE_INNGEST", "true")
    assert env.key == "CRON_X_USE_INNGEST"
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 1
    assert [e["key"] for e in fake.envs.values()] == ["CRON_X_USE_INNGEST"]


def test_create_env_retried_when_first_attempt_did_not_land(router):
    fake = FakeVercel(router)
    original = router.routes["create_env"].side_effect
    calls = []

    def fails_once(request):
        calls.append(1)
        if len(calls) == 1:
            return error(502, "bad_gateway")
        return original(request)

    router.routes["create_env"].side_effect = fails_once
    make_client().create_env("K", "true")
    assert len(calls) == 2 and fake.value("K") == "true"


def test_redeploy_that_landed_before_a_502_is_returned_not_duplicated(router):
    fake = FakeVercel(router)
    source = fake.add_deployment()
    original = router.routes["create_deployment"].side_effect

    def lands_then_502(request):
        original(request)
        return error(502, "bad_gateway")

    router.routes["create_deployment"].side_effect = lands_then_502
    made = make_client().create_deployment(name="zrg-dashboard", deployment_id=source,
                                           meta={"reversalIntent": "intent-42"})
    assert made.meta["reversalIntent"] == "intent-42"
    assert len(fake.deployments) == 2  # the source and exactly one redeploy
    assert sum(r.method == "POST" for r in fake.requests) == 1
    check = next(r for r in fake.requests if r.url.path == "/v6/deployments")
    assert check.url.params["meta-reversalIntent"] == "intent-42"


# -- configuration ---------------------------------------------------------------------------------


def test_from_config_names_everything_missing(tmp_path: Path):
    with pytest.raises(InputError) as info:
        VercelClient.from_config(load_config(environ={}, cwd=tmp_path))
    message = str(info.value)
    assert "VERCEL_TOKEN" in message and "VERCEL_PROJECT_ID" in message and "VERCEL_ORG_ID" in message
    assert "vercel link" in message


def test_from_config_reads_link_and_scopes_team(tmp_path: Path, router):
    (tmp_path / ".vercel").mkdir()
    (tmp_path / ".vercel" / "project.json").write_text(json.dumps({"projectId": PROJECT, "orgId": TEAM}))
    config = load_config(environ={"VERCEL_TOKEN": TOKEN, "REVERSAL_VERCEL_API": API,
                                  "REVERSAL_VERCEL_LOGS_API": LOGS}, cwd=tmp_path)
    client = VercelClient.from_config(config)
    assert (client.team_id, client.owner_id, client.api_base) == (TEAM, TEAM, API)
    personal = load_config(environ={"VERCEL_TOKEN": TOKEN, "VERCEL_PROJECT_ID": PROJECT,
                                    "VERCEL_ORG_ID": "user_1"}, cwd=tmp_path / "x")
    client = VercelClient.from_config(personal)
    assert (client.team_id, client.owner_id) == (None, "user_1")


def test_redeploy_retried_once_when_the_first_attempt_did_not_land(router):
    fake = FakeVercel(router)
    source = fake.add_deployment()
    original = router.routes["create_deployment"].side_effect
    attempts = []

    def times_out_first(request):
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectTimeout("no connection")
        return original(request)

    router.routes["create_deployment"].side_effect = times_out_first
    made = make_client().create_deployment(name="zrg-dashboard", deployment_id=source,
                                           meta={"reversalIntent": "intent-7"})
    assert len(attempts) == 2 and len(fake.deployments) == 2
    assert fake.deployments[made.id]["meta"] == {"reversalIntent": "intent-7"}
