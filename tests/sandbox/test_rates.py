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
