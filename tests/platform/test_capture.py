import hashlib
import json

import pytest
import respx

from reversal.platform.capture import capture_window, meta_path_for
from tests.platform.fakes import PROJECT, FakeClock, FakeVercel, make_client, request_row

T0 = 1_771_383_600_000  # 2026-02-18T03:00:00Z


@pytest.fixture
def fake():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVercel(router, page_size=4)


def _rows():
    rows = [request_row(i, ts_ms=T0 + i * 1000) for i in range(6)]
    rows += [request_row(10 + i, ts_ms=T0 + 10_000 + i, path="/api/inbox/conversations?x=1", status=200,
                         messages=(), deployment="dpl_other") for i in range(3)]
    rows.append(request_row(20, ts_ms=T0 + 20_000, messages=("a", "b", "c")))
    return rows


def test_capture_writes_dashboard_export_and_meta(fake, tmp_path):
    fake.log_rows = _rows()
    out = tmp_path / "w" / "baseline-logs.json"
    meta = capture_window(make_client(), since_ms=T0, until_ms=T0 + 60_000, environment="production",
                          route=None, out=out, project_id=PROJECT, clock=FakeClock(T0 + 120_000))
    exported = json.loads(out.read_text())
    # one export row per log line; requests without logs still give one row
    assert len(exported) == 6 + 3 + 3 == meta.rows
    assert meta.requests == 10
    assert {r["requestPath"] for r in exported} == {
        "zrg-dashboard.vercel.app/api/cron/response-timing",
        "zrg-dashboard.vercel.app/api/inbox/conversations?x=1"}  # the readers strip the query
    assert hashlib.sha256(out.read_bytes()).hexdigest() == meta.sha256
    stored = json.loads(meta_path_for(out).read_text())
    assert stored["window"] == {"since_ms": T0, "until_ms": T0 + 60_000, "since": "2026-02-18T03:00:00.000Z",
                                "until": "2026-02-18T03:01:00.000Z"}
    assert stored["filters"] == {"environment": "production", "route": None}
    assert stored["source"] == "vercel-request-logs-api" and stored["project_id"] == PROJECT
    assert stored["deployment_ids_seen"] == ["dpl_live", "dpl_other"]
    assert (stored["rows"], stored["requests"], stored["sha256"]) == (12, 10, meta.sha256)
    assert stored["captured_at"] == "2026-02-18T03:02:00.000Z"
    assert [int(r.url.params["page"]) for r in fake.requests] == [0, 1, 2]
    assert not list(out.parent.glob(".*.tmp"))


def test_route_filter_normalizes_host_and_query(fake, tmp_path):
    fake.log_rows = _rows()
    meta = capture_window(make_client(), since_ms=T0, until_ms=T0 + 60_000, environment="production",
                          route="zrg-dashboard.vercel.app/api/inbox/conversations?y=2",
                          out=tmp_path / "x.json", project_id=PROJECT)
    assert meta.route == "/api/inbox/conversations" and meta.requests == 3 and meta.rows == 3


def test_rows_outside_window_and_duplicates_are_dropped_and_counted(fake, tmp_path):
    rows = _rows()
    fake.log_rows = [*rows[:4], rows[3], request_row(99, ts_ms=T0 - 1), {"requestId": "no-ts"}]
    meta = capture_window(make_client(), since_ms=T0, until_ms=T0 + 60_000, environment="production",
                          route=None, out=tmp_path / "x.json", project_id=PROJECT)
    assert meta.requests == 4
    assert meta.dropped == {"no_timestamp": 1, "outside_window": 1, "duplicate_request": 1}


def test_failed_capture_leaves_no_file(fake, tmp_path):
    fake.log_rows = _rows()
    serve = fake.router.routes["request_logs"].side_effect

    def second_page_breaks(request):
        if request.url.params["page"] == "1":
            raise RuntimeError("boom")
        return serve(request)

    fake.router.routes["request_logs"].side_effect = second_page_breaks
    out = tmp_path / "x.json"
    with pytest.raises(RuntimeError, match="boom"):
        capture_window(make_client(), since_ms=T0, until_ms=T0 + 60_000, environment="production",
                       route=None, out=out, project_id=PROJECT)
    assert list(tmp_path.iterdir()) == []
