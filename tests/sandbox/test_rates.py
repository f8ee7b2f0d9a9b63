"""Failure rates read back from the served request logs: inline as configured, gone once dispatched."""

from __future__ import annotations

import math
from collections import Counter

from reversal.logs.signatures import build_catalogue
from reversal.playbooks import load_playbooks
from reversal.sandbox.app import TARGET_RATE
from tests.sandbox.conftest import redeploy, request_log_rows, set_flag, sim_now, wait_until

CATALOGUE = build_catalogue()
BOOKS = load_playbooks(None, CATALOGUE.names)
RATES = {"response-timing": 0.85, "followups": 0.3}  # the rest keep the default


def _failure_rates(rows):
    """Per route: requests with a target status and a target signature / all requests."""
    totals, failing = Counter(), Counter()
    books = {b.route: b for b in BOOKS.values()}
    for row in rows:
        book = books.get(row["requestPath"])
        if book is None:
            continue
        totals[book.route] += 1
        status = None if row["statusCode"] == -1 else row["statusCode"]
        names = {n for log in row["logs"] for n in CATALOGUE.match(log["message"])}
        if status in book.target.statuses and names & set(book.target.signatures):
            failing[book.route] += 1
    return {route: (failing[route], totals[route]) for route in totals}


def test_inline_rates_match_the_configuration_and_vanish_after_the_flip(start_sandbox):
    info = start_sandbox(factor=4000, history_s=120 * 60, failure_rates=RATES)
    now = sim_now(info)
    inline = _failure_rates(request_log_rows(info, now - 120 * 60_000, now))
    for book in BOOKS.values():
        failing, total = inline[book.route]
        expected = RATES.get(book.slice, TARGET_RATE)
        assert total >= 110
        tolerance = 4 * math.sqrt(expected * (1 - expected) / total)
        assert abs(failing / total - expected) <= tolerance, (book.slice, failing, total)

    book = BOOKS["response-timing"]
    set_flag(info, book.flag.name, book.flag.on)
    ready = redeploy(info)["ready"]
    wait_until(lambda: sim_now(info) > ready + 32 * 60_000, timeout=20, what="a 30-minute post window")
    after = _failure_rates(request_log_rows(info, ready, ready + 30 * 60_000))
    failing, total = after[book.route]
    assert total >= 29 and failing == 0
    other_failing, other_total = after[BOOKS["availability"].route]
    assert other_failing / other_total > 0.3  # untouched routes keep failing


def _signature_shares(route: str) -> dict[str, float]:
    """Of the route's inline failures, the share carrying each signature (from its failure modes)."""
    import random

    from reversal.sandbox.app import ROUTES

    modes = ROUTES[route].failures
    total = sum(m.weight for m in modes)
    shares: Counter = Counter()
    for mode in modes:
        for name in CATALOGUE.match(mode.render(random.Random(0))):
            shares[name] += mode.weight / total
    return dict(shares)


def _attributed(info, since, until, out):
    """Capture the window with the real client, then `reversal attribute --format json`."""
    import json

    from click.testing import CliRunner

    from reversal.cli import cli
    from reversal.clock import parse_clock
    from reversal.platform.capture import capture_window
    from reversal.platform.vercel import VercelClient

    with VercelClient(info.token, info.project_id, team_id=info.team_id, owner_id=info.team_id,
                      api_base=info.api, logs_api_base=info.logs_api) as client:
        capture_window(client, since_ms=since, until_ms=until, environment="production",
                       route=None, out=out, project_id=info.project_id,
                       clock=parse_clock(info.env["REVERSAL_CLOCK"]))
    result = CliRunner().invoke(cli, ["attribute", str(out), "--format", "json"],
                                catch_exceptions=False)
    return {r["route"]: r for r in json.loads(result.output)["routes"]}


def test_attribute_on_captures_shows_the_injected_signatures_then_their_absence(start_sandbox,
                                                                                  tmp_path):
    info = start_sandbox(factor=4000, history_s=120 * 60, failure_rates=RATES)
    now = sim_now(info)
    inline = _attributed(info, now - 120 * 60_000, now, tmp_path / "inline.json")
    for book in BOOKS.values():
        stats = inline[book.route]
        for signature, share in _signature_shares(book.route).items():
            if signature not in book.target.signatures:
                continue
            expected = RATES.get(book.slice, TARGET_RATE) * share
            signed = stats["signatures"].get(signature, {}).get("requests", 0)
            tolerance = 4 * math.sqrt(expected * (1 - expected) / stats["requests"])
            assert abs(signed / stats["requests"] - expected) <= tolerance, (book.slice, signature)
    assert "/api/inbox/conversations" in inline  # barometers are in the capture too

    book = BOOKS["response-timing"]
    set_flag(info, book.flag.name, book.flag.on)
    ready = redeploy(info)["ready"]
    wait_until(lambda: sim_now(info) > ready + 32 * 60_000, timeout=20, what="a 30-minute post window")
    after = _attributed(info, ready, ready + 30 * 60_000, tmp_path / "post.json")
    stats = after[book.route]
    assert stats["requests"] >= 29
    assert not any(stats["signatures"].get(s, {}).get("rows") for s in book.target.signatures)
    assert after[BOOKS["availability"].route]["signatures"]["timeout_60s"]["requests"] > 0
