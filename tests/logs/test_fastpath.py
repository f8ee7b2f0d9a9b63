"""The fast path (batch decoding into columns, hashed ids, parallel byte ranges) gives exactly
what the record readers give, for every format, for ``attribute`` and ``compare``."""

import json
import pickle
from collections import Counter
from dataclasses import replace

import pytest

from reversal.errors import InputError
from reversal.logs import attribution, columns, counts
from reversal.logs import compare as compare_module
from reversal.logs.attribution import attribute, attribute_files
from reversal.logs.columns import file_columns
from reversal.logs.compare import Span, compare
from reversal.logs.counts import ColumnTally
from reversal.logs.model import LogRecord
from reversal.logs.readers import detect_format, read_records
from tests.logs.test_formats import BASE, CAT, FORMATS, MIN, POST, ROUTE, T0, write_all


@pytest.fixture
def parallel(monkeypatch):
    """Every file is cut into byte ranges shared by forked workers."""
    monkeypatch.setattr(attribution, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(attribution.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(compare_module, "PARALLEL_FINISH_ROWS", 0)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_is_decoded_in_batches_without_falling_back(tmp_path, fmt):
    path = write_all(tmp_path, "base", BASE)[fmt]
    fast = [c for c in file_columns(path, detect_format(path), chunk_bytes=4096)]
    assert len(fast) > 1  # several batches
    assert sum(len(c.ts) for c in fast) == len(list(read_records(path)))


@pytest.mark.parametrize("fmt", ["cli-requests", "runtime-logs", "drain-ndjson", "request-logs"])
def test_lines_longer_than_the_read_buffer_are_read_whole(tmp_path, fmt):
    path = write_all(tmp_path, "base", BASE)[fmt]
    longest = max(map(len, path.read_bytes().splitlines()))
    fast = list(file_columns(path, detect_format(path), chunk_bytes=max(16, longest // 3)))
    assert sum(len(c.ts) for c in fast) == len(list(read_records(path)))


def test_a_line_over_the_limit_sends_the_file_to_the_record_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(columns, "MAX_LINE_BYTES", 4096)
    path = tmp_path / "long.ndjson"
    row = {"requestPath": "/api/x", "timestampInMs": T0, "message": "m" * 10_000}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(columns.Fallback):
        list(file_columns(path, "runtime-logs", chunk_bytes=1024))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_parallel_ranges_give_the_record_readers_matrix(tmp_path, parallel, fmt):
    path = write_all(tmp_path, "base", BASE)[fmt]
    fast = attribute_files([path], CAT)
    assert replace(fast, inputs=()) == attribute(read_records(path), CAT)
    assert fast.rows == len(list(read_records(path)))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_compare_of_two_files_equals_compare_of_their_records(tmp_path, parallel, fmt):
    base, post = write_all(tmp_path, "base", BASE)[fmt], write_all(tmp_path, "post", POST)[fmt]
    # the spans cut some rows off each window: those are counted apart the same way
    kw = dict(catalogue=CAT, route=ROUTE, statuses=(None, 500), signatures=("timeout_60s",),
              baseline_span=Span(T0 + MIN, T0 + 29 * MIN, "meta"),
              post_span=Span(T0 + 61 * MIN, T0 + 89 * MIN, "meta"))
    fast = compare(base, post, **kw).to_json()
    slow = compare(read_records(base), read_records(post), **kw).to_json()
    assert fast == slow
    assert fast["windows"]["baseline"]["rows_outside_span"] > 0


def test_compare_infers_spans_from_the_files(tmp_path, parallel):
    base, post = write_all(tmp_path, "base", BASE)["export"], write_all(tmp_path, "post", POST)["export"]
    kw = dict(catalogue=CAT, route=ROUTE)
    fast = compare(base, post, **kw).to_json()
    assert fast == compare(read_records(base), read_records(post), **kw).to_json()


def _records(n_requests: int, lines: int, routes: int = 3) -> list[LogRecord]:
    return [LogRecord(T0 + i * 7 + k, f"/api/cron/r{i % routes}", 500 if i % 2 else None,
                      message="Task timed out after 60 seconds" if k else "", request_id=f"id-{i}")
            for i in range(n_requests) for k in range(lines)]


def test_distinct_requests_are_exact_across_batches_routes_and_merges():
    records = _records(5000, 3)
    one = ColumnTally(CAT)
    one.add_records(records)
    halves = ColumnTally(CAT), ColumnTally(CAT)
    halves[0].add_records(records[::2])
    halves[1].add_records(records[1::2])
    merged = pickle.loads(pickle.dumps(halves[0]))  # as a worker sends it back
    merged.merge(pickle.loads(pickle.dumps(halves[1])))
    for tally in (one, merged):
        assert tally.distinct(lambda *_: True) == 5000
        assert tally.distinct(lambda r, _s, _n: r == "/api/cron/r1") == len(range(1, 5000, 3))
        assert tally.distinct(lambda _r, s, _n: s is None) == 2500
        assert tally.distinct(lambda _r, _s, n: bool(n)) == 5000


def test_ids_cost_eight_bytes_each_not_a_python_string():
    small, large = ColumnTally(CAT), ColumnTally(CAT)
    small.add_records(_records(1000, 1))
    large.add_records(_records(21000, 1))
    per_id = (len(pickle.dumps(large)) - len(pickle.dumps(small))) / 20000
    assert per_id < 12  # a set of str ids costs ~60-100 bytes per id


def test_first_failure_minute_of_a_request_is_its_earliest_row_whatever_the_order():
    rows = [LogRecord(T0 + 5 * MIN, ROUTE, 500, request_id="a"),
            LogRecord(T0 + MIN, ROUTE, 500, request_id="a"),
            LogRecord(T0 + 3 * MIN, ROUTE, 500, request_id="b")]
    tally = ColumnTally(CAT, by_minute=True)
    tally.add_records(rows)
    total, minutes = tally.first_seen_minutes(lambda *_: True)
    assert (total, dict(minutes)) == (2, {T0 + MIN: 1, T0 + 3 * MIN: 1})


@pytest.mark.parametrize("pending, union", [(7, 5), (1000, 3), (1_000_000, 2_000_000)])
def test_distinct_counts_and_first_minutes_match_sets_across_settles_and_hash_slices(monkeypatch, pending,
                                                                                     union):
    import random

    monkeypatch.setattr(counts, "PENDING_ROWS", pending)
    monkeypatch.setattr(counts, "UNION_ROWS", union)
    rng = random.Random(5)
    rows = [LogRecord(T0 + rng.randrange(30) * MIN, rng.choice(["/api/cron/a", "/api/cron/b"]),
                      rng.choice([200, 500, None]), request_id=f"q{rng.randrange(700)}") for _ in range(4000)]
    tally = ColumnTally(CAT, by_minute=True)
    tally.add_records(rows)
    tally = pickle.loads(pickle.dumps(tally))  # settled, as a worker sends it back
    for route in ("/api/cron/a", "/api/cron/b"):
        chosen = [r for r in rows if r.route == route and r.status != 200]
        first: dict[str, int] = {}
        for r in chosen:
            first[r.request_id] = min(first.get(r.request_id, r.ts_ms), r.ts_ms)
        total, minutes = tally.first_seen_minutes(lambda r, s, _n, route=route: r == route and s != 200)
        assert (total, dict(minutes)) == (len(first), dict(Counter(first.values())))
        assert tally.distinct(lambda r, _s, _n, route=route: r == route) == len(
            {r.request_id for r in rows if r.route == route})


@pytest.mark.parametrize("origin", [T0, -90 * MIN])
def test_rows_per_minute_match_a_python_count_with_and_without_ids(origin):
    import random

    rng = random.Random(11)
    rows = [LogRecord(origin + rng.randrange(40 * MIN), rng.choice(["/api/cron/a", "/api/cron/b"]),
                      rng.choice([200, 500, None]), request_id=rng.choice(["", "", f"q{rng.randrange(50)}"]))
            for _ in range(3000)]
    tally = ColumnTally(CAT, by_minute=True)
    tally.add_records(rows)
    expected = Counter((r.route, r.status, None, bool(r.request_id), r.ts_ms // MIN * MIN) for r in rows)
    assert Counter({(route, status, names, has_id, minute * MIN): n
                    for (route, status, names, has_id, minute), n in tally.kinds()}) == expected
    total, _ = tally.first_seen_minutes(lambda *_: True)
    assert total == len({r.request_id for r in rows if r.request_id})


def test_repeated_ids_do_not_grow_the_store():
    once, again = ColumnTally(CAT), ColumnTally(CAT)
    once.add_records(_records(5000, 1))
    again.add_records(_records(5000, 1) * 4)
    assert abs(len(pickle.dumps(again)) - len(pickle.dumps(once))) < 1000
    assert again.distinct(lambda *_: True) == 5000


def test_counts_stay_exact_when_the_caches_are_cleared(monkeypatch):
    monkeypatch.setattr(counts, "CACHE_LIMIT", 7)
    records = [LogRecord(T0 + i, f"/api/cron/x?run={i}", 500, message=f"boom {i % 50}",
                         request_id=f"r{i % 400}") for i in range(3000)]
    got = attribute(records, CAT)
    monkeypatch.setattr(counts, "CACHE_LIMIT", 100_000)
    assert got == attribute(records, CAT)
    assert (got.rows, got.requests, [r.route for r in got.routes]) == (3000, 400, ["/api/cron/x"])


@pytest.mark.parametrize("fmt", ["drain-json", "drain-ndjson"])
def test_drain_shapes_stay_exact_and_bounded_when_their_cache_is_cleared(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(columns, "CACHE_LIMIT", 3)
    columns._DRAIN_SHAPES.clear()
    path = write_all(tmp_path, "base", BASE)[fmt]
    fast = attribute_files([path], CAT)
    assert len(columns._DRAIN_SHAPES) <= 3
    assert replace(fast, inputs=()) == attribute(read_records(path), CAT)


def test_a_bad_line_in_a_parallel_range_is_reported_with_its_line_number(tmp_path, parallel):
    path = write_all(tmp_path, "base", BASE)["runtime-logs"]
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[-3] = json.dumps({"requestPath": "/x", "timestampInMs": "soon"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"line {len(lines) - 2} .*timestampInMs"):
        attribute_files([path], CAT)


def test_an_empty_post_window_is_reported_from_the_parallel_finish(tmp_path, parallel):
    base = write_all(tmp_path, "base", BASE)["export"]
    post = tmp_path / "post.json"  # a Log Drain delivery with build logs only: no request rows
    post.write_text(json.dumps([{"id": "b", "source": "build", "timestamp": T0, "message": "Build started"}]),
                    encoding="utf-8")
    with pytest.raises(InputError, match=rf"{post}: the window holds no records"):
        compare(base, post, catalogue=CAT, route=ROUTE, names=(str(base), str(post)))
