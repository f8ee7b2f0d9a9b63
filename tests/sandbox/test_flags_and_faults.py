"""Flag semantics (env flip needs a redeploy) and each fault knob as an HTTP client sees it."""

from __future__ import annotations

import httpx

from reversal.logs.signatures import build_catalogue
from reversal.playbooks import load_playbooks
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

BOOKS = load_playbooks(None, build_catalogue().names)


def _probe(info, route, **kwargs):
    headers = {"Authorization": f"Bearer {info.cron_secret}"}
    return httpx.get(info.app.rstrip("/") + route, headers=headers, timeout=10, **kwargs)


def test_flip_takes_effect_only_after_redeploy_and_leaves_a_succeeded_run(start_sandbox):
    info = start_sandbox(traffic=False)
    book = BOOKS["response-timing"]
    set_flag(info, book.flag.name, book.flag.on)
    assert _probe(info, book.route).status_code in (200, 500)  # still inline: old deployment serves
    assert redeploy(info)["readyState"] == "READY"
    before = sim_now(info)
    r = _probe(info, book.route)
    after = sim_now(info)
    assert r.status_code == 202 and r.json()["mode"] == "dispatch-only"
    key = r.json()["dispatch"]["dispatchKey"]
    assert key in {book.probe.dispatch.expected_key(before), book.probe.dispatch.expected_key(after)}
    assert r.json()["event"]["id"] == f"{book.durable.event}:{key}"
    rows = wait_until(lambda: [x for x in ledger_rows(info, key) if x["status"] == "SUCCEEDED"],
                      what="SUCCEEDED")
    assert len(rows) == 1 and rows[0]["functionName"] == book.durable.function
    assert rows[0]["finishedAt"].endswith("Z") and rows[0]["lastError"] is None
    _probe(info, book.route)  # same 5-minute bucket: Inngest dedupes the event id, one run per key
    assert len(ledger_rows(info, key)) == 1


def test_deploy_error_knob_ends_the_next_deployment_in_error(start_sandbox):
    info = start_sandbox(deploy_error=True, traffic=False)
    failed = redeploy(info)
    assert failed["readyState"] == "ERROR" and failed["errorCode"] == "BUILD_FAILED"
    assert redeploy(info)["readyState"] == "READY"  # only the next one


def test_secret_trailing_newline_reads_back_decrypted_with_newline(start_sandbox):
    info = start_sandbox(secret_trailing_newline=True, traffic=False)
    entry = env_by_key(info)["CRON_SECRET"]
    with vercel(info) as c:
        value = c.get(f"/v1/projects/{info.project_id}/env/{entry['id']}").json()["value"]
    assert value == info.cron_secret + "\n"
    assert _probe(info, "/api/cron/followups").status_code == 401  # the deployed secret never matches


def test_flag_trailing_newline_reads_back_with_newline_and_keeps_the_route_inline(start_sandbox):
    info = start_sandbox(flag_trailing_newline=True, traffic=False, failure_rates={"followups": 0.0})
    written = set_flag(info, "CRON_FOLLOWUPS_USE_INNGEST", "true")
    with vercel(info) as c:
        value = c.get(f"/v1/projects/{info.project_id}/env/{written['id']}").json()["value"]
    assert value == "true\n"
    redeploy(info)
    assert _probe(info, "/api/cron/followups").status_code == 200  # "true\n" is not "true"


def test_app_url_trailing_slash_yields_308_on_double_slash(start_sandbox):
    info = start_sandbox(app_url_trailing_slash=True, traffic=False)
    assert info.app.endswith("/") and info.env["REVERSAL_APP_URL"] == info.app
    assert env_by_key(info)["NEXT_PUBLIC_APP_URL"]["value"] == info.app
    r = httpx.get(info.app + "/api/cron/followups", headers={"Authorization": f"Bearer {info.cron_secret}"})
    assert r.status_code == 308 and r.headers["location"] == "/api/cron/followups"


def test_bad_signing_key_fails_every_run_with_invalid_signature(start_sandbox):
    info = start_sandbox(bad_signing_key=True, traffic=False)
    assert env_by_key(info)["INNGEST_SIGNING_KEY"]["value"].endswith("\n")
    set_flag(info, "CRON_FOLLOWUPS_USE_INNGEST", "true")
    redeploy(info)
    r = _probe(info, "/api/cron/followups")
    assert r.status_code == 202
    key = r.json()["dispatch"]["dispatchKey"]
    rows = wait_until(lambda: [x for x in ledger_rows(info, key) if x["status"] == "FAILED"],
                      what="FAILED run")
    assert rows[0]["lastError"] == "Invalid signature"

    def failures():
        r = httpx.get(f"{info.inngest_api}/v1/events", params={"name": "inngest/function.failed"},
                      headers={"Authorization": f"Bearer {info.env['INNGEST_SIGNING_KEY']}"})
        return r.json()["data"]

    events = wait_until(failures, what="inngest/function.failed")
    assert events[0]["data"]["error"]["message"] == "Invalid signature"
    assert events[0]["data"]["event"]["id"] == r.json()["event"]["id"]
    assert events[0]["data"]["function_id"].endswith("cron-followups")


def test_offload_does_not_help_keeps_failures_after_the_flip(start_sandbox):
    info = start_sandbox(factor=3000, offload_does_not_help=("availability",), history_s=0,
                         failure_rates={"availability": 1.0, "followups": 1.0})
    for name in ("CRON_AVAILABILITY_USE_INNGEST", "CRON_FOLLOWUPS_USE_INNGEST"):
        set_flag(info, name, "true")
    ready = redeploy(info)
    assert _probe(info, "/api/cron/availability").status_code == 202  # the probe looks healthy
    start = ready["ready"]
    wait_until(lambda: sim_now(info) > start + 6 * 60_000, what="six simulated minutes")
    rows = request_log_rows(info, start, start + 5 * 60_000)
    availability = [r for r in rows if r["requestPath"] == "/api/cron/availability"]
    followups = [r for r in rows if r["requestPath"] == "/api/cron/followups"]
    assert len(availability) >= 4 and len(followups) >= 4
    assert all(r["statusCode"] in (504, -1) for r in availability if r["userAgent"].startswith("vercel-cron"))
    assert all(r["statusCode"] == 202 for r in followups)
