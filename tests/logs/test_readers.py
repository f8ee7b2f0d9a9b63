import json
from pathlib import Path

import pytest

from reversal.errors import InputError
from reversal.logs import readers
from reversal.logs.model import NO_RESPONSE
from reversal.logs.readers import detect_format, export_batches, read_records
from tests.zrg import FIXTURES

EXPORT = FIXTURES / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
CLI_LOGS = sorted((FIXTURES / "cli-logs").glob("*.jsonl"))


def _row(i: int, **extra) -> dict:
    return {"requestPath": f"app.example.com/api/webhooks/email?x={i}", "timestampInMs": 1000 + i,
            "responseStatusCode": 500 if i % 3 else "", "requestId": f"r{i // 2}",
            "message": f"line {i}", "durationMs": i if i % 2 else "", **extra}


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_formats_are_detected_from_content():
    assert detect_format(EXPORT) == "export"
    assert {detect_format(p) for p in CLI_LOGS} == {"runtime-logs"}


def test_export_records_match_a_plain_json_reading():
    raw = json.loads(EXPORT.read_text(encoding="utf-8"))
    records = list(read_records(EXPORT))
    assert len(records) == len(raw) == 2893
    for rec, row in zip(records, raw, strict=True):
        assert rec.route == "/" + row["requestPath"].split("?")[0].partition("/")[2]
        assert rec.status == (None if row["responseStatusCode"] == "" else row["responseStatusCode"])
        assert rec.request_id == row["requestId"]
        assert rec.ts_ms == row["timestampInMs"]
        assert rec.duration_ms == (None if row["durationMs"] == "" else float(row["durationMs"]))
        assert rec.host == row["host"]
        assert rec.source == row["type"]


def test_chunk_cuts_survive_boundaries_inside_strings(tmp_path):
    rows = [_row(i, message='tricky },{ "requestPath": } , { inside' * (i % 4)) for i in range(400)]
    path = _write(tmp_path, "e.json", json.dumps(rows, indent=1))
    records = list(read_records(path, chunk_bytes=2048))
    assert [r.message for r in records] == [r["message"] for r in rows]
    assert [r.route for r in records] == ["/api/webhooks/email"] * 400
    assert [r.status for r in records][:3] == [None, 500, 500]


def test_ndjson_skips_cli_chatter_and_keeps_no_response():
    path = FIXTURES / "cli-logs" / "auth-check-response-timing-logs-2026-02-18T03-25-25Z.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = [json.loads(line) for line in lines if line.startswith("{")]
    records = list(read_records(path))
    assert len(records) == len(expected) > 0
    assert {r.status for r in records} == {NO_RESPONSE}
    assert records[0].route == "/api/webhooks/email"
    assert records[0].host == "zrg-dashboard.vercel.app"
    assert [r.source for r in records] == [e["source"] for e in expected]


def test_every_cli_log_is_read():
    for path in CLI_LOGS:
        expected = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("{"))
        assert len(list(read_records(path))) == expected, path.name


def _page(n: int, more: bool) -> dict:
    return {"rows": [{"requestId": f"q{n}-{i}", "timestamp": "2026-02-18T03:16:31.000Z",
                      "requestPath": "/api/cron/response-timing", "domain": "app.example.com",
                      "statusCode": 504 if i else 0, "requestMethod": "GET",
                      "events": [{"source": "serverless"}],
                      "logs": [{"level": "error", "message": "Task timed out after 60 seconds"},
                               {"level": "info", "message": "x"}]} for i in range(2)],
            "hasMoreRows": more}


def test_request_logs_pages_one_per_line_and_pretty_printed(tmp_path):
    ndjson = _write(tmp_path, "pages.ndjson", json.dumps(_page(1, True)) + "\n" + json.dumps(_page(2, False)))
    pretty = _write(tmp_path, "page.json", json.dumps(_page(1, False), indent=2))
    assert detect_format(ndjson) == detect_format(pretty) == "request-logs"
    records = list(read_records(ndjson))
    assert len(records) == 8  # 2 pages x 2 requests x 2 log lines
    assert {r.route for r in records} == {"/api/cron/response-timing"}
    assert [r.status for r in records[:4]] == [None, None, 504, 504]  # statusCode 0 = no status
    assert records[0].ts_ms == 1771384591000
    assert len(list(read_records(pretty))) == 4


def test_export_range_reads_only_its_rows(tmp_path):
    rows = [_row(i) for i in range(300)]
    path = _write(tmp_path, "e.json", json.dumps(rows, separators=(",", ":")))
    split = readers.split_point(path, path.stat().st_size // 2)
    first = [r for b in export_batches(path, stop=split, chunk_bytes=4096) for r in b]
    second = [r for b in export_batches(path, start=split, chunk_bytes=4096) for r in b]
    assert [r.timestamp_in_ms for r in first + second] == [r["timestampInMs"] for r in rows]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"e\.log: the file is empty"),
        (b"  \n", r"the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", r"binary data \(NUL byte at byte offset 8\)"),
        (b"\xff\xfe[{", r"not UTF-8 text \(invalid byte at byte offset 0\)"),
        (b"TimeUTC,timestampInMs,requestPath\n2026,1,/x\n", r"looks like CSV"),
        (b"42\n", r"line 1 starts with '42', which is not a JSON array or object"),
        (b'"just a string"', r"not a JSON array or object"),
        (b'[{"requestPath":"/a","timestampInMs":1},{"requestPath":"/b",',
         r"truncated JSON at byte offset 60: the file ends before the closing '\]'"),
        (b'[{"requestPath":"/a","timestampInMs":1} {"requestPath":"/b"}]',
         r"malformed JSON at byte offset 40 \(JSON is malformed: expected ',' or '\]'\)"),
        (b'[{"requestPath":"/a","timestampInMs":1},{"timestampInMs":2}]',
         r"row 2 of the array: Object missing required field `requestPath`"),
        (b'[{"requestPath":"/a"}]', r"row 1 of the array: Object missing required field `timestampInMs`"),
        (b'[{"requestPath":"/a","timestampInMs":"soon"}]',
         r"row 1 of the array: field 'timestampInMs' must be an integer epoch-milliseconds timestamp"),
        (b'[{"requestPath":"/a","timestampInMs":1,"responseStatusCode":"err"}]',
         r"field 'responseStatusCode' must be an integer status or \"\" \(blank\)"),
        (b'[{"requestPath":"/a","timestampInMs":1}, 7]', r"row 2 of the array: expected a JSON object"),
        (b'Vercel CLI 50.1.5\n{"requestPath":"/a","timestampInMs":1}\n{"requestPath": "/b", oops}\n',
         r"line 3 \(byte offset 57\) starts with '\{' but is not valid JSON"),
        (b'{"requestPath":"/a","timestampInMs":1}\n{"requestPath":"/a","timestampInMs":1.5}\n',
         r"line 2 \(byte offset 39\): field 'timestampInMs' must be an integer"),
        (b'{"requestPath":"/a","level":"info"}\n', r"line 1 \(byte offset 0\): Object missing required "
                                               r"field `timestamp`; every row needs timestamp and "
                                               r"requestPath"),
        (b'{"timestampInMs":1,"level":"info"}\n', r"line 1 \(byte offset 0\): Object missing required "
                                                 r"field `requestPath`"),
        (b'{"type":"deployment_error","message":"Logs are unavailable because deployment dpl_1 never '
         b'reached READY and ended in ERROR."}\n',
         r"line 1 \(byte offset 0\): `vercel logs` reported a deployment error instead of logs: Logs are "
         r"unavailable because deployment dpl_1 never reached READY"),
        (b'[{"timestamp":"soon","path":"/a"}]',
         r"row 1 of the array: field 'timestamp' must be an integer epoch-milliseconds timestamp"),
        (b'{"timestamp":1,"path":"/a","statusCode":"x"}\n',
         r"line 1 \(byte offset 0\): field 'statusCode' must be an integer status"),
        (b'{"rows":[{"requestPath":"/a"}],"hasMoreRows":false}\n',
         r"line 1, row 1: request-logs row has no parseable 'timestamp'"),
    ],
)
def test_bad_input_names_file_position_and_expectation(tmp_path, content, expected):
    path = _write(tmp_path, "e.log", content)
    with pytest.raises(InputError, match=expected) as info:
        list(read_records(path))
    assert str(path) in str(info.value)


def test_huge_row_and_huge_line_are_refused(tmp_path):
    big = json.dumps([_row(0), _row(1, message="x" * 10000), _row(2)])
    with pytest.raises(InputError, match=r"no row boundary .* larger than the 4096-byte read buffer"):
        list(read_records(_write(tmp_path, "e.json", big), chunk_bytes=4096))
    line = json.dumps(_row(1, message="y" * 10000))
    with pytest.raises(InputError, match=r"line 2 \(byte offset 18\) is longer than 4096 bytes"):
        list(read_records(_write(tmp_path, "e.ndjson", "Vercel CLI 50.1.5\n" + line + "\n"), max_line=4096))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the log file"):
        detect_format(tmp_path / "nope.json")
