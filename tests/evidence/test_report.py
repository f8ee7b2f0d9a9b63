"""The pure parts of the report: series, the rollback check, deltas, links, charts, provenance."""

from __future__ import annotations

import re

from reversal.evidence.provenance import commit_of, provenance, time_label
from reversal.evidence.report import (
    dashboard_url,
    failure_series,
    rollback_check,
    short_deltas,
    svg_chart,
)
from reversal.evidence.timeline import rollback_reason
from reversal.iteration.state import Event, IterationState
from reversal.logs.compare import Criteria, Span, build_window
from reversal.logs.model import LogRecord
from reversal.logs.signatures import build_catalogue

ROUTE, BARO = "/api/cron/response-timing", "/api/inbox/counts"
MIN = 60_000


def _window(failures_by_minute: dict[int, int], minutes: int, start: int = 0, route: str = ROUTE):
    records = [LogRecord(start + m * MIN + i, route, 500, request_id=f"{start}-{m}-{i}")
               for m, n in failures_by_minute.items() for i in range(n)]
    records.append(LogRecord(start + 1, BARO, 200, request_id="ok"))
    criteria = Criteria(ROUTE, (500, 504, None), (), build_catalogue())
    return build_window(records, criteria, Span(start, start + minutes * MIN, "meta"))


def test_failure_series_is_per_minute_and_aligned_on_the_window_start():
    windows = {"baseline": _window({0: 2, 3: 1}, 5), "post": _window({4: 1}, 5, start=10 * MIN)}
    s = failure_series(windows, ROUTE, ROUTE)
    assert s["unit"] == "requests"
    assert s["series"] == {"baseline": [2, 0, 0, 1, 0], "post": [0, 0, 0, 0, 1]}
    assert s["totals"] == {"baseline": 3, "post": 1}
    assert failure_series(windows, BARO, ROUTE)["series"]["post"] == [0] * 5


def test_rollback_check_says_whether_failures_came_back():
    post = _window({}, 30)
    back = rollback_check(post, _window({0: 3, 1: 3, 2: 2}, 5, start=40 * MIN), alpha=0.05)
    assert back["came_back"] and back["rollback"]["events"] == 8 and back["post"]["events"] == 0
    assert "failures came back" in back["message"]
    quiet = rollback_check(_window({m: 1 for m in range(30)}, 30), _window({1: 1}, 5, 40 * MIN), 0.05)
    assert not quiet["came_back"] and quiet["p_value_rise"] > 0.05
    assert "no significant return" in quiet["message"]


def _delta(route, key, rows):
    side = {"rows": 0, "requests": 0}
    return {"route": route, "key": key, "baseline": side, "post": side,
            "delta": {"rows": rows, "requests": rows}}


def test_short_deltas_keep_target_barometers_and_the_top_movers():
    deltas = [_delta(ROUTE, "all", -5), _delta(ROUTE, "status:500", -5), _delta(BARO, "all", 1),
              _delta(BARO, "status:500", 1), *(_delta(f"/r{i}", "all", i) for i in range(8)),
              _delta("/r9", "status:200", 99)]
    rows = short_deltas(deltas, ROUTE, [BARO], top=3)
    assert [(r["route"], r["key"], r["role"]) for r in rows] == [
        (ROUTE, "all", "target"), (ROUTE, "status:500", "target"), (BARO, "all", "barometer"),
        ("/r7", "all", "mover"), ("/r6", "all", "mover"), ("/r5", "all", "mover")]


def test_dashboard_url_prefers_the_inspector_url_then_builds_one():
    assert dashboard_url({"id": "dpl_abc", "inspectorUrl": "https://vercel.com/t/p/abc"}, "x", "y") \
        == "https://vercel.com/t/p/abc"
    assert dashboard_url({"id": "dpl_abc"}, "acme", "shop") == "https://vercel.com/acme/shop/abc"
    assert dashboard_url({"id": "dpl_abc"}, None, "shop") is None


def test_svg_chart_draws_one_bar_per_nonzero_minute_and_escapes_titles():
    svg = svg_chart("a<b", {"baseline": [0, 2, 1], "post": [1, 0, 0]}, "requests")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "a&lt;b" in svg
    assert len(re.findall(r"<rect ", svg)) == 3
    assert 'class="series series-post"' in svg


def test_provenance_labels_the_sandbox_clock_and_reads_the_commit():
    wall = provenance(os_user="ann", git_user=None, version="1.0", host="h", project_id="prj",
                      team="team_1", api_base="https://api.vercel.com", clock_factor=None)
    assert wall["clock"]["simulated"] is False and time_label(wall) == "UTC"
    sim = provenance(os_user="ann", git_user="Ann", version="1.0", host="h", project_id="prj",
                     team=None, api_base="http://127.0.0.1:1", clock_factor=300)
    assert time_label(sim) == "UTC, simulated: sandbox clock x300"
    assert commit_of({"githubCommitSha": "abc", "githubCommitRef": "main"}) == {"sha": "abc", "ref": "main"}
    assert commit_of({"intent": "x"}) is None and commit_of(None) is None


def test_rollback_reason_is_the_operator_request_or_the_failure_that_triggered_it():
    state = IterationState("i", "s", ROUTE, 0, 1800)
    assert rollback_reason(state) is None
    state.events = [Event(1, "verdict", "failed", "verdict FAIL: drop 10%"),
                    Event(2, "verdict", "note", "Rolling back."), Event(3, "rollback-flip", "done", "off")]
    assert rollback_reason(state) == "verdict FAIL: drop 10%"
    state.events = [Event(1, "rollback-flip", "note", "Operator requested rollback: alerts")]
    assert rollback_reason(state) == "Operator requested rollback: alerts"


def test_pages_render_for_a_packet_that_has_just_started_and_for_a_broken_one(tmp_path):
    from reversal.evidence.report import write_pages
    from reversal.iteration.store import IterationStore
    from reversal.playbooks import load_playbooks

    store, books = IterationStore(tmp_path), load_playbooks(None)
    state = IterationState("response-timing-1", "response-timing", ROUTE, 0, 1800)
    (tmp_path / state.iteration).mkdir()
    store.save(state)
    page = write_pages(tmp_path / state.iteration, books, build_catalogue()).read_text()
    assert "No log window captured yet." in page and "response-timing-1" in page
    assert 'data-slice="response-timing"' in (tmp_path / "index.html").read_text()
    state.facts["baseline"] = {"logs": "baseline.json", "window": {"since_ms": 0, "until_ms": MIN}}
    store.save(state)
    (tmp_path / state.iteration / "baseline.json").write_text("not json at all")
    broken = write_pages(tmp_path / state.iteration, books, build_catalogue()).read_text()
    assert "report not rendered" in broken and "reversal report response-timing-1" in broken
