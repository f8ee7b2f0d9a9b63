"""``GET /v1/events`` with the open-source Inngest server's rules (pkg/api/apiv1/events.go)."""

from __future__ import annotations

import random

import pytest

from reversal.sandbox.api import INNGEST_MAX_EVENTS, Call, inngest_events
from reversal.sandbox.app import iso, ulid
from reversal.sandbox.platform import Platform

KEY = "signkey-prod-" + "ab" * 32
NOW = 1_800_000_000_000


def _platform(count: int, failed_every: int = 0) -> Platform:
    rng = random.Random(3)
    p = Platform(project_id="prj_x", project_name="app", team_id="team_x", domain="app.vercel.app",
                 build_ms=0)
    for i in range(count):
        ts = NOW - 50 * 60_000 + i * 1000
        name = "inngest/function.failed" if failed_every and i % failed_every == 0 else "app/cron.followups"
        p.events.append({"internal_id": ulid(ts, rng), "id": f"evt-{i}", "name": name, "received_at": iso(ts),
                         "ts": ts, "data": {}})
    return p


def _get(platform: Platform, internal_events: bool = True, **query: str):
    call = Call("GET", "/v1/events", query, {"authorization": f"Bearer {KEY}"}, None)
    return inngest_events(platform, call, KEY, NOW, internal_events=internal_events)


def test_limit_defaults_to_20_and_is_capped_at_51_with_data_and_metadata_only():
    platform = _platform(120)
    assert len(_get(platform).body["data"]) == 20
    capped = _get(platform, limit="100")
    assert len(capped.body["data"]) == INNGEST_MAX_EVENTS == 51
    assert set(capped.body) == {"data", "metadata"} and "cursor" not in capped.body["metadata"]
    assert {"internal_id", "account_id", "environment_id", "received_at", "id", "name", "data", "ts"} <= set(
        capped.body["data"][0])
    assert len(_get(platform, limit="0").body["data"]) == 20
    assert len(_get(platform, limit="-5").body["data"]) == 1


def test_ulid_cursor_pages_newest_first_through_every_event_once():
    platform = _platform(120)
    seen, cursor = [], ""
    while True:
        page = _get(platform, limit="51", **({"cursor": cursor} if cursor else {})).body["data"]
        if not page:
            break
        seen += [e["internal_id"] for e in page]
        cursor = page[-1]["internal_id"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 120
    bad = _get(platform, cursor="51")
    assert bad.status == 400 and bad.body == {"error": "Invalid cursor query parameter", "data": None,
                                              "status": 400}


def test_window_defaults_to_the_last_hour():
    platform = _platform(10)
    two_hours_ago = NOW - 2 * 3_600_000
    platform.events.insert(0, {**platform.events[0], "internal_id": ulid(two_hours_ago, random.Random(1)),
                               "ts": two_hours_ago})
    assert len(_get(platform, limit="51").body["data"]) == 10
    old = _get(platform, limit="51", received_after=iso(NOW - 3 * 3_600_000)).body["data"]
    assert len(old) == 11
    assert _get(platform, received_after="yesterday").status == 400


@pytest.mark.parametrize("internal_events", [True, False])
def test_function_failed_is_listed_only_where_internal_events_are(internal_events):
    platform = _platform(30, failed_every=3)
    failed = _get(platform, internal_events, name="inngest/function.failed", limit="51").body["data"]
    everything = _get(platform, internal_events, limit="51").body["data"]
    assert len(failed) == (10 if internal_events else 0)
    assert len(everything) == (30 if internal_events else 20)


def test_signing_key_raw_or_hashed_else_401():
    platform = _platform(1)
    call = Call("GET", "/v1/events", {}, {"authorization": "Bearer signkey-prod-00"}, None)
    assert inngest_events(platform, call, KEY, NOW).status == 401
