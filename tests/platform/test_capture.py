import hashlib
import json

import httpx
import pytest
import respx

from reversal.errors import InputError
from reversal.logs.readers import read_records
from reversal.platform.capture import RequestLogsRefused, capture, capture_window, meta_path_for
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


# -- a capture you can switch: api | export | drain ---------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_refused_request_logs_stop_with_the_exact_alternatives(fake, tmp_path, status):
    fake.router.routes["request_logs"].side_effect = None
    fake.router.routes["request_logs"].return_value = httpx.Response(
        status, json={"error": {"code": "forbidden" if status < 404 else "not_found", "message": "no"}})
    out = tmp_path / "x.json"
    with pytest.raises(RequestLogsRefused) as info:
        capture(make_client(), source="api", since_ms=T0, until_ms=T0 + 60_000, environment="production",
                route=None, out=out, project_id=PROJECT)
    text = str(info.value)
    assert f"HTTP {status}" in text and "private" in text
    window = "--since 2026-02-18T03:00:00.000Z --until 2026-02-18T03:01:00.000Z"
    assert f"--source export --file FILE {window}" in text
    assert "--source drain --file FILE" in text and "reversal resume ITERATION --export FILE" in text
    assert info.value.exit_code == 1 and not out.exists()


def test_api_capture_keeps_duration_where_rows_have_it(fake, tmp_path):
    fake.log_rows = [{**request_row(i, ts_ms=T0 + i), "durationMs": 100 + i} for i in range(3)]
    fake.log_rows.append(request_row(3, ts_ms=T0 + 3))  # the CLI's typing has no duration
    out = tmp_path / "x.json"
    capture(make_client(), since_ms=T0, until_ms=T0 + 60_000, environment="production", route=None,
            out=out, project_id=PROJECT)
    assert [r["durationMs"] for r in json.loads(out.read_text())] == [100, 101, 102, ""]
    assert sorted(r.duration_ms or 0 for r in read_records(out)) == [0, 100, 101, 102]


def _drain_lines() -> str:
    entries = []
    for i in range(8):
        entries.append({"id": f"l{i}", "deploymentId": "dpl_live", "source": "lambda",
                        "host": "zrg-x.vercel.app",
                        "timestamp": T0 - 30_000 + i * 15_000, "projectId": PROJECT, "level": "error",
                        "message": "Task timed out after 60 seconds", "path": "/api/cron/response-timing",
                        "statusCode": -1, "requestId": f"r{i}",
                        "environment": "preview" if i == 6 else "production",
                        "proxy": {"path": "/api/cron/response-timing?x=1", "host": "zrg-dashboard.vercel.app",
                                  "method": "GET", "statusCode": 504}})
    return "".join(json.dumps(e) + "\n" for e in entries)


def test_drain_file_capture_keeps_the_window_and_environment(tmp_path):
    drain = tmp_path / "drain.ndjson"
    drain.write_text(_drain_lines())
    out = tmp_path / "w" / "baseline.json"
    meta = capture(None, source="drain", source_file=drain, since_ms=T0, until_ms=T0 + 60_000,
                   environment="production", route="/api/cron/response-timing", out=out, project_id=PROJECT,
                   clock=FakeClock(T0 + 120_000))
    stored = json.loads(meta_path_for(out).read_text())
    assert stored["source"] == "log-drain" and stored["input"] == "drain.ndjson"
    assert (meta.rows, meta.requests) == (4, 4)  # i = 2..6 in the window; i = 6 is preview
    assert meta.dropped["outside_window"] == 3 and meta.dropped["other_environment"] == 1
    records = list(read_records(out))  # the capture reads back as an export
    assert {(r.route, r.status, r.host) for r in records} == {
        ("/api/cron/response-timing", None, "zrg-dashboard.vercel.app")}
    assert hashlib.sha256(out.read_bytes()).hexdigest() == meta.sha256


def test_export_file_capture_and_bad_choices(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([
        {"timestampInMs": T0 + i, "requestPath": "zrg-dashboard.vercel.app/api/x", "responseStatusCode": 500,
         "requestId": f"r{i // 2}", "message": "m", "durationMs": 40 + i, "environment": "production"}
        for i in range(6)]))
    meta = capture(None, source="export", source_file=export, since_ms=T0, until_ms=T0 + 60_000,
                   environment="production", route=None, out=tmp_path / "o.json", project_id=PROJECT)
    assert (meta.rows, meta.requests, meta.source) == (6, 3, "dashboard-export")
    assert [r.duration_ms for r in read_records(tmp_path / "o.json")] == [40, 41, 42, 43, 44, 45]
    with pytest.raises(InputError, match="--source export reads a file"):
        capture(None, source="export", since_ms=T0, until_ms=T0 + 1, environment="production", route=None,
                out=tmp_path / "p.json", project_id=PROJECT)
    with pytest.raises(InputError, match="expected one of api, export, drain"):
        capture(None, source="s3", since_ms=T0, until_ms=T0 + 1, environment="production", route=None,
                out=tmp_path / "p.json", project_id=PROJECT)
