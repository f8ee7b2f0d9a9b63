import collections
import hashlib
import json
import logging
from pathlib import Path

import httpx
import pytest
import respx

from reversal.durations import parse_instant as parse_time
from reversal.errors import InputError
from reversal.logs.model import normalize_path
from tests.commands.helpers import run, vercel_env
from tests.platform.fakes import LOGS, TOKEN, FakeVercel, request_row

T0 = 1_771_383_600_000  # 2026-02-18T03:00:00Z
SINCE, UNTIL = "2026-02-18T03:00:00Z", "2026-02-18T03:30:00Z"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    vercel_env(monkeypatch, tmp_path)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = FakeVercel(router, page_size=5)
        fake.log_rows = _served()
        yield fake


def _served() -> list[dict]:
    rows = []
    for i in range(12):
        rows.append(request_row(i, ts_ms=T0 + i * 60_000, status=500 if i % 3 else 200,
                                messages=("Transaction already closed: expired transaction", "P2028")))
    for i in range(5):
        rows.append(request_row(100 + i, ts_ms=T0 + i * 90_000, path="/api/webhooks/email", status=None,
                                messages=("Task timed out after 60 seconds",)))
    for i in range(4):
        rows.append(request_row(200 + i, ts_ms=T0 + i * 30_000, path="/api/inbox/counts", status=200,
                                messages=()))
    return rows


def test_parse_time_forms():
    now = T0 + 3_600_000
    assert parse_time("now", now, "--until") == now
    assert parse_time("-30m", now, "--since") == now - 1_800_000
    assert parse_time("now-1h30m", now, "--since") == now - 5_400_000
    assert parse_time("2026-02-18T03:00:00Z", now, "--since") == T0
    assert parse_time("2026-02-18T03:00:00", now, "--since") == T0  # no offset: UTC
    with pytest.raises(InputError, match="--since 'yesterday'"):
        parse_time("yesterday", now, "--since")


def test_capture_command_summary_and_files(fake, tmp_path, capsys):
    code, out, err = run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--out", "w/base.json")
    assert code == 0, err
    export = tmp_path / "w" / "base.json"
    sha = hashlib.sha256(export.read_bytes()).hexdigest()
    assert "from 2026-02-18T03:00:00.000Z to 2026-02-18T03:30:00.000Z" in out
    assert sha in out and "21 requests" in out and "w/base.json" in out
    meta = json.loads((tmp_path / "w" / "base.meta.json").read_text())
    assert meta["sha256"] == sha and meta["requests"] == 21


def test_capture_json_and_default_path(fake, tmp_path, capsys):
    code, out, _ = run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--route",
                       "/api/webhooks/email", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["filters"]["route"] == "/api/webhooks/email" and doc["requests"] == 5
    name = "capture-api-webhooks-email-logs-2026-02-18T03-00-00Z.json"
    assert Path(doc["export"]) == tmp_path / "artifacts" / name


def test_bad_window_is_input_error(fake, capsys):
    code, out, err = run(capsys, "capture", "--since", UNTIL, "--until", SINCE)
    assert code == 2 and "must be earlier" in err and out == ""


def test_token_is_nowhere(fake, tmp_path, capsys, caplog, monkeypatch):
    """Capture (and fail) with a known token: no file, output, log line or message holds it."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CRON_SECRET", "cron-secret-value-1234")
    outputs = []
    outputs.append(run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--out", "a.json"))
    outputs.append(run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--json"))
    # the platform echoes the token in an error body; then it fails until the budget runs out
    fake.router.routes["request_logs"].side_effect = [
        httpx.Response(401, json={"error": {"code": "forbidden", "message": f"bad token {TOKEN}"}})]
    outputs.append(run(capsys, "capture", "--since", SINCE, "--until", UNTIL))
    fake.router.routes["request_logs"].side_effect = None
    fake.router.routes["request_logs"].return_value = httpx.Response(
        503, json={"error": {"code": "unavailable", "message": TOKEN}}, headers={"Retry-After": "0"})
    outputs.append(run(capsys, "capture", "--since", SINCE, "--until", UNTIL))
    assert [code for code, _, _ in outputs] == [0, 0, 1, 1]
    assert "VERCEL_TOKEN" in outputs[2][2] and "retry budget" in outputs[3][2]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 4
    for text in [*(o + e for _, o, e in outputs), caplog.text, *(p.read_text() for p in written)]:
        assert TOKEN not in text
        assert "cron-secret-value-1234" not in text
    assert any("request-logs" in r.getMessage() for r in caplog.records)  # httpx did log


def _route_status_counts(document) -> dict[tuple[str, str], int]:
    """(route, status) -> rows from `reversal attribute --format json` (`routes[].statuses`)."""
    return {(r["route"], status): n for r in document["routes"] for status, n in r["statuses"].items()}


def test_capture_then_attribute_gives_the_matrix_of_the_served_rows(fake, tmp_path, capsys):
    code, _, err = run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--out", "w.json")
    assert code == 0, err
    code, out, err = run(capsys, "attribute", "--format", "json", str(tmp_path / "w.json"))
    assert code == 0, err
    expected: collections.Counter = collections.Counter()
    for row in fake.log_rows:  # one export row per log line, at least one per request
        route = normalize_path(row["requestPath"])[1]
        status = "blank" if row["statusCode"] is None else str(row["statusCode"])
        expected[(route, status)] += max(1, len(row["logs"]))
    assert _route_status_counts(json.loads(out)) == dict(expected)
    assert LOGS  # served through the overridable logs base URL


def test_capture_from_a_drain_file_needs_no_api_and_api_refuses_a_file(fake, tmp_path, capsys):
    drain = tmp_path / "drain.ndjson"
    drain.write_text("".join(json.dumps({
        "timestamp": T0 + i * 1000, "path": "/api/webhooks/email", "statusCode": 500, "requestId": f"r{i}",
        "message": "boom", "source": "lambda", "host": "zrg.vercel.app"}) + "\n" for i in range(5)))
    code, out, err = run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--source", "drain",
                         "--file", str(drain), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["source"], doc["rows"], doc["requests"], doc["input"]) == ("log-drain", 5, 5, "drain.ndjson")
    assert not any(r.url.path.endswith("request-logs") for r in fake.requests)
    code, _, err = run(capsys, "capture", "--since", SINCE, "--until", UNTIL, "--file", str(drain))
    assert code == 2 and "--file is read with --source export or --source drain" in err
