"""Capture liveness end to end on the sandbox: the probe's x-vercel-id is found in a real capture."""

from __future__ import annotations

import httpx

from reversal.logs.liveness import check_file
from reversal.platform.capture import capture_window
from reversal.platform.probe import vercel_request_id
from reversal.platform.vercel import VercelClient
from tests.sandbox.conftest import sim_now, wait_until

ROUTE = "/api/cron/followups"


def test_the_probe_request_is_found_in_the_capture_and_a_wrong_filter_misses_it(start_sandbox, tmp_path):
    info = start_sandbox()
    since = sim_now(info)
    reply = httpx.get(info.app.rstrip("/") + ROUTE, headers={"Authorization": f"Bearer {info.cron_secret}"})
    probe = vercel_request_id(reply.headers.get("x-vercel-id"))
    assert probe
    wait_until(lambda: sim_now(info) > since + 3 * 60_000, what="3 simulated minutes")
    until = sim_now(info)
    with VercelClient(info.token, info.project_id, team_id=info.team_id, api_base=info.api,
                      logs_api_base=info.logs_api) as client:
        good = capture_window(client, since_ms=since, until_ms=until, environment="production", route=ROUTE,
                              out=tmp_path / "post.json", project_id=info.project_id)
        wrong = capture_window(client, since_ms=since, until_ms=until, environment="production",
                               route="/api/cron/followup", out=tmp_path / "typo.json",
                               project_id=info.project_id)
    live = check_file(good.path, route=ROUTE, expected=[probe])
    assert live.live and live.requests >= 2  # the probe plus the scheduled invocations
    missed = check_file(wrong.path, route=ROUTE, expected=[probe])
    assert not missed.live and missed.requests == 0 and "not evidence" in missed.problem()
