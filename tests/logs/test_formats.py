"""One set of requests rendered in every real Vercel log format gives the same counts.

Each renderer follows the format's source (``docs/platform-api.md`` §3): the dashboard export,
``vercel logs --json`` (CLI 58.x request records), ``vercel logs --follow --json`` runtime
lines, Log Drain JSON and NDJSON deliveries, and request-logs API pages. What a format cannot
carry (runtime lines: request ids and statuses) is asserted as absent, not equal.
"""

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from reversal.logs.attribution import attribute_files
from reversal.logs.compare import Span, compare
from reversal.logs.model import FORMAT_LIMITS, NO_RESPONSE
from reversal.logs.readers import detect_format, limits, read_records
from reversal.logs.signatures import build_catalogue

HOST = "zrg-dashboard.vercel.app"
T0 = 1_771_383_600_000  # 2026-02-18T03:00:00Z
MIN = 60_000
CAT = build_catalogue()
ROUTE = "/api/cron/response-timing"


@dataclass(frozen=True)
class Req:
    id: str
    ts: int
    path: str  # with a query string, to prove it is stripped everywhere
    status: int | None  # None: no response (timed out / crashed)
    lines: tuple[tuple[str, str], ...]  # (level, message)
    duration: float | None


def requests(seed: int, start: int, minutes: int, fail_rate: float) -> list[Req]:
    rng = random.Random(seed)
    out = []
    for i in range(minutes * 4):
        ts = start + i * 15_000 + rng.randrange(1000)
        roll = rng.random()
        if rng.random() < 0.5:
            path = ROUTE + "?run=" + str(i)
            if roll < fail_rate:
                status, lines = None, (("error", "Task timed out after 60 seconds"),)
            elif roll < fail_rate * 1.5:
                status = 500
                lines = (("error", "GET 500"), ("error", "Transaction API error: expired transaction"))
            else:
                status, lines = 200, (("info", "ok"),)
        else:
            path = "/api/inbox/counts"
            status, lines = (502, (("error", "upstream"),)) if roll < 0.1 else (200, ())
        out.append(Req(f"req-{seed}-{i}", ts, path, status, lines, float(rng.randrange(20, 900))))
    return out


# -- renderers, one per format ------------------------------------------------------------------


def _lines(r: Req) -> tuple[tuple[str, str], ...]:
    return r.lines or (("", ""),)


def export(reqs: list[Req]) -> str:
    rows = [{"TimeUTC": "", "timestampInMs": r.ts, "requestPath": HOST + r.path, "requestMethod": "GET",
             "responseStatusCode": "" if r.status is None else r.status, "requestId": r.id, "host": HOST,
             "deploymentId": "dpl_1", "level": level, "message": msg, "type": "function",
             "environment": "production", "durationMs": r.duration}
            for r in reqs for level, msg in _lines(r)]
    return json.dumps(rows, indent=1)


def cli_requests(reqs: list[Req]) -> str:
    """`vercel logs --json` (packages/cli/src/util/logs-v2.ts RequestLogEntry): one line per request."""
    lines = ["Vercel CLI 58.4.4"]
    for r in reqs:
        logs = [{"level": lvl, "message": m, "messageTruncated": False} for lvl, m in r.lines]
        lines.append(json.dumps({
            "id": r.id, "timestamp": r.ts, "deploymentId": "dpl_1", "projectId": "prj",
            "level": logs[0]["level"] if logs else "info", "message": logs[0]["message"] if logs else "",
            "source": "serverless", "domain": HOST, "requestMethod": "GET", "requestPath": r.path,
            "responseStatusCode": r.status or 0, "environment": "production", "logs": logs}))
    return "\n".join(lines) + "\n"


def runtime_lines(reqs: list[Req]) -> str:
    """`vercel logs --follow --json` (packages/cli/src/util/logs.ts RuntimeLog): one line per log line."""
    return "".join(json.dumps({
        "level": lvl or "info", "message": m, "rowId": f"{r.id}-{k}", "source": "serverless",
        "timestampInMs": r.ts, "domain": HOST, "messageTruncated": False, "requestMethod": "GET",
        "requestPath": r.path, "responseStatusCode": NO_RESPONSE}) + "\n"
        for r in reqs for k, (lvl, m) in enumerate(_lines(r)))


def _drain(reqs: list[Req]) -> list[dict]:
    """Log Drains reference: `path` is the function's path, `proxy.path` the requested one."""
    return [{"id": f"{r.id}-{k}", "deploymentId": "dpl_1", "source": "lambda", "host": "zrg-abc.vercel.app",
             "timestamp": r.ts, "projectId": "prj", "level": lvl or "info", "message": m,
             "path": r.path.split("?")[0], "statusCode": -1 if r.status is None else r.status,
             "requestId": r.id, "environment": "production", "type": "stdout",
             "proxy": {"timestamp": r.ts, "method": "GET", "host": HOST, "path": r.path,
                       "statusCode": 504 if r.status is None else r.status, "region": "iad1"}}
            for r in reqs for k, (lvl, m) in enumerate(_lines(r))]


def drain_json(reqs: list[Req]) -> str:
    build = {"id": "b", "deploymentId": "dpl_1", "source": "build", "host": "x", "timestamp": T0,
             "projectId": "prj", "level": "info", "message": "Build started", "buildId": "bld_1"}
    return json.dumps([build, *_drain(reqs)])


def drain_ndjson(reqs: list[Req]) -> str:
    return "".join(json.dumps(e) + "\n" for e in _drain(reqs))


def drain_deliveries(reqs: list[Req]) -> str:
    """Several JSON deliveries (POST bodies) appended, one array per line."""
    entries = _drain(reqs)
    return "".join(json.dumps(entries[i:i + 7]) + "\n" for i in range(0, len(entries), 7))


def request_log_pages(reqs: list[Req]) -> str:
    """`GET vercel.com/api/logs/request-logs` pages (packages/cli/src/util/logs-v2.ts ApiLogEntry)."""
    rows = [{"requestId": r.id, "timestamp": dt.datetime.fromtimestamp(r.ts / 1000, dt.UTC).isoformat(),
             "deploymentId": "dpl_1", "domain": HOST, "requestMethod": "GET", "requestPath": r.path,
             "statusCode": 0 if r.status is None else r.status, "environment": "production",
             "logs": [{"level": lvl, "message": m} for lvl, m in r.lines],
             "events": [{"source": "serverless"}],
             "durationMs": r.duration} for r in reqs]
    size = max(1, len(rows) // 4 + 1)
    pages = [rows[i:i + size] for i in range(0, len(rows), size)]
    assert len(pages) >= 3
    return "".join(json.dumps({"rows": p, "hasMoreRows": k < len(pages) - 1}) + "\n"
                   for k, p in enumerate(pages))


FORMATS = {
    "export": (export, ".json"),
    "cli-requests": (cli_requests, ".jsonl"),
    "runtime-logs": (runtime_lines, ".jsonl"),
    "drain-json": (drain_json, ".json"),
    "drain-ndjson": (drain_ndjson, ".ndjson"),
    "drain-deliveries": (drain_deliveries, ".ndjson"),
    "request-logs": (request_log_pages, ".ndjson"),
}


def write_all(tmp_path: Path, name: str, reqs: list[Req]) -> dict[str, Path]:
    out = {}
    for fmt, (render, ext) in FORMATS.items():
        path = tmp_path / f"{name}-{fmt}{ext}"
        path.write_text(render(reqs), encoding="utf-8")
        out[fmt] = path
    return out


BASE = requests(1, T0, 30, 0.5)
POST = requests(2, T0 + 60 * MIN, 30, 0.05)


def test_each_rendering_is_detected_as_its_format(tmp_path):
    files = write_all(tmp_path, "base", BASE)
    detected = {fmt: detect_format(path) for fmt, path in files.items()}
    assert detected == {**{f: f for f in FORMATS}, "drain-deliveries": "drain-ndjson"}


def _route_counts(matrix, carries_ids: bool, carries_status: bool) -> dict:
    out = {}
    for r in matrix.routes:
        entry = {"rows": r.rows, "signatures": r.signatures if carries_ids else
                 {k: v["rows"] for k, v in r.signatures.items()}}
        if carries_ids:
            entry["requests"] = r.requests
        if carries_status:
            entry["statuses"], entry["failing_rows"] = r.statuses, r.failing_rows
        out[r.route] = entry
    return out


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "export"])
def test_attribute_counts_match_the_export(tmp_path, fmt):
    files = write_all(tmp_path, "base", BASE)
    carries = fmt != "runtime-logs"
    expected = attribute_files([files["export"]], CAT)
    got = attribute_files([files[fmt]], CAT)
    assert got.rows == expected.rows
    assert _route_counts(got, carries, carries) == _route_counts(expected, carries, carries)
    if carries:
        assert got.requests == expected.requests == len(BASE)
        assert limits(files[fmt]) == ()
    else:  # what runtime lines cannot count is absent, and said so
        assert got.requests == 0 and all(r.rows_without_request_id == r.rows for r in got.routes)
        assert {r.status for r in read_records(files[fmt])} == {NO_RESPONSE}
        assert any("request id" in note for note in FORMAT_LIMITS[fmt]) and limits(files[fmt])


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "export"])
def test_compare_gives_the_same_verdict_and_numbers(tmp_path, fmt):
    base, post = write_all(tmp_path, "base", BASE), write_all(tmp_path, "post", POST)
    spans = (Span(T0, T0 + 30 * MIN, "t"), Span(T0 + 60 * MIN, T0 + 90 * MIN, "t"))
    # runtime lines have no status: only signatures can count failures there
    statuses = () if fmt == "runtime-logs" else (None, 500)
    kw = dict(catalogue=CAT, route=ROUTE, statuses=statuses,
              signatures=("timeout_60s", "expired_transaction"), baseline_span=spans[0], post_span=spans[1])
    want = compare(read_records(base["export"]), read_records(post["export"]), **kw)
    got = compare(read_records(base[fmt]), read_records(post[fmt]), **kw)
    assert got.verdict == want.verdict
    if fmt != "runtime-logs":
        assert got.unit == want.unit == "requests"
        assert got.to_json()["reasons"] == want.to_json()["reasons"]
    else:
        assert got.unit == "rows"
        assert (got.target_baseline.events, got.target_post.events) == (
            want.target_baseline.rows, want.target_post.rows)


def test_durations_are_kept_where_the_format_has_them(tmp_path):
    files = write_all(tmp_path, "base", BASE)
    want = sorted(r.duration for r in BASE for _ in _lines(r))
    for fmt in ("export", "request-logs"):
        assert sorted(r.duration_ms for r in read_records(files[fmt])) == want, fmt
