"""The sandbox speaks the Vercel REST shapes of docs/platform-api.md (plain httpx calls)."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import redeploy, request_log_rows, sim_now, vercel


def test_env_list_get_create_upsert_edit(start_sandbox):
    info = start_sandbox()
    base = f"/v10/projects/{info.project_id}/env"
    with vercel(info) as c:
        listed = c.get(base, params={"decrypt": "true"})
        assert listed.status_code == 200
        envs = {e["key"]: e for e in listed.json()["envs"]}
        assert envs["CRON_SECRET"]["value"] == info.cron_secret
        assert envs["CRON_RESPONSE_TIMING_USE_INNGEST"]["value"] == "false"
        assert {"id", "key", "value", "type", "target", "createdAt", "updatedAt", "decrypted"} <= set(
            envs["CRON_SECRET"])
        hidden = {e["key"]: e for e in c.get(base).json()["envs"]}["CRON_SECRET"]
        assert hidden["value"] != info.cron_secret and hidden["decrypted"] is False

        one = c.get(f"/v1/projects/{info.project_id}/env/{envs['CRON_SECRET']['id']}")
        assert one.status_code == 200 and one.json()["value"] == info.cron_secret
        assert one.json()["decrypted"] is True
        missing = c.get(f"/v1/projects/{info.project_id}/env/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

        new = {"key": "NEW_FLAG", "value": "x", "type": "encrypted", "target": ["production"]}
        created = c.post(base, json=new)
        assert created.status_code == 201 and created.json()["created"]["key"] == "NEW_FLAG"
        assert created.json()["failed"] == []
        again = c.post(base, json={**new, "value": "y"})
        assert again.status_code == 201 and again.json()["failed"][0]["error"]["key"] == "NEW_FLAG"
        upserted = c.post(base, params={"upsert": "true"}, json=[{**new, "value": "z"}])
        assert upserted.status_code == 201 and isinstance(upserted.json()["created"], list)
        env_id = upserted.json()["created"][0]["id"]
        assert c.get(f"/v1/projects/{info.project_id}/env/{env_id}").json()["value"] == "z"

        edited = c.patch(f"/v9/projects/{info.project_id}/env/{env_id}", json={"value": "w"})
        assert edited.status_code == 200 and edited.json()["id"] == env_id
        assert c.get(f"/v1/projects/{info.project_id}/env/{env_id}").json()["value"] == "w"
        bad = c.post(base, json={"key": "K", "value": "v"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_deployments_create_poll_list_paginate(start_sandbox):
    info = start_sandbox(build_s=10)
    with vercel(info) as c:
        first = c.post("/v13/deployments", json={"name": "zrg-dashboard", "target": "production"})
        assert first.status_code == 200
        body = first.json()
        assert body["id"].startswith("dpl_") and body["readyState"] in ("QUEUED", "INITIALIZING", "BUILDING")
        assert body["status"] == body["readyState"] and "://" not in body["url"]
    done = redeploy(info)
    assert done["readyState"] == "READY" and done["status"] == "READY" and done["ready"] is not None
    assert done["meta"] == {"redeployedBy": "tests"}
    with vercel(info) as c:
        by_url = c.get("/v13/deployments/get", params={"url": done["url"]}).json()
        assert by_url["id"] == done["id"]
        seen, until = [], None
        while True:
            params = {"projectId": info.project_id, "limit": 1, **({"until": until} if until else {})}
            page = c.get("/v6/deployments", params=params).json()
            seen += [d["uid"] for d in page["deployments"]]
            until = page["pagination"]["next"]
            if until is None:
                break
        assert len(seen) == len(set(seen)) == 3  # initial + create + redeploy, newest first
        assert seen[0] == done["id"]
        assert c.get("/v13/deployments/dpl_missing").status_code == 404
        assert c.post("/v13/deployments", json={"target": "production"}).status_code == 400


def test_request_logs_page_until_has_more_rows_is_false(start_sandbox):
    info = start_sandbox(page_size=40, history_s=20 * 60, traffic=False)
    end = sim_now(info)
    rows = request_log_rows(info, end - 20 * 60_000, end)
    ids = [r["requestId"] for r in rows]
    assert len(ids) == len(set(ids)) > 40 * 3  # several pages, no row twice
    # 6 crons + >=1 webhook + 5 inbox reads every simulated minute
    assert len(rows) >= 19 * 12
    row = rows[0]
    fields = {"requestId", "timestamp", "deploymentId", "requestPath", "statusCode", "logs", "events"}
    assert fields <= set(row)
    assert row["timestamp"].endswith("Z") and row["requestPath"].startswith("/api/")
    only_500 = request_log_rows(info, end - 20 * 60_000, end, statusCode="500")
    assert only_500 and all(r["statusCode"] == 500 for r in only_500)
    assert len(only_500) == sum(r["statusCode"] == 500 for r in rows)


def test_bad_token_401_and_foreign_team_403(start_sandbox):
    info = start_sandbox()
    with vercel(info, token="wrong") as c:
        r = c.get(f"/v10/projects/{info.project_id}/env")
        assert r.status_code == 401 and r.json()["error"]["code"] == "forbidden"
    r = httpx.get(f"{info.logs_api}/api/logs/request-logs", params={"projectId": info.project_id})
    assert r.status_code == 401
    with vercel(info) as c:
        r = c.get(f"/v10/projects/{info.project_id}/env", params={"teamId": "team_other"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert c.get("/v10/projects/prj_other/env").status_code == 404


def test_api_429_with_retry_after_and_rate_limited_body(start_sandbox):
    info = start_sandbox(api_429_rate=1.0)
    with vercel(info) as c:
        r = c.get(f"/v10/projects/{info.project_id}/env")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    error = r.json()["error"]
    assert error["code"] == "rate_limited" and error["limit"]["remaining"] == 0
    assert error["limit"]["resetMs"] // 1000 == error["limit"]["reset"]
    r = httpx.get(f"{info.logs_api}/api/logs/request-logs", params={"projectId": info.project_id},
                  headers={"Authorization": f"Bearer {info.token}"})
    assert r.status_code == 429 and "retry-after" in r.headers


def test_api_5xx_rate_is_a_rate(start_sandbox):
    info = start_sandbox(api_5xx_rate=0.5)
    with vercel(info) as c:
        statuses = [c.get(f"/v10/projects/{info.project_id}/env").status_code for _ in range(60)]
        failed = c.get(f"/v10/projects/{info.project_id}/env")
        while failed.status_code == 200:
            failed = c.get(f"/v10/projects/{info.project_id}/env")
    assert set(statuses) == {200, 500}
    assert 15 <= statuses.count(500) <= 45  # p=0.5, n=60: +-3.9 sd
    assert failed.json()["error"]["code"] == "internal_server_error"


def test_inngest_events_need_the_signing_key(start_sandbox):
    info = start_sandbox()
    r = httpx.get(f"{info.inngest_api}/v1/events", headers={"Authorization": "Bearer signkey-prod-00"})
    assert r.status_code == 401
    r = httpx.get(f"{info.inngest_api}/v1/events", params={"name": "inngest/function.failed"},
                  headers={"Authorization": f"Bearer {info.env['INNGEST_SIGNING_KEY']}"})
    assert r.status_code == 200 and r.json()["data"] == []
