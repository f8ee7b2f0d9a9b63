"""The simulated app as a pure function: auth, redirects, inline failures, dispatch contract."""

from __future__ import annotations

import json
import random

import pytest

from reversal.logs.signatures import build_catalogue
from reversal.playbooks import load_playbooks
from reversal.sandbox.app import ROUTES, AppRequest, handle

AT = 1_771_385_984_324  # 2026-02-18T03:39:44.324Z
SECRET = "s3cret"
BOOKS = load_playbooks(None, build_catalogue().names)


def _env(**flags: str) -> dict[str, str]:
    return {"CRON_SECRET": SECRET, "INNGEST_SIGNING_KEY": "signkey-prod-ab", **flags}


def _get(path: str, env: dict[str, str], *, headers: dict[str, str] | None = None, rate: float = 0.0,
         seed: int = 1, method: str = "GET", synthetic: bool = True):
    headers = headers if headers is not None else {"authorization": f"Bearer {SECRET}"}
    request = AppRequest(method, path, headers, synthetic=synthetic)
    return handle(request, env, AT, random.Random(seed), deployment_id="dpl_x",
                  failure_rates={p: rate for p in ROUTES})


def test_route_table_agrees_with_the_builtin_playbooks():
    for book in BOOKS.values():
        route = ROUTES[book.route]
        assert (route.flag, route.flag_on) == (book.flag.name, book.flag.on)
        if book.probe and book.probe.dispatch:
            assert route.key_template == book.probe.dispatch.dispatch_key
            assert route.event == book.probe.dispatch.event
            assert route.function == book.durable.function


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer nope"}, {"x-cron-secret": "nope"}])
def test_cron_routes_refuse_without_the_cron_secret(headers):
    for path, route in ROUTES.items():
        if route.auth:
            assert _get(path, _env(), headers=headers).status == 401


def test_cron_secret_accepted_as_bearer_or_x_cron_secret_and_inbox_needs_none():
    assert _get("/api/cron/followups", _env(), headers={"x-cron-secret": SECRET}).status == 200
    assert _get("/api/cron/followups", _env()).status == 200
    assert _get("/api/inbox/counts", _env(), headers={}).status == 200
    assert _get("/api/webhooks/email", _env(), headers={}, method="POST").status == 200


def test_double_slash_redirects_308_and_unknown_paths_404():
    out = _get("//api/cron/followups?x=1", _env())
    assert out.status == 308 and out.headers["location"] == "/api/cron/followups?x=1"
    assert _get("/api/cron/nope", _env()).status == 404
    assert _get("/api/webhooks/email", _env(), method="GET").status == 405


def test_inline_failures_carry_the_playbook_signatures_and_statuses():
    catalogue = build_catalogue()
    for book in BOOKS.values():
        method = "POST" if book.kind == "webhook" else "GET"
        for seed in range(20):
            out = _get(book.route, _env(), rate=1.0, seed=seed, method=method)
            assert out.record.status in book.target.statuses
            signatures = {s for line in out.record.lines for s in catalogue.match(line.message)}
            assert signatures & set(book.target.signatures), (book.slice, out.record.lines)
            assert out.work is None


def test_off_schedule_calls_see_a_quarter_of_the_inline_failure_rate():
    route = "/api/cron/response-timing"
    failures = {synthetic: sum(_get(route, _env(), rate=0.8, seed=seed, synthetic=synthetic).status >= 500
                               for seed in range(400))
                for synthetic in (True, False)}
    assert 280 <= failures[True] <= 360  # 0.8 of 400
    assert 55 <= failures[False] <= 105  # 0.2 of 400


def test_barometer_failures_follow_the_contention_of_inline_routes():
    route = "/api/inbox/conversations"
    all_inline = sum(_get(route, _env(), rate=0.5, seed=s).status >= 500 for s in range(400))
    offloaded = _env(**{b.flag.name: b.flag.on for b in BOOKS.values()})
    all_off = sum(_get(route, offloaded, rate=0.5, seed=s).status >= 500 for s in range(400))
    assert 160 <= all_inline <= 240 and 35 <= all_off <= 85  # 0.5 vs 0.5 * 0.3


def test_flag_on_answers_the_dispatch_only_contract():
    for book in BOOKS.values():
        if not (book.probe and book.probe.dispatch):
            continue
        out = _get(book.route, _env(**{book.flag.name: book.flag.on}), rate=1.0)
        body = json.loads(out.body)
        expected_key = book.probe.dispatch.expected_key(AT)
        assert out.status == 202 and body["success"] is True and body["mode"] == "dispatch-only"
        assert body["dispatch"]["dispatchKey"] == expected_key
        assert body["event"] == {"name": book.durable.event, "id": f"{book.durable.event}:{expected_key}"}
        seconds = book.probe.dispatch.bucket_seconds()
        assert body["dispatch"]["dispatchWindowSeconds"] == seconds
        assert body["dispatch"]["requestedAt"] == body["timestamp"] == "2026-02-18T03:39:44.324Z"
        assert set(body["dispatch"]) >= {"source", "correlationId", "dispatchWindowStart"}
        assert len(body["publishedEventIds"]) == 1
        assert out.work is not None and out.work.key == expected_key and out.work.signature_ok
    rt = json.loads(_get("/api/cron/response-timing", _env(CRON_RESPONSE_TIMING_USE_INNGEST="true")).body)
    # the real 5-minute bucket (fixtures: 03:19:44 -> cron:response-timing:2026-02-18T03:15)
    assert rt["dispatch"]["dispatchKey"] == "cron:response-timing:2026-02-18T03:35"
    assert rt["dispatch"]["dispatchWindowStart"] == "2026-02-18T03:35:00.000Z"


def test_flag_must_be_exactly_on_and_emergency_fallback_keeps_background_jobs_inline():
    assert _get("/api/cron/followups", _env(CRON_FOLLOWUPS_USE_INNGEST="true\n")).status == 200
    on = {"BACKGROUND_JOBS_USE_INNGEST": "true"}
    assert _get("/api/cron/background-jobs", _env(**on)).status == 202
    fallback = _get("/api/cron/background-jobs", _env(**on, BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK="true"))
    assert fallback.status == 200 and fallback.work is None


def test_webhook_async_answers_200_and_enqueues():
    env = _env(INBOXXIA_EMAIL_SENT_ASYNC="true")
    out = _get("/api/webhooks/email", env, method="POST", rate=1.0, headers={})
    assert out.status == 200 and json.loads(out.body)["queued"] is True
    assert out.work is not None and out.work.kind == "webhook" and out.work.name == "EMAIL_SENT"
