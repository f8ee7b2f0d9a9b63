import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from reversal.logs import attribution
from reversal.logs.attribution import attribute, attribute_files, eligibility, nearest_rank
from reversal.logs.model import NO_RESPONSE, LogRecord
from reversal.logs.readers import read_records
from reversal.logs.signatures import build_catalogue
from tests.zrg import FIXTURES

EXPORT = FIXTURES / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
CLI_LOGS = sorted((FIXTURES / "cli-logs").glob("*.jsonl"))
CATALOGUE = build_catalogue()


def test_eligibility_rules():
    assert eligibility("/api/webhooks/email") == "offload"
    assert eligibility("/api/cron/emailbison/availability-slot") == "offload"
    assert eligibility("/api/inbox/conversations") == "keep-sync"
    assert eligibility("/api/inngest") == "not-eligible"
    assert eligibility("/api/webhooksx") == "not-eligible"


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert nearest_rank(values, 50) == 50
    assert nearest_rank(values, 95) == 95
    assert nearest_rank([7.0], 99) == 7.0
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    assert nearest_rank([], 50) is None


def test_small_stream_counts_rows_requests_statuses_and_signatures():
    records = [
        LogRecord(ts_ms=5, route="/api/cron/a", status=None, request_id="r1",
                  message="Task timed out after 60 seconds", duration_ms=60000),
        LogRecord(ts_ms=3, route="/api/cron/a", status=504, request_id="r1", duration_ms=0),
        LogRecord(ts_ms=9, route="/api/cron/a", status=500, request_id="r2",
                  message="P2028 expired transaction", duration_ms=10),
        LogRecord(ts_ms=7, route="/api/cron/a", status=NO_RESPONSE,
                  message="Task timed out after 60 seconds"),
        LogRecord(ts_ms=8, route="/x", status=200, request_id="r3"),
    ]
    m = attribute(records, CATALOGUE)
    a = m.route("/api/cron/a")
    assert (m.rows, m.requests, m.first_ts_ms, m.last_ts_ms) == (5, 3, 3, 9)
    assert a.statuses == {"500": 1, "504": 1, "blank": 1, "no_response": 1}
    assert (a.rows, a.requests, a.rows_without_request_id, a.failing_rows) == (4, 2, 1, 3)
    assert a.signatures["timeout_60s"] == {"rows": 2, "requests": 1}
    assert a.signatures["p2028"] == {"rows": 1, "requests": 1}
    assert a.signatures["expired_transaction"] == {"rows": 1, "requests": 1}
    assert a.signature_rows == 3
    assert a.durations == {"count": 2, "p50": 10, "p95": 60000, "p99": 60000}
    assert [r.route for r in m.ranking()] == ["/api/cron/a"]


def _direct_counts(path: Path) -> dict:
    """Route x status rows and the known-answer signatures, counted with plain json + re."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    by_status: Counter = Counter()
    signature_rows: Counter = Counter()
    requests: dict[str, set] = {}
    patterns = {"timeout_300s": "Task timed out after 300 seconds",
                "timeout_60s": "Task timed out after 60 seconds",
                "p2028": "P2028|expired transaction|Unable to start a transaction"}
    for row in rows:
        path_only = row["requestPath"].split("?")[0]
        route = path_only if path_only.startswith("/") else "/" + path_only.partition("/")[2]
        status = "blank" if row["responseStatusCode"] == "" else str(row["responseStatusCode"])
        by_status[(route, status)] += 1
        requests.setdefault(route, set()).add(row["requestId"])
        for name, regex in patterns.items():
            if re.search(regex, row["message"] or ""):
                signature_rows[(route, name)] += 1
    return {"by_status": by_status, "signature_rows": signature_rows, "requests": requests, "rows": len(rows)}


def test_export_matrix_matches_direct_count_and_known_answers():
    expected = _direct_counts(EXPORT)
    m = attribute_files([EXPORT], CATALOGUE).to_json()
    got = Counter({(r["route"], s): n for r in m["routes"] for s, n in r["statuses"].items()})
    assert got == expected["by_status"]
    assert m["rows"] == expected["rows"] == 2893
    for r in m["routes"]:
        assert r["requests"] == len(expected["requests"][r["route"]])
        for name in ("timeout_300s", "timeout_60s", "p2028"):
            got_rows = r["signatures"].get(name, {"rows": 0})["rows"]
            assert got_rows == expected["signature_rows"][(r["route"], name)]
    known = {  # fixtures/zrg/README.md, the team's table (rows)
        ("/api/inbox/conversations", "timeout_300s"): 254,
        ("/api/webhooks/email", "timeout_60s"): 198,
        ("/api/cron/response-timing", "p2028"): 110,
        ("/api/inbox/counts", "timeout_300s"): 2,
        ("/api/cron/emailbison/availability-slot", "timeout_60s"): 2,
        ("/api/cron/availability", "timeout_60s"): 1,
    }
    routes = {r["route"]: r for r in m["routes"]}
    for (route, name), rows in known.items():
        assert routes[route]["signatures"][name]["rows"] == rows, (route, name)
    assert m["span"]["first_ts_ms"] == min(r["timestampInMs"] for r in json.loads(EXPORT.read_text()))
    assert m["ranking"][0]["route"] == "/api/inbox/conversations"


def test_fast_path_and_record_path_agree():
    fast = attribute_files([EXPORT, *CLI_LOGS], CATALOGUE)
    slow = attribute((rec for p in [EXPORT, *CLI_LOGS] for rec in read_records(p)), CATALOGUE)
    assert replace(fast, inputs=()) == slow


def test_every_cli_log_is_attributed():
    for path in CLI_LOGS:
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
        m = attribute_files([path], CATALOGUE)
        assert m.rows == len(lines), path.name
        assert {r.route for r in m.routes} == {x["requestPath"] for x in lines}
        assert all(set(r.statuses) == {"no_response"} for r in m.routes)


def test_inputs_are_aggregated():
    one = attribute_files([CLI_LOGS[0]], CATALOGUE)
    both = attribute_files([CLI_LOGS[0], CLI_LOGS[0]], CATALOGUE)
    assert both.rows == 2 * one.rows
    assert both.inputs == (str(CLI_LOGS[0]),) * 2


@pytest.mark.parametrize("tricky", [False, True])
def test_parallel_ranges_give_the_serial_matrix(tmp_path, monkeypatch, tricky):
    rows = json.loads(EXPORT.read_text(encoding="utf-8"))
    if tricky:  # a row boundary look-alike in every message: split candidates fall inside strings
        rows = [{**r, "message": (r["message"] or "") + ' },{ "x": 1 },{ '} for r in rows]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(rows * 3, separators=(",", ":")), encoding="utf-8")
    serial = attribute_files([path], CATALOGUE)
    monkeypatch.setattr(attribution, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(attribution.os, "cpu_count", lambda: 4)
    assert attribute_files([path], CATALOGUE) == serial
    assert serial.rows == 3 * 2893
