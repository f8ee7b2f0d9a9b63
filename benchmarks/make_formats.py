#!/usr/bin/env python3
"""Write the same requests in every Vercel log format, for benchmarks.

usage: python benchmarks/make_formats.py ROWS OUTDIR [--seed N] [--formats a,b,...]

The requests are the rows of benchmarks/make_big_export.py (same ROWS and seed: the export is
byte for byte the one it writes), one log line each, rendered as the readers' sources describe
each format (tests/logs/test_formats.py has the small version of each renderer):
  export.json         dashboard export (JSON array, host-prefixed paths, "" = blank status)
  cli-requests.jsonl  `vercel logs --json` (CLI 58.x): one request per line, 0 = no status
  runtime-logs.jsonl  `vercel logs --follow --json`: one log line per line, status -1, no ids
  drain.ndjson        Log Drain NDJSON (proxy.path, statusCode -1 = no response)
  drain.json          Log Drain JSON delivery (one array)
  request-logs.ndjson request-logs API pages (ISO timestamps), 1,000 rows per page per line
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from make_big_export import rows as export_rows

FILES = {"export": "export.json", "cli-requests": "cli-requests.jsonl", "runtime-logs": "runtime-logs.jsonl",
         "drain-ndjson": "drain.ndjson", "drain-json": "drain.json", "request-logs": "request-logs.ndjson"}
_DUMP = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _path(row: dict) -> str:
    """The path without the export's host prefix."""
    path = row["requestPath"]
    return path if path.startswith("/") else "/" + path.partition("/")[2]


def _status(row: dict) -> int:
    status = row["responseStatusCode"]
    return status if isinstance(status, int) else 0


def cli(row: dict) -> dict:
    out = {"id": row["requestId"], "timestamp": row["timestampInMs"], "deploymentId": row["deploymentId"],
           "level": row["level"], "message": row["message"], "source": "serverless", "domain": row["host"],
           "requestMethod": row["requestMethod"], "requestPath": _path(row),
           "responseStatusCode": _status(row), "environment": row["environment"],
           "logs": [{"level": row["level"], "message": row["message"], "messageTruncated": False}]}
    if isinstance(row["durationMs"], int | float):
        out["durationMs"] = row["durationMs"]
    return out


def runtime(row: dict) -> dict:
    return {"level": row["level"], "message": row["message"], "rowId": row["requestId"] + "-0",
            "source": "serverless", "timestampInMs": row["timestampInMs"], "domain": row["host"],
            "messageTruncated": False, "requestMethod": row["requestMethod"], "requestPath": _path(row),
            "responseStatusCode": -1}


def drain(row: dict) -> dict:
    status = _status(row) or -1
    return {"id": row["requestId"] + "-0", "deploymentId": row["deploymentId"], "source": "lambda",
            "host": "zrg-abc.vercel.app", "timestamp": row["timestampInMs"], "projectId": "prj",
            "level": row["level"], "message": row["message"], "path": _path(row), "statusCode": status,
            "requestId": row["requestId"], "environment": row["environment"], "type": "stdout",
            "proxy": {"timestamp": row["timestampInMs"], "method": row["requestMethod"], "host": row["host"],
                      "path": _path(row), "statusCode": 504 if status < 0 else status, "region": "iad1"}}


def request_log(row: dict) -> dict:
    out = {"requestId": row["requestId"], "timestamp": dt.datetime.fromtimestamp(
               row["timestampInMs"] / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
           "deploymentId": row["deploymentId"], "domain": row["host"], "requestMethod": row["requestMethod"],
           "requestPath": _path(row), "statusCode": _status(row), "environment": row["environment"],
           "logs": [{"level": row["level"], "message": row["message"]}], "events": [{"source": "serverless"}]}
    if isinstance(row["durationMs"], int | float):
        out["durationMs"] = row["durationMs"]
    return out


def _lines(render, rows: Iterator[dict]) -> Iterator[str]:
    for row in rows:
        yield _DUMP(render(row)) + "\n"


def _pages(rows: Iterator[dict], size: int = 1000) -> Iterator[str]:
    page: list[dict] = []
    for row in rows:
        page.append(request_log(row))
        if len(page) == size:
            yield _DUMP({"rows": page, "hasMoreRows": True}) + "\n"
            page = []
    yield _DUMP({"rows": page, "hasMoreRows": False}) + "\n"


def _array(render, rows: Iterator[dict]) -> Iterator[str]:
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + _DUMP(render(row))
    yield "]"


WRITERS = {
    "export": lambda rows: _array(lambda r: r, rows),
    "cli-requests": lambda rows: _lines(cli, rows),
    "runtime-logs": lambda rows: _lines(runtime, rows),
    "drain-ndjson": lambda rows: _lines(drain, rows),
    "drain-json": lambda rows: _array(drain, rows),
    "request-logs": _pages,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--formats", default=",".join(FILES))
    a = ap.parse_args()
    a.outdir.mkdir(parents=True, exist_ok=True)
    for fmt in a.formats.split(","):
        path = a.outdir / FILES[fmt]
        if path.exists():
            continue
        with open(path.with_suffix(".part"), "w", encoding="utf-8") as out:
            out.writelines(WRITERS[fmt](export_rows(a.rows, a.seed)))
        path.with_suffix(".part").rename(path)
        print(f"{path} ({path.stat().st_size / 2**20:.0f} MB)", flush=True)


if __name__ == "__main__":
    main()
