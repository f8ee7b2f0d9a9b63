"""`reversal durable check|inngest` in-process: exit codes, JSON documents, nothing secret printed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import respx
from click.testing import CliRunner

from reversal.cli import cli
from reversal.errors import InputError
from tests.platform.test_durable import MIN, NOW, Db, db  # noqa: F401  (ledger fixture, both engines)

KEY = "signkey-prod-feedfacefeedfacefeedfacefeedface"
PASSWORD = "pg-test-password"


def _invoke(tmp_path: Path, args: list[str], env: dict[str, str], factor: int = 100):
    base_env = {"REVERSAL_CLOCK": f"{NOW}@{time.time_ns() // 1_000_000}x{factor}", "NO_COLOR": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = CliRunner().invoke(cli, args, env={**base_env, **env}, standalone_mode=False)
    artifacts = {p.name: p.read_text() for p in tmp_path.glob("*.json")}
    return result, artifacts


def test_check_succeeded_run(db: Db, tmp_path):  # noqa: F811
    key = "cron:response-timing:2026-02-18T05:55"
    db.run(status="SUCCEEDED", dispatch_key=key, started_ms=NOW - 4 * MIN, finished_ms=NOW - 3 * MIN)
    result, artifacts = _invoke(
        tmp_path, ["durable", "check", "--route", "response-timing", "--dispatch-key", key, "--json",
                   "--out", "durable.json"], {"DATABASE_URL": db.dsn})
    assert result.exception is None, result.output
    assert result.return_value == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["run"]["outcome"] == "succeeded"
    assert doc["eventId"] == f"cron/response-timing.requested:{key}"
    assert doc["run"]["rowsByDispatch"][0]["status"] == "SUCCEEDED"
    assert doc["webhookEvent"]["pendingDue"] == 0
    assert json.loads(artifacts["durable.json"]) == doc
    for text in (result.stdout, result.stderr, *artifacts.values()):
        assert PASSWORD not in text


def test_check_failed_run_is_exit_1(db: Db, tmp_path):  # noqa: F811
    key = "cron:response-timing:2026-02-18T05:45"
    db.run(status="FAILED", dispatch_key=key, started_ms=NOW - 14 * MIN, last_error="Invalid signature")
    result, _ = _invoke(tmp_path, ["durable", "check", "--route", "response-timing", "--dispatch-key", key],
                        {"DATABASE_URL": db.dsn})
    assert result.return_value == 1
    assert f"run for {key} FAILED: Invalid signature" in result.stdout
    assert "warning: 1 FAILED run(s) in the last 24 h (1 with 'Invalid signature'" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_check_no_wait_is_exit_3_and_wait_times_out(db: Db, tmp_path):  # noqa: F811
    db.run(status="RUNNING", dispatch_key="k", started_ms=NOW)
    args = ["durable", "check", "--route", "response-timing", "--dispatch-key", "k"]
    result, _ = _invoke(tmp_path, [*args, "--no-wait", "--json"], {"DATABASE_URL": db.dsn})
    assert result.return_value == 3
    doc = json.loads(result.stdout)
    assert doc["waiting"] and doc["run"]["polls"] == 1 and doc["run"]["outcome"] == "timeout"
    assert "not terminal yet" in result.stderr
    # 20 simulated seconds at x100 take a fifth of a second
    result, _ = _invoke(tmp_path, [*args, "--timeout", "20s", "--poll", "5"], {"DATABASE_URL": db.dsn})
    assert result.return_value == 1
    assert "still RUNNING after" in result.stdout
    assert "waiting for k: running" in result.stderr


def test_missing_run_says_dispatch_is_not_execution(db: Db, tmp_path):  # noqa: F811
    result, _ = _invoke(tmp_path, ["durable", "check", "--route", "followups", "--dispatch-key", "x",
                                   "--timeout", "1ms"], {"DATABASE_URL": db.dsn})
    assert result.return_value == 1
    assert "no cron-followups row for x" in result.stdout and "not execution" in result.stdout


def test_queue_slice_reports_failed_due(db: Db, tmp_path):  # noqa: F811
    db.event(status="PENDING", run_at_ms=NOW - MIN)
    args = ["durable", "check", "--route", "webhooks-email", "--growth-interval", "1ms", "--json"]
    result, _ = _invoke(tmp_path, args, {"DATABASE_URL": db.dsn})
    doc = json.loads(result.stdout)
    assert result.return_value == 0, doc["problems"]
    assert doc["webhookEvent"]["pendingDue"] == 1 and doc["webhookEventGrowth"]["growing"] is False
    db.event(status="FAILED", run_at_ms=NOW - MIN)
    result, _ = _invoke(tmp_path, args, {"DATABASE_URL": db.dsn})
    assert result.return_value == 1
    assert json.loads(result.stdout)["problems"] == ["WebhookEvent has 1 FAILED rows due"]


def test_check_needs_database_url(tmp_path):
    result, _ = _invoke(tmp_path, ["durable", "check", "--route", "response-timing"], {"DATABASE_URL": ""})
    assert isinstance(result.exception, InputError)
    assert "DATABASE_URL is not set" in str(result.exception)


def test_inngest_command_counts_invalid_signature(tmp_path):
    event = {
        "id": "01A", "name": "inngest/function.failed", "ts": NOW - MIN,
        "data": {"function_id": "zrg-dashboard-cron-response-timing",
                 "error": {"message": "Invalid signature", "error": "invalid status code: 401"},
                 "event": {"name": "cron/response-timing.requested", "id": "e1"}},
    }
    with respx.mock(base_url="https://inngest.test") as mock:
        route = mock.get("/v1/events").respond(200, json={"data": [event]})
        result, artifacts = _invoke(
            tmp_path, ["durable", "inngest", "--since", "30m", "--json", "--out", "inngest.json"],
            {"INNGEST_SIGNING_KEY": KEY + "\n", "REVERSAL_INNGEST_API": "https://inngest.test"}, factor=1)
    assert result.exception is None, result.output
    assert result.return_value == 1
    assert route.calls[0].request.url.params["received_after"].startswith("2026-02-18T05:30:0")
    doc = json.loads(result.stdout)
    assert doc["invalidSignatureFailures"] == 1
    assert doc["groupedByFunctionAndEvent"] == {
        "zrg-dashboard-cron-response-timing <- cron/response-timing.requested": 1}
    assert doc["signingKey"] == {"key": "INNGEST_SIGNING_KEY", "present": True,
                                 "hasLeadingOrTrailingWhitespace": True, "length": len(KEY) + 1}
    for text in (result.stdout, result.stderr, *artifacts.values()):
        assert KEY not in text


def test_inngest_command_bad_since(tmp_path):
    args = ["durable", "inngest", "--since", "yesterday"]
    result, _ = _invoke(tmp_path, args, {"INNGEST_SIGNING_KEY": KEY})
    assert isinstance(result.exception, InputError) and "--since 'yesterday'" in str(result.exception)
