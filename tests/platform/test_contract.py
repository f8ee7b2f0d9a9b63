"""One contract, two platforms: the Vercel client against respx (the documented shapes) and
against the embedded sandbox over real loopback HTTP. Both must behave the same for every
call the loop makes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import respx

from reversal.clock import Clock, parse_clock
from reversal.platform.capture import capture_window
from reversal.platform.deploy import INTENT_META_KEY, current_production, redeploy
from reversal.platform.flags import read_flag, write_flag
from reversal.platform.vercel import RetryPolicy, VercelClient, VercelError
from reversal.sandbox import Sandbox, SandboxSettings
from tests.platform.fakes import API, LOGS, PROJECT, TEAM, TOKEN, FakeClock, FakeVercel

FLAG = "CRON_RESPONSE_TIMING_USE_INNGEST"
NO_SLEEP_RETRY = RetryPolicy(attempts=6, max_elapsed_s=30, base_delay_s=0.01, max_delay_s=0.05)


@dataclass
class Backend:
    name: str
    client: VercelClient
    clock: Clock
    window: tuple[int, int]  # a request-log window holding rows on the backend
    bad_token_client: VercelClient

    def __post_init__(self) -> None:
        assert self.client.project_id


def _respx_backend() -> Iterator[Backend]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = FakeVercel(router, page_size=20)
        fake.add_env(FLAG, "false")
        fake.add_env("CRON_SECRET", "s3cr3t-value-for-the-contract")
        fake.add_deployment(created=1_771_000_000_000)
        ids = itertools.count()
        fake.log_rows = [
            {"requestId": f"r{next(ids)}", "timestamp": "2026-02-18T03:00:00.000Z",
             "requestPath": "/api/cron/response-timing", "requestMethod": "GET", "statusCode": 500,
             "domain": "zrg.vercel.app", "deploymentId": "dpl_1", "environment": "production",
             "logs": [{"level": "error", "message": "P2028 expired transaction"}],
             "events": [{"source": "serverless"}]}
            for _ in range(55)
        ]
        client = VercelClient(TOKEN, PROJECT, team_id=TEAM, owner_id=TEAM, api_base=API,
                              logs_api_base=LOGS, retry=NO_SLEEP_RETRY)
        refused = "https://refused.test.vercel"  # the same API refusing another token
        router.get(f"{refused}/v6/deployments").respond(
            403, json={"error": {"code": "forbidden", "message": "Not authorized"}})
        bad = VercelClient("not-the-token", PROJECT, team_id=TEAM, owner_id=TEAM,
                           api_base=refused, logs_api_base=LOGS, retry=NO_SLEEP_RETRY)
        since = 1_771_383_000_000
        yield Backend("respx", client, FakeClock(), (since, since + 3_600_000), bad)


def _sandbox_backend() -> Iterator[Backend]:
    with Sandbox(SandboxSettings(factor=2000, page_size=20, seed=5)) as info:
        clock = parse_clock(info.env["REVERSAL_CLOCK"])
        client = VercelClient(info.token, info.project_id, team_id=info.team_id,
                              owner_id=info.team_id, api_base=info.api, logs_api_base=info.logs_api,
                              retry=NO_SLEEP_RETRY)
        bad = VercelClient("not-the-token", info.project_id, team_id=info.team_id,
                           owner_id=info.team_id, api_base=info.api, logs_api_base=info.logs_api,
                           retry=NO_SLEEP_RETRY)
        now = clock.now_ms()
        yield Backend("sandbox", client, clock, (now - 20 * 60_000, now), bad)


@pytest.fixture(params=["respx", "sandbox"])
def backend(request) -> Iterator[Backend]:
    yield from (_respx_backend() if request.param == "respx" else _sandbox_backend())


def test_flag_write_reads_back_exactly_and_is_not_rewritten(backend):
    assert read_flag(backend.client, FLAG).value == "false"
    first = write_flag(backend.client, key=FLAG, value=" true ", allowed=("true", "false"))
    assert first.changed and first.read_back.value == "true" and not first.read_back.whitespace
    again = write_flag(backend.client, key=FLAG, value="true", allowed=("true", "false"))
    assert not again.changed and again.previous == "true"
    secret = backend.client.find_env("CRON_SECRET")
    assert secret is not None and secret.value and secret.value not in repr(secret)


def test_redeploy_reaches_ready_and_is_found_by_its_intent(backend):
    source = current_production(backend.client)
    assert source.state == "READY"
    states: list[str] = []
    record = redeploy(backend.client, source=source, clock=backend.clock, intent_id="it-1",
                      poll_s=1, on_state=lambda state, _: states.append(state))
    assert record.final_state == "READY" and states[-1] == "READY"
    found = backend.client.list_deployments(state=None, meta={INTENT_META_KEY: "it-1"})
    assert [d.id for d in found] == [record.id]
    assert current_production(backend.client).id == record.id


def test_request_logs_page_to_the_end_and_capture_writes_the_window(backend, tmp_path):
    since, until = backend.window
    rows = list(backend.client.iter_request_logs(since_ms=since, until_ms=until))
    assert len(rows) > 40  # more than two pages of 20
    # a live platform shifts pages while traffic arrives: a request may be served twice
    requests = {r["requestId"] for r in rows}
    assert all({"requestId", "timestamp", "requestPath", "statusCode"} <= set(r) for r in rows)
    meta = capture_window(backend.client, since_ms=since, until_ms=until,
                          environment="production", route=None, out=tmp_path / "w.json",
                          project_id=backend.client.project_id, clock=backend.clock)
    assert abs(meta.requests - len(requests)) <= 40 and meta.rows >= meta.requests


def test_refused_credentials_are_a_clear_error_without_retries(backend):
    with pytest.raises(VercelError) as info:
        backend.bad_token_client.list_deployments()
    assert info.value.status in (401, 403)
    assert "VERCEL_TOKEN" in str(info.value)
    assert "not-the-token" not in str(info.value)
