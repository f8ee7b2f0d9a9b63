"""The Inngest failure check on the documented ``/v1/events`` shape (respx, no network)."""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx
import pytest
import respx

from reversal.errors import InputError, StepFailed
from reversal.platform.inngest import FAILED_EVENT, OSS_LIMIT, InngestClient, parse_failure
from tests.zrg import FIXTURES

EVIDENCE = next((FIXTURES / "operator-artifacts").glob("inngest-invalid-signature-evidence-*.json"))
KEY = "signkey-prod-0123456789abcdef0123456789abcdef"
API = "https://inngest.test"
SINCE = 1771393000000  # 2026-02-18T05:36:40Z


def _api_event(row: dict) -> dict:
    """An API event rebuilt from one of the team's evidence sample rows."""
    return {
        "internal_id": "int-" + row["id"],
        "id": row["id"],
        "name": "inngest/function.failed",
        "ts": row["ts"],
        "data": {
            "function_id": row["function_id"],
            "run_id": "01RUN" + row["id"][-6:],
            "error": {"name": "Error", "message": row["error_message"], "error": row["error_error"],
                      "__serialized": True},
            "event": {"name": row["source_event"], "id": row["source_event_id"], "data": {}},
        },
    }


def _other_failure(i: int) -> dict:
    return {
        "id": f"01OTHER{i}", "name": "inngest/function.failed", "ts": SINCE + 1000 * i,
        "received_at": "2026-02-18T05:40:00Z",
        "data": {"function_id": "zrg-dashboard-cron-followups", "run_id": f"r{i}",
                 "error": {"name": "Error", "message": "P2028 transaction expired"},
                 "event": {"name": "cron/followups.requested", "id": f"cron/followups.requested:{i}"}},
    }


@pytest.fixture
def evidence() -> dict:
    return json.loads(EVIDENCE.read_text())


def test_reproduces_the_team_evidence_across_pages_and_cursor_variants(evidence):
    events = [_api_event(r) for r in evidence["sample"]] + [_other_failure(i) for i in range(3)]
    pages = [events[0:8], events[8:16], events[16:]]  # 8 + 8 + 4 with page_limit=8
    with respx.mock(base_url=API, assert_all_called=True) as mock:
        route = mock.get("/v1/events").mock(side_effect=[
            httpx.Response(200, json={"data": pages[0], "cursor": "c1", "metadata": {}}),
            httpx.Response(200, json={"data": pages[1], "metadata": {"cursor": "c2"}}),
            httpx.Response(200, json={"data": pages[2], "metadata": {"fetched_at": "x"}}),
        ])
        client = InngestClient(KEY + "\n", base_url=API, page_limit=8, clock_ms=lambda: SINCE + 600_000)
        with client:
            result = client.failed_functions(SINCE)
    queries = [dict(call.request.url.params) for call in route.calls]
    assert [q.get("cursor") for q in queries] == [None, "c1", "c2"]
    assert queries[0] == {"name": "inngest/function.failed", "received_after": "2026-02-18T05:36:40.000Z",
                          "limit": "8"}
    assert {call.request.headers["authorization"] for call in route.calls} == {f"Bearer {KEY}"}
    out = result.to_json()
    assert out["pages"] == 3 and out["totalEventsFetched"] == 20
    assert out["functionFailedEvents"] == 20
    assert out["invalidSignatureFailures"] == evidence["invalidSignatureFailures"] == 17
    assert out["invalidSignatureByFunctionAndEvent"] == evidence["groupedByFunctionAndEvent"]
    assert out["groupedByFunctionAndEvent"] == {
        **evidence["groupedByFunctionAndEvent"],
        "zrg-dashboard-cron-followups <- cron/followups.requested": 3,
    }
    assert out["sample"][: len(evidence["sample"])] == evidence["sample"]
    assert client.key_shape.leading_or_trailing_whitespace is True


def test_short_page_does_not_end_paging_and_foreign_events_are_filtered():
    stray = {"id": "e", "name": "app/user.created", "ts": SINCE + 5, "data": {}}
    early = {**_other_failure(9), "received_at": "2026-02-18T05:00:00Z"}  # before the window
    with respx.mock(base_url=API) as mock:
        route = mock.get("/v1/events").mock(side_effect=[
            httpx.Response(200, json={"data": [_other_failure(2), stray, _other_failure(1)],
                                      "cursor": "more"}),
            httpx.Response(200, json={"data": [early], "cursor": "after-early"}),
        ])
        with InngestClient(KEY, base_url=API, page_limit=10) as client:
            result = client.failed_functions(SINCE, SINCE + 3_600_000)
    assert route.call_count == 2  # the second page reached back before the window: covered
    assert dict(route.calls[0].request.url.params)["received_before"] == "2026-02-18T06:36:40.000Z"
    assert result.total_events_fetched == 4 and len(result.failures) == 2
    assert result.invalid_signature_failures == 0 and result.complete


class OssInngest:
    """The open-source server's /v1/events (pkg/api/apiv1/events.go): limit bounded to 51,
    ULID cursor (internal_id < cursor), ``{data, metadata}`` without a cursor, and internal
    ``inngest/*`` events hidden (IncludeInternalEvents is never set by the REST handler)."""

    def __init__(self, events: list[dict]) -> None:
        self.events = sorted(events, key=lambda e: e["internal_id"], reverse=True)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        limit = max(1, min(OSS_LIMIT, int(q.get("limit") or 20)))
        cursor = q.get("cursor")
        if cursor is not None and not re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", cursor):
            return httpx.Response(400, json={"error": "Invalid cursor query parameter"})
        found = [e for e in self.events if not e["name"].startswith("inngest/")
                 and q.get("name") in (None, e["name"]) and (cursor is None or e["internal_id"] < cursor)]
        return httpx.Response(200, json={"data": found[:limit], "metadata": {"fetched_at": "now"}})


def _ulid_event(n: int, name: str = "app/email.received") -> dict:
    return {"internal_id": f"01J{n:023d}", "id": f"ev{n}", "name": name, "ts": SINCE + n * 1000,
            "received_at": dt.datetime.fromtimestamp((SINCE + n * 1000) / 1000, dt.UTC).isoformat(),
            "data": {}}


def test_open_source_server_is_paged_past_its_51_cap_by_ulid_cursor():
    server = OssInngest([_ulid_event(n) for n in range(1, 131)])
    with respx.mock(base_url=API) as mock:
        route = mock.get("/v1/events").mock(side_effect=server)
        with InngestClient(KEY, base_url=API) as client:
            got = list(client.events("app/email.received", SINCE))
    assert len(got) == 130 and len({e["id"] for e in got}) == 130
    assert [len(c.response.json()["data"]) for c in route.calls] == [51, 51, 28]  # 28 < 51: the end
    assert [c.request.url.params.get("cursor") for c in route.calls][:2] == [None, got[50]["internal_id"]]
    assert client.server_limit == OSS_LIMIT and client.complete and client.pages == 3


def test_open_source_server_cannot_show_failures_so_none_are_claimed():
    server = OssInngest([_ulid_event(n, FAILED_EVENT) for n in range(1, 5)] + [_ulid_event(9)])
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").mock(side_effect=server)
        with InngestClient(KEY, base_url=API) as client:
            report = client.failed_functions(SINCE).to_json()
    assert report["failedEventsVisible"] is False
    assert report["invalidSignatureFailures"] is None and report["functionFailedEvents"] is None
    assert any(note.startswith("not visible here") for note in report["notes"])


def test_cloud_with_no_failures_says_zero():
    with respx.mock(base_url="https://api.inngest.com") as mock:
        mock.get("/v1/events").respond(200, json={"data": [], "metadata": {}})
        with InngestClient(KEY) as client:
            report = client.failed_functions(SINCE).to_json()
    assert report["failedEventsVisible"] is True and report["invalidSignatureFailures"] == 0
    assert report["notes"] == []


def test_no_cursor_after_a_full_page_is_reported_incomplete():
    page = [{**_other_failure(i), "internal_id": f"not-a-ulid-{i}"} for i in range(3)]
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").respond(200, json={"data": page})
        with InngestClient(KEY, base_url=API, page_limit=3) as client:
            report = client.failed_functions(SINCE).to_json()
    assert report["complete"] is False and report["functionFailedEvents"] == 3
    assert any("lower bound" in note for note in report["notes"])


def test_retry_after_http_date_and_bad_base_url():
    slept = []
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").mock(side_effect=[
            httpx.Response(429, headers={"retry-after": "Wed, 18 Feb 2026 05:36:50 GMT"}),
            httpx.Response(200, json={"data": []})])
        with InngestClient(KEY, base_url=API, sleep=slept.append, clock_ms=lambda: SINCE) as client:
            client.failed_functions(SINCE)
    assert slept == [10.0]
    with pytest.raises(InputError, match=r"REVERSAL_INNGEST_API .* no http:// or https:// scheme"):
        InngestClient(KEY, base_url="localhost:8288")


def test_rate_limit_is_retried_with_backoff():
    slept = []
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").mock(side_effect=[
            httpx.Response(429, headers={"retry-after": "3"}),
            httpx.Response(429),
            httpx.Response(200, json={"data": []}),
        ])
        with InngestClient(KEY, base_url=API, sleep=slept.append) as client:
            result = client.failed_functions(SINCE)
    assert slept == [3.0, 2.0]
    assert result.failures == [] and result.pages == 1


def test_refused_key_never_appears_in_the_error():
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").respond(401, text=f"invalid key {KEY}")
        with InngestClient(KEY, base_url=API) as client, pytest.raises(StepFailed) as caught:
            client.failed_functions(SINCE)
    message = str(caught.value)
    assert "refused the signing key (401)" in message
    assert KEY not in message and "[REDACTED]" in message


def test_unexpected_body_is_a_step_failure():
    with respx.mock(base_url=API) as mock:
        mock.get("/v1/events").respond(200, text="<html>maintenance</html>")
        with InngestClient(KEY, base_url=API) as client, pytest.raises(StepFailed, match="'data' list"):
            client.failed_functions(SINCE)


def test_parse_failure_tolerates_missing_fields():
    failure = parse_failure({"internal_id": "x", "received_at": "2026-02-18T05:40:00Z", "data": None})
    assert failure.id == "x" and failure.function_id == "<unknown>"
    assert failure.ts == 1771393200000
    assert failure.error_message == "" and not failure.invalid_signature


def test_inngest_command_says_not_visible_and_exits_3_on_an_open_source_server(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from reversal.cli import cli

    monkeypatch.chdir(tmp_path)
    env = {"INNGEST_SIGNING_KEY": KEY, "REVERSAL_INNGEST_API": "http://127.0.0.1:8288", "NO_COLOR": "1"}
    with respx.mock(base_url="http://127.0.0.1:8288") as mock:
        mock.get("/v1/events").mock(side_effect=OssInngest([_ulid_event(n, FAILED_EVENT) for n in range(3)]))
        result = CliRunner().invoke(cli, ["durable", "inngest", "--since", "30m"], env=env,
                                    standalone_mode=False)
    assert result.exception is None, result.output
    assert result.return_value == 3
    assert "not visible here" in result.output and "NOT VISIBLE" in result.output
    assert "OK" not in result.output.replace("NOT VISIBLE", "")


def test_a_server_cursor_is_followed_and_a_short_last_page_without_one_ends_paging():
    events = [_ulid_event(n) for n in range(30, 0, -1)]
    with respx.mock(base_url=API) as mock:
        route = mock.get("/v1/events").mock(side_effect=[
            httpx.Response(200, json={"data": events[:20], "cursor": "20", "metadata": {}}),
            httpx.Response(200, json={"data": events[20:], "metadata": {}}),
        ])
        with InngestClient(KEY, base_url=API, page_limit=20) as client:
            got = list(client.events("app/email.received", SINCE))
    assert len(got) == 30 and route.call_count == 2  # no ULID cursor sent after the short page
    assert [c.request.url.params.get("cursor") for c in route.calls] == [None, "20"]
    assert client.complete and client.server_limit is None
