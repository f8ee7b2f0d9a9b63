import re

import pytest
import yaml

from reversal.commands.signatures import render_yaml
from reversal.logs import attribution
from reversal.logs.attribution import attribute, attribute_files
from reversal.logs.discover import (
    Discovery,
    DiscoveryTally,
    RouteDiscovery,
    Template,
    catalogue_entries,
    discover_files,
)
from reversal.logs.model import LogRecord
from reversal.logs.readers import read_records
from reversal.logs.signatures import build_catalogue
from reversal.logs.templates import family_name, mask, template_regex
from tests.zrg import CLI_LOGS, EXPORT

EMPTY = build_catalogue({}, builtin=False)
# The team's failure-class table (tests/fixtures/zrg/README.md): route, family, rows.
KNOWN_ANSWER = [
    ("/api/inbox/conversations", "timeout_300s", 254),
    ("/api/webhooks/email", "timeout_60s", 198),
    ("/api/cron/response-timing", "p2028", 110),
    ("/api/inbox/counts", "timeout_300s", 2),
    ("/api/cron/emailbison/availability-slot", "timeout_60s", 2),
    ("/api/cron/availability", "timeout_60s", 1),
]


@pytest.fixture(scope="module")
def from_scratch() -> Discovery:
    return discover_files([EXPORT], EMPTY)


def _family_rows(discovery: Discovery, route: str, family: str) -> int:
    return sum(t.rows for t in discovery.templates() if t.route == route and t.family == family)


def _records(*messages: str, route: str = "/api/x", status: int | None = 500) -> list[LogRecord]:
    return [LogRecord(ts_ms=1000 + i, route=route, status=status, message=m, request_id=f"r{i}",
                      level="error") for i, m in enumerate(messages)]


def _discover(records: list[LogRecord], catalogue=EMPTY) -> Discovery:
    tally = DiscoveryTally(catalogue)
    tally.add_records(records)
    return tally.discovery()


# --- masking ------------------------------------------------------------------------------------


def test_variables_are_masked():
    masked, key = mask("lead user-1a@example.com id 6df2347d-840e-4795-91f6-9d04f205af28 url "
                       "https://x.example/a?b=1 at 2026-02-17T18:12:24.000Z took 37 tries, "
                       "dpl_H5eNbGu6SeiTpeJtvwQs")
    assert masked == "lead <EMAIL> id <UUID> url <URL> at <TS> took <NUM> tries, <ID>"
    assert key == ()


def test_limits_and_codes_define_the_family_measurements_do_not():
    assert mask("Task timed out after 60 seconds") == ("Task timed out after 60 seconds", ("timeout_60s",))
    assert mask("Task timed out after 300 seconds")[1] == ("timeout_300s",)
    masked, key = mask("The timeout for this transaction was 5000 ms, however 5027 ms passed. code: 'P2028'")
    assert masked == "The timeout for this transaction was 5000 ms, however <NUM> ms passed. code: 'P2028'"
    assert key == ("p2028",)  # an error code outranks the limit
    assert mask("SQLSTATE 57014 canceling statement")[1] == ("sqlstate_57014",)
    assert mask("[GHL] API error 502 POST /contacts/search")[1] == ("http_502",)
    assert mask("Error [DriverAdapterError]: query_wait_timeout")[1] == ("query_wait_timeout",)


def test_stack_frames_become_one_token_and_the_regex_still_matches_the_raw_message():
    raw = "Error: boom 12\n    at async (.next/a.js:1:2)\n    at h (.next/b.js:3:4) {\n  code: 'P2010'\n}"
    masked, key = mask(raw)
    assert masked == "Error: boom <NUM> <TRACE>\n  code: 'P2010'\n}"
    assert key == ("p2010",)
    assert re.search(template_regex(" ".join(masked.split())), raw)


def test_template_regex_is_anchored_and_escaped():
    regex = template_regex("[Cron] took <NUM> ms for <*> (a+b)")
    assert regex.startswith("^") and regex.endswith("$")
    assert re.search(regex, "[Cron] took 12 ms for Founders Club (a+b)")
    assert not re.search(regex, "prefix [Cron] took 12 ms for x (a+b)")
    assert not re.search(regex, "[Cron] took 12 ms for x (aab)")


def test_family_names_are_catalogue_names():
    assert family_name(("timeout_60s",), "") == "timeout_60s"
    assert family_name((), "[Insights Cron] Error: connection refused by <*>") == "connection_refused_by"
    name = family_name((), "[GHL] Request failed POST /contacts: aborted")
    assert name == "ghl_request_failed_post_contacts_aborted"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", family_name((), "<NUM> <*>"))


# --- mining -------------------------------------------------------------------------------------


def test_60_and_300_second_timeouts_stay_two_families_on_one_route():
    d = _discover(_records(*["Vercel Runtime Timeout Error: Task timed out after 60 seconds"] * 3,
                           *["Vercel Runtime Timeout Error: Task timed out after 300 seconds"] * 2))
    assert {(t.family, t.rows) for t in d.templates()} == {("timeout_60s", 3), ("timeout_300s", 2)}


def test_variable_words_become_a_wildcard_and_rows_requests_and_times_add_up():
    records = _records("[Hook] workspace: Founders Club lead 1",
                       "[Hook] workspace: Tim Blais - Gateway lead 2",
                       "[Hook] workspace: We Grow lead 3", "something else entirely")
    records.append(LogRecord(ts_ms=5, route="/api/x", status=200, message="[Hook] workspace: ok lead 4"))
    d = _discover(records)
    hook = next(t for t in d.templates() if t.template.startswith("[Hook]"))
    assert hook.template == "[Hook] workspace: <*> lead <NUM>"
    assert (hook.rows, hook.requests, hook.first_ts_ms, hook.last_ts_ms) == (3, 3, 1000, 1002)
    assert d.routes[0].failure_rows == 4  # the 200 info row is not a failure row


def test_a_vague_template_does_not_swallow_the_others():
    d = _discover(_records("Error: job alpha bravo", "Error: job charlie delta", "Error: job queue is full"))
    assert sorted((t.template, t.rows) for t in d.templates()) == [
        ("Error: job <*>", 2), ("Error: job queue is full", 1)]


def test_failure_rows_are_5xx_blank_or_error_level():
    rows = [LogRecord(ts_ms=1, route="/a", status=s, message="boom", level=lv)
            for s, lv in [(500, "info"), (None, "info"), (200, "error"), (200, "info"), (404, "warning")]]
    assert _discover(rows).routes[0].failure_rows == 3


def test_discovery_from_scratch_recovers_the_known_answer_table(from_scratch):
    for route, family, rows in KNOWN_ANSWER:
        assert _family_rows(from_scratch, route, family) == rows, (route, family)
    assert all(t.status == "new" for t in from_scratch.templates())


def test_with_the_catalogue_discovery_agrees_with_attribute():
    catalogue = build_catalogue()
    discovery = discover_files([EXPORT], catalogue)
    matrix = attribute_files([EXPORT], catalogue)
    for route in discovery.routes:
        assert route.uncatalogued_rows == matrix.route(route.route).uncatalogued_failure_rows
    for route, family, rows in KNOWN_ANSWER:
        covered = [t for t in discovery.templates() if t.route == route and t.family == family]
        assert sum(t.covered.get(family, 0) for t in covered) == rows
        assert all(t.status == "covered" for t in covered)
    assert any(t.signature == "new" for t in discovery.templates())  # the Inboxxia lines


def test_the_yaml_loaded_as_the_catalogue_reproduces_the_known_answer_table(from_scratch):
    entries = catalogue_entries(from_scratch)
    assert entries and all(e.matched_rows == e.rows for e in entries)
    loaded = yaml.safe_load(render_yaml(entries, from_scratch.inputs))["signatures"]
    matrix = attribute(read_records(EXPORT), build_catalogue(loaded, builtin=False))
    builtin = attribute_files([EXPORT], build_catalogue())
    for route, family, rows in KNOWN_ANSWER:
        assert matrix.route(route).signatures[family]["rows"] == rows
        assert matrix.route(route).signatures[family] == builtin.route(route).signatures[family]


def test_a_regex_that_does_not_rematch_its_rows_is_left_out():
    good = Template("/a", (), "boom <NUM>", 2, 2, 1, 2, "boom 1", {}, 2, ("boom 1",), family="boom")
    bad = Template("/a", (), "bang <NUM>", 3, 3, 1, 2, "bang x", {}, 3, ("bang x",), family="bang")
    discovery = Discovery(("x",), 5, (), (RouteDiscovery("/a", 5, 0, 5, (good, bad)),))
    entries = catalogue_entries(discovery)
    assert [(e.name, e.rows, e.matched_rows) for e in entries] == [("boom", 2, 2)]


def test_a_parallel_read_gives_the_same_discovery(monkeypatch, from_scratch):
    monkeypatch.setattr(attribution, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(attribution.os, "cpu_count", lambda: 3)
    assert discover_files([EXPORT], EMPTY).to_json() == from_scratch.to_json()


def test_ndjson_logs_are_read_through_the_same_reader():
    discovery = discover_files(CLI_LOGS, build_catalogue())
    assert discovery.rows == sum(1 for path in CLI_LOGS for _ in read_records(path))
    assert all(t.rows >= 1 and t.example for t in discovery.templates())


def test_a_route_with_many_shapes_is_compacted_while_streaming(monkeypatch):
    monkeypatch.setattr("reversal.logs.discover.SHAPE_LIMIT", 8)
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    messages = [f"[Hook] workspace {a} {b} failed" for a in names for b in names]
    tally = DiscoveryTally(EMPTY)
    held = []
    for record in _records(*messages, "Task timed out after 60 seconds"):
        tally.add_records([record])
        held.append(len(tally._shapes["/api/x"]))
    assert max(held) <= 8
    templates = tally.discovery().templates()
    assert sorted((t.template, t.rows, t.requests) for t in templates) == [
        ("Task timed out after 60 seconds", 1, 1), ("[Hook] workspace <*> failed", 100, 100)]
