import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from reversal.errors import InputError
from reversal.logs.compare import (
    DEFAULT_GATE,
    Span,
    compare,
    find_bursts,
    span_from_meta,
)
from reversal.logs.model import LogRecord, normalize_path
from reversal.logs.signatures import build_catalogue
from reversal.playbooks import Burst, Gate
from tests.zrg import EXPORT

ROUTE = "/api/cron/response-timing"
INBOX = "/api/inbox/conversations"
T0 = 1771383600000  # 2026-02-18T03:00:00Z
MIN = 60_000
CAT = build_catalogue()
SIGS = ("p2028", "expired_transaction")


def _exact_drop_p(k_base: int, t_base: float, k_post: int, t_post: float) -> float:
    """P(X <= k_post), X ~ Bin(k_base + k_post, t_post / (t_base + t_post)), in rationals."""
    n = k_base + k_post
    p = Fraction(t_post).limit_denominator() / (Fraction(t_base).limit_denominator()
                                                + Fraction(t_post).limit_denominator())
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k_post + 1)))


def failing(per_minute: list[int], start: int = T0, route: str = ROUTE, tag: str = "r",
            with_ids: bool = True) -> list[LogRecord]:
    """Failing requests, ``per_minute[i]`` of them in minute i; each writes two rows
    (the 500 function row and its Prisma error line), as the dashboard export does."""
    out = []
    for minute, count in enumerate(per_minute):
        for j in range(count):
            ts = start + minute * MIN + 1000 + j * 100
            rid = f"{tag}-{minute}-{j}" if with_ids else ""
            out.append(LogRecord(ts, route, 500, "GET /api 500", rid))
            out.append(LogRecord(ts + 50, route, 500, "Transaction API error: expired transaction", rid))
    return out


def healthy(minutes: int, start: int = T0, route: str = ROUTE, tag: str = "ok") -> list[LogRecord]:
    return [LogRecord(start + m * MIN + 30_000, route, 200, "", f"{tag}-{m}") for m in range(minutes)]


def span(minutes: float, start: int = T0) -> Span:
    return Span(start, start + int(minutes * MIN), "meta")


def run(baseline, post, *, base_min=30, post_min=30, post_start=T0 + 60 * MIN, gate=DEFAULT_GATE,
        **kw):
    return compare(baseline, post, catalogue=CAT, route=ROUTE, signatures=SIGS, gate=gate,
                   baseline_span=span(base_min), post_span=span(post_min, post_start), **kw)


def codes(result) -> dict[str, str]:
    return {r.code: r.outcome for r in result.reasons}


def reason(result, code):
    (found,) = [r for r in result.reasons if r.code == code]
    return found


POST = T0 + 60 * MIN


def test_clear_drop_passes_with_every_reason_and_number():
    baseline = failing([1] * 30) + healthy(30)
    post = failing([0] * 14 + [1] + [0] * 9 + [1] + [0] * 5, start=POST) + healthy(30, POST)
    result = run(baseline, post)
    assert result.verdict == "PASS" and result.exit_code == 0
    assert codes(result) == {"drop_ok": "ok", "significant": "ok", "no_burst": "ok",
                             "no_controls": "note", "no_pre_trend": "ok"}
    assert result.unit == "requests"  # two rows per failing request, all with ids
    drop = reason(result, "drop_ok").numbers
    assert (drop["baseline_events"], drop["post_events"]) == (30, 2)
    assert drop["relative_drop"] == pytest.approx(1 - 2 / 30)
    assert result.target_baseline.rows == 60 and result.target_post.rows == 4
    significant = reason(result, "significant").numbers
    assert significant["p_value_exact"] == pytest.approx(_exact_drop_p(30, 30, 2, 30), rel=1e-9)
    # 6 blocks of 5 minutes each, every post block below every baseline block: 1 / C(12, 6)
    assert significant["p_value_blocks"] == pytest.approx(1 / math.comb(12, 6))
    assert significant["p_value"] == max(significant["p_value_exact"], significant["p_value_blocks"])


def test_no_change_fails_on_the_drop():
    result = run(failing([1] * 30) + healthy(30), failing([1] * 30, start=POST) + healthy(30, POST))
    assert result.verdict == "FAIL" and result.exit_code == 1
    below = reason(result, "drop_below_min")
    assert below.outcome == "fail"
    assert below.numbers["relative_drop"] == pytest.approx(0.0)
    assert below.numbers["min_drop"] == 0.8
    assert "0.0%" in below.message and "80%" in below.message
    assert codes(result)["not_significant"] == "note"  # the drop check already decided: FAIL


def test_increase_fails():
    result = run(failing([1, 0, 0] * 10), failing([1, 1, 0] * 10, start=POST))
    assert result.verdict == "FAIL"
    assert codes(result) == {"increase": "fail", "not_significant": "note", "no_burst": "ok",
                             "no_controls": "note", "no_pre_trend": "ok"}
    assert "10 failure requests" in reason(result, "increase").message


def test_three_to_zero_is_inconclusive_not_pass():
    baseline = failing(([1] + [0] * 9) * 3) + healthy(30)
    result = run(baseline, healthy(30, POST))
    assert result.verdict == "INCONCLUSIVE" and result.exit_code == 3
    little = reason(result, "too_little_signal")
    assert little.outcome == "inconclusive"
    assert little.numbers["min_achievable_p"] == pytest.approx(0.5**3)
    assert little.numbers["alpha"] == 0.05
    assert "0.125" in little.message
    assert codes(result)["drop_ok"] == "ok"  # the drop itself was total: the signal is what is missing


def test_large_but_insignificant_drop_is_inconclusive():
    # 5 -> 1: 80% drop, p = 7/64 > 0.05, yet 5 -> 0 could have reached alpha (1/32)
    result = run(failing(([1] + [0] * 5) * 5), failing([1] + [0] * 29, start=POST))
    assert result.verdict == "INCONCLUSIVE"
    assert codes(result) == {"drop_ok": "ok", "not_significant": "inconclusive", "no_burst": "ok",
                             "no_controls": "note", "no_pre_trend": "ok"}
    numbers = reason(result, "not_significant").numbers
    assert numbers["p_value_exact"] == pytest.approx(7 / 64) and numbers["p_value"] >= 7 / 64


def test_sustained_burst_in_post_window_fails_and_is_named():
    baseline = failing([3] * 30)
    post = failing([0] * 10 + [4, 5, 3] + [0] * 17, start=POST)
    result = run(baseline, post)
    assert result.verdict == "FAIL"
    assert codes(result) == {"drop_ok": "ok", "significant": "ok", "sustained_burst": "fail",
                             "no_controls": "note", "no_pre_trend": "ok"}
    burst = reason(result, "sustained_burst")
    assert burst.numbers["start"] == "2026-02-18T04:10Z"
    assert burst.numbers["minutes"] == 3 and burst.numbers["counts"] == [4, 5, 3]
    assert "3 consecutive minutes from 2026-02-18T04:10Z" in burst.message
    assert result.to_json()["bursts"] == [{"start": "2026-02-18T04:10Z", "start_ms": POST + 10 * MIN,
                                           "minutes": 3, "counts": [4, 5, 3]}]


def test_burst_detection_needs_the_full_run_at_threshold():
    gate = Burst(per_minute=3, minutes=3)
    series = list(enumerate([3, 3, 0, 3, 3, 2, 4, 4, 4, 4, 0, 9]))
    (run_,) = find_bursts(series, gate)
    assert (run_.start_ms, run_.counts) == (6, (4, 4, 4, 4))
    assert find_bursts(list(enumerate([5, 5, 5])), gate)[0].counts == (5, 5, 5)  # run at the end
    assert find_bursts(list(enumerate([5, 5, 2, 5])), gate) == []


def test_barometer_significantly_worse_fails_naming_the_route():
    gate = Gate(0.8, 0.05, Burst(3, 3), (INBOX,))
    inbox_base = [LogRecord(T0 + m * MIN, INBOX, 504, "", f"ib-{m}") for m in (3, 17)]
    inbox_post = [LogRecord(POST + m * MIN, INBOX, 200 if m % 2 else None,
                            "Task timed out after 300 seconds" if m % 2 else "", f"ip-{m}")
                  for m in range(20)]
    result = run(failing([1] * 30) + inbox_base, inbox_post, gate=gate)
    assert result.verdict == "FAIL"
    worse = reason(result, "barometer_worse")
    assert INBOX in worse.message
    assert worse.numbers["route"] == INBOX
    assert (worse.numbers["baseline"]["events"], worse.numbers["post"]["events"]) == (2, 20)
    (barometer,) = result.barometers
    assert barometer.significantly_worse
    n = 2 + 20  # P(X >= 20), X ~ Bin(22, 1/2)
    exact_rise = float(sum(Fraction(math.comb(n, i), 2**n) for i in range(20, n + 1)))
    assert barometer.p_value == pytest.approx(exact_rise, rel=1e-9)
    assert codes(result)["drop_ok"] == "ok" and codes(result)["significant"] == "ok"


def test_barometer_not_worse_is_reported_ok():
    gate = Gate(0.8, 0.05, Burst(3, 3), (INBOX,))
    inbox = [LogRecord(T0 + m * MIN, INBOX, 500, "", f"ib-{m}") for m in range(4)]
    inbox_post = [LogRecord(POST + m * MIN, INBOX, 500, "", f"ip-{m}") for m in range(5)]
    result = run(failing([1] * 30) + inbox, inbox_post + healthy(30, POST), gate=gate)
    assert result.verdict == "PASS"
    assert codes(result)["barometer_ok"] == "ok"


def test_windows_of_different_lengths_are_compared_by_rate():
    # 60 events in 60 min vs 15 in 15 min: same rate, although the counts fell by 75%
    same_rate = run(failing([1] * 60), failing([1] * 15, start=POST), base_min=60, post_min=15,
                    post_start=POST)
    assert same_rate.verdict == "FAIL"
    assert reason(same_rate, "drop_below_min").numbers["relative_drop"] == pytest.approx(0.0)
    # 20 events in 10 min (2/min) vs 8 in 40 min (0.2/min): a 90% drop in rate
    lower_rate = run(failing([2] * 10), failing([1, 0, 0, 0, 0] * 8, start=POST), base_min=10,
                     post_min=40)
    assert lower_rate.verdict == "PASS"
    assert lower_rate.relative_drop == pytest.approx(0.9)
    assert lower_rate.p_value == pytest.approx(_exact_drop_p(20, 10, 8, 40), rel=1e-9)
    data = lower_rate.to_json()["target_failures"]
    assert data["baseline"]["rate_per_min"] == pytest.approx(2.0)
    assert data["post"]["rate_per_min"] == pytest.approx(0.2)


def test_rows_are_the_unit_when_request_ids_are_missing():
    baseline = failing([2] * 30, with_ids=False)
    post = failing([1] + [0] * 29, start=POST, with_ids=False)
    result = run(baseline, post)
    assert result.unit == "rows"
    assert (result.target_baseline.events, result.target_post.events) == (120, 2)
    assert result.target_baseline.requests == 0


def test_signature_alone_makes_a_failure_and_other_rows_do_not():
    records = [
        LogRecord(T0, ROUTE, -1, "Invalid `prisma.x()`: expired transaction", "a"),  # signature only
        LogRecord(T0 + 1, ROUTE, None, "", "b"),  # blank status
        LogRecord(T0 + 2, ROUTE, 504, "", "c"),
        LogRecord(T0 + 3, ROUTE, 502, "", "d"),  # not in the statuses
        LogRecord(T0 + 4, ROUTE, -1, "query_wait_timeout", "e"),  # a signature, not a target one
        LogRecord(T0 + 5, "/api/cron/followups", 500, "expired transaction", "f"),  # other route
    ]
    result = run(records, [])
    assert (result.target_baseline.rows, result.target_baseline.requests) == (3, 3)


def test_span_is_inferred_from_records_rounded_out_to_whole_minutes():
    baseline = [*failing([1] * 30), LogRecord(T0 + 29 * MIN + 59_999, ROUTE, 200, "", "x")]
    post = [LogRecord(POST + 20_000, ROUTE, 200, "", "y")]  # one row: one minute
    result = compare(baseline, post, catalogue=CAT, route=ROUTE)
    windows = result.to_json()["windows"]
    assert windows["baseline"]["since"] == "2026-02-18T03:00:00Z"
    assert windows["baseline"]["until"] == "2026-02-18T03:30:00Z"
    assert windows["baseline"]["minutes"] == 30 and windows["baseline"]["source"] == "records"
    assert windows["post"]["minutes"] == 1
    assert len(result.to_json()["series"]["post"]) == 1


def test_meta_span_leaves_out_rows_outside_it_and_says_so():
    baseline = failing([1] * 30) + failing([5], start=T0 - 5 * MIN, tag="early")
    result = run(baseline, healthy(30, POST))
    assert result.target_baseline.events == 30
    note = reason(result, "rows_outside_span")
    assert note.outcome == "note" and note.numbers == {"window": "baseline", "rows": 10}


def test_empty_window_without_meta_is_bad_input():
    with pytest.raises(InputError, match="post: the window holds no records"):
        compare(failing([1]), [], catalogue=CAT, route=ROUTE)


def test_unknown_signature_is_bad_input():
    with pytest.raises(InputError, match="unknown signatures"):
        compare([], [], catalogue=CAT, route=ROUTE, signatures=["nope"])


@pytest.mark.parametrize(("data", "match"), [
    ([], "'window' object"),
    ({"window": {"since_ms": 1}}, "window.until_ms"),
    ({"window": {"since_ms": "1", "until_ms": 2}}, "window.since_ms"),
    ({"window": {"since_ms": 5, "until_ms": 5}}, "must be after"),
])
def test_meta_errors_name_the_file_and_field(data, match):
    with pytest.raises(InputError, match=match) as info:
        span_from_meta(data, "b.meta.json")
    assert str(info.value).startswith("b.meta.json:")


def test_deltas_match_a_direct_count_and_json_keys_are_stable():
    baseline = failing([1] * 30) + healthy(30) + failing([2] * 3, route="/api/cron/followups", tag="f")
    post = healthy(30, POST) + failing([1], start=POST)
    result = run(baseline, post)
    doc = json.loads(json.dumps(result.to_json()))
    assert set(doc) == {"verdict", "exit_code", "headline", "unit", "target", "gate", "windows",
                        "target_failures", "series", "bursts", "barometers", "reasons", "deltas",
                        "dispersion", "controls", "pre_trend"}
    assert doc["headline"].startswith(f"{result.verdict}: {ROUTE} failure requests 30 (1/min) -> 1")
    assert doc["target"] == {"route": ROUTE, "statuses": [500, 504, "blank"], "signatures": list(SIGS)}
    rows = Counter((r.route, r.status) for r in baseline)
    ids = {k: len({r.request_id for r in baseline if (r.route, r.status) == k}) for k in rows}
    table = {(d["route"], d["key"]): d for d in doc["deltas"]}
    for (route, status), n in rows.items():
        entry = table[(route, f"status:{status}")]
        assert entry["baseline"]["rows"] == n and entry["baseline"]["requests"] == ids[(route, status)]
    follow = table[("/api/cron/followups", "signature:expired_transaction")]
    assert follow["baseline"]["rows"] == 6 and follow["post"]["rows"] == 0
    assert follow["delta"] == {"rows": -6, "requests": -6}
    assert follow["baseline"]["rows_per_min"] == pytest.approx(6 / 30)
    target_500 = table[(ROUTE, "status:500")]
    assert target_500["delta"] == {"rows": 2 - 60, "requests": 1 - 30}
    assert [d["key"] for d in doc["deltas"] if d["route"] == ROUTE][:3] == ["all", "status:200", "status:500"]
    assert sum(m["requests"] for m in doc["series"]["baseline"]) == 30
    assert len(doc["series"]["post"]) == 30


def _export_records(path: Path):
    """Read the dashboard export directly (independently of the package's readers)."""
    for row in json.loads(path.read_text()):
        host, route = normalize_path(row["requestPath"])
        status = row["responseStatusCode"]
        yield LogRecord(row["timestampInMs"], route, None if status == "" else status,
                        row["message"], row["requestId"], host=host)


def test_real_export_baseline_against_a_clean_post_window():
    raw = json.loads(EXPORT.read_text())
    mine = [r for r in raw if r["requestPath"].split("?")[0].endswith(ROUTE)]
    failing_ids = {r["requestId"] for r in mine if r["responseStatusCode"] in (500, 504, "")}
    first = min(r["timestampInMs"] for r in mine) // MIN * MIN
    last = (max(r["timestampInMs"] for r in mine) // MIN + 1) * MIN
    baseline = [r for r in _export_records(EXPORT) if first <= r.ts_ms < last]
    minutes = (last - first) // MIN
    start = last + 30 * MIN
    # the cron ran every minute, dispatch-only, no failure; the rest of the app as before
    rest = [msgspec.structs.replace(r, ts_ms=r.ts_ms - first + start) for r in _export_records(EXPORT)
            if r.route != ROUTE and first <= r.ts_ms < last]
    post = healthy(minutes, start=start) + rest
    result = compare(baseline, post, catalogue=CAT, route=ROUTE,
                     signatures=("p2028", "expired_transaction", "unable_to_start_transaction"),
                     baseline_span=Span(first, last, "meta"), post_span=span(minutes, start))
    assert result.unit == "requests"
    assert result.target_baseline.events == len(failing_ids) == 110
    assert result.target_baseline.rows == len(mine)
    assert result.baseline.span.minutes == minutes == result.post.span.minutes
    assert result.verdict == "PASS"
    # the other routes fail in bursts (the inbox incidents, the webhook storm): worth fewer than
    # 5 independent events, they cannot serve as controls, and the target's own test decides
    assert codes(result) == {"drop_ok": "ok", "significant": "ok", "no_burst": "ok",
                             "no_controls": "note", "no_pre_trend": "ok"}
    controls = result.assessment.controls
    assert controls.dispersion.effective_events[0] < 5 < sum(c.baseline for c in controls.routes)
    test = result.assessment.test
    assert test.p_exact == pytest.approx(0.5**110, rel=1e-9)
    assert result.p_value == test.p_blocks > test.p_exact  # blocks of minutes, not 110 independent events


def test_nothing_to_drop_is_inconclusive_and_a_rise_from_nothing_fails():
    quiet = run(healthy(30), healthy(30, POST))
    assert quiet.verdict == "INCONCLUSIVE"
    assert codes(quiet) == {"too_little_signal": "inconclusive", "no_burst": "ok", "no_controls": "note",
                            "no_pre_trend": "ok"}
    assert quiet.min_achievable_p == 1.0 and quiet.relative_drop is None
    rise = run(healthy(30), failing([1] * 4 + [0] * 26, start=POST))
    assert rise.verdict == "FAIL" and codes(rise)["increase"] == "fail"


def test_markdown_report_renders_from_the_json_document_alone():
    from reversal.logs.compare import render_markdown

    result = run(failing([3] * 30), failing([0] * 10 + [4, 5, 3] + [0] * 17, start=POST))
    text = render_markdown(result.to_json())
    assert text.startswith(f"# Compare `{ROUTE}`: **FAIL**")
    assert "| fail | `sustained_burst` |" in text
    assert "| 2026-02-18T04:11Z | 10 | 5 |" in text  # 5 requests of 2 rows in the burst's 2nd minute
    assert "| file |" not in text  # no command inputs given
