"""A/A and mirror replays of the real dashboard export (tests/fixtures/zrg).

An A/A test compares two windows where nothing changed: any PASS is a false PASS. The export is
cut into neighbouring 30-minute windows on six grids (offsets 0, 5, ... 25 minutes); every route
with >= 10 failure rows in the first window of a pair is a target. Its mirror removes the
target's failures from the second window: a true, total drop, which must PASS unless the
baseline's failures sit in a burst (fewer than 4 of its six 5-minute blocks), which can only be
INCONCLUSIVE, or a barometer had an incident of its own in the second window (FAIL).
"""

from __future__ import annotations

from collections import Counter

import pytest

from reversal.logs.compare import DEFAULT_GATE, Criteria, Span, compare
from reversal.logs.readers import read_records
from reversal.logs.signatures import build_catalogue
from reversal.playbooks import Gate
from tests.zrg import EXPORT

MIN = 60_000
WINDOW = 30 * MIN
STATUSES = (500, 504, None)
CAT = build_catalogue()
GATE = Gate(DEFAULT_GATE.min_drop, DEFAULT_GATE.alpha, DEFAULT_GATE.burst,
            ("/api/inbox/conversations", "/api/inbox/counts"))


def _failing(record) -> bool:
    return Criteria.route_failure(record, tuple(CAT.match(record.message)))


@pytest.fixture(scope="module")
def pairs():
    """(target, baseline span, post span, baseline records, post records) of every pair."""
    records = sorted(read_records(EXPORT), key=lambda r: r.ts_ms)
    first, last = records[0].ts_ms // MIN * MIN, records[-1].ts_ms
    out = []
    for offset in range(0, 30, 5):
        start = first + offset * MIN
        while start + 2 * WINDOW <= last + MIN:
            base_span = Span(start, start + WINDOW, "meta")
            post_span = Span(start + WINDOW, start + 2 * WINDOW, "meta")
            base = [r for r in records if base_span.contains(r.ts_ms)]
            post = [r for r in records if post_span.contains(r.ts_ms)]
            targets = Counter(r.route for r in base if _failing(r))
            out += [(route, base_span, post_span, base, post) for route, n in targets.items() if n >= 10]
            start += WINDOW
    return out


def _compare(route, base_span, post_span, base, post):
    return compare(base, post, catalogue=CAT, route=route, statuses=STATUSES, gate=GATE,
                   baseline_span=base_span, post_span=post_span)


def _blocks_with_failures(route, span, records) -> int:
    return len({(r.ts_ms - span.since_ms) // (5 * MIN) for r in records
                if r.route == route and r.status in STATUSES})


def test_aa_replay_of_the_real_export_never_passes(pairs):
    verdicts = Counter()
    incident_ended = []
    for route, base_span, post_span, base, post in pairs:
        result = _compare(route, base_span, post_span, base, post)
        verdicts[result.verdict] += 1
        assert result.verdict != "PASS", result.headline
        if route == "/api/inbox/conversations" and result.target_post.events == 0 and \
                result.target_baseline.rows >= 880:
            incident_ended.append(result)
    assert len(pairs) >= 80 and verdicts["FAIL"] > 0
    # the incident that ended by itself: 891 failure rows in 14 minutes, then none
    assert incident_ended
    for result in incident_ended:
        assert result.verdict == "INCONCLUSIVE"
        assert result.assessment.test.p_exact < 1e-50  # what the exact test alone concluded
        assert {r.code for r in result.reasons if r.outcome == "inconclusive"} & {
            "too_little_signal", "shared_drop", "not_beyond_controls", "pre_trend"}


def test_mirror_replay_passes_unless_the_baseline_is_a_burst(pairs):
    passed = bursts = 0
    for route, base_span, post_span, base, post in pairs:
        mirror = [r for r in post if not (r.route == route and r.status in STATUSES)]
        result = _compare(route, base_span, post_span, base, mirror)
        bad = {r.code for r in result.reasons if r.outcome in ("fail", "inconclusive")}
        if _blocks_with_failures(route, base_span, base) >= 4:
            # a barometer's own incident in the post window still FAILs (the unchanged,
            # conservative barometer rule); nothing else may stand in the way
            assert result.verdict == "PASS" or bad == {"barometer_worse"}, (result.headline, bad)
            passed += result.verdict == "PASS"
        else:
            assert result.verdict == "INCONCLUSIVE", result.headline
            assert "too_little_signal" in {r.code for r in result.reasons}
            bursts += 1
    assert passed >= 60 and bursts >= 1
