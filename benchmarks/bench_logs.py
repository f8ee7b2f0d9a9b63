#!/usr/bin/env python3
"""Benchmark `reversal attribute` on every log format and `reversal compare`, against DuckDB's
full equivalent query (and jq where jq can express it), plus the scaling curve, in one run.

usage: .venv/bin/python benchmarks/bench_logs.py [--dir DIR] [--rows N] [--repeat K]
           [--formats a,b] [--jq a,b] [--scale 50000,500000,2000000] [--no-compare]

Builds the inputs in DIR (default /tmp/reversal-bench) with benchmarks/make_formats.py when
missing: the same N requests in every format, a second export (seed 8) as the post window of
`compare`, and one export per scale point. Each tool runs K times back to back, interleaved
(best wall time counts: the machine may be shared); the scale points run once. DuckDB's query
is the full equivalent of what reversal computes: rows by path x status, distinct request ids
per group and duration percentiles (compare: both windows by path x status x minute with
distinct ids). jq (rows by path x status only) runs once per format named in --jq. All tools
must agree on the rows per route x status (and reversal's requests on DuckDB's distinct ids).
Peak RSS is summed over the whole process tree (parent + workers), sampled every 10 ms.

With --signatures (default: every format with a top-level message), DuckDB also runs the query
that does reversal's whole job: the same plus each catalogue signature's rows and distinct
requests by regex over every message, and its signature rows must agree with reversal's.

Goals (exit 1 when one is missed): every format and compare <= 0.7 x DuckDB, the export
<= 0.5 x DuckDB, peak RSS of reversal's process tree < 200 MB at 2M rows (< 300 MB at 10M).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MB = 1024 * 1024
FILES = {"export": "export.json", "cli-requests": "cli-requests.jsonl", "runtime-logs": "runtime-logs.jsonl",
         "drain-ndjson": "drain.ndjson", "drain-json": "drain.json", "request-logs": "request-logs.ndjson"}
COMPARE_ROUTE = "/api/webhooks/email"

_DURATION = ("quantile_disc(TRY_CAST({d} AS DOUBLE), [0.5, 0.95, 0.99]) "
             "FILTER (WHERE TRY_CAST({d} AS DOUBLE) > 0)")
SQL = {
    "export": "SELECT requestPath, CAST(responseStatusCode AS VARCHAR), count(*), count(DISTINCT requestId), "
              + _DURATION.format(d="durationMs") + " FROM read_json(?, format='array') GROUP BY ALL",
    "cli-requests": "SELECT requestPath, CAST(responseStatusCode AS VARCHAR), sum(greatest(len(logs), 1)), "
                    "count(DISTINCT id), " + _DURATION.format(d="durationMs")
                    + " FROM read_json(?, format='newline_delimited') GROUP BY ALL",
    "runtime-logs": "SELECT requestPath, CAST(responseStatusCode AS VARCHAR), count(*), 0, NULL "
                    "FROM read_json(?, format='newline_delimited') GROUP BY ALL",
    "drain-ndjson": "SELECT coalesce(proxy.path, path), CAST(statusCode AS VARCHAR), count(*), "
                    "count(DISTINCT requestId), NULL FROM read_json(?, format='newline_delimited')"
                    " GROUP BY ALL",
    "drain-json": "SELECT coalesce(proxy.path, path), CAST(statusCode AS VARCHAR), count(*), "
                  "count(DISTINCT requestId), NULL FROM read_json(?, format='array') GROUP BY ALL",
    "request-logs": "SELECT r.requestPath, CAST(r.statusCode AS VARCHAR), sum(greatest(len(r.logs), 1)), "
                    "count(DISTINCT r.requestId), " + _DURATION.format(d="r.durationMs")
                    + " FROM (SELECT unnest(rows) AS r FROM read_json(?, format='newline_delimited'))"
                    " GROUP BY ALL",
}
SIGNATURE_SOURCES = {  # formats with a top-level message: (path, status, id, message, read_json format)
    "export": ("requestPath", "responseStatusCode", "requestId", "message", "array"),
    "runtime-logs": ("requestPath", "responseStatusCode", None, "message", "newline_delimited"),
    "drain-ndjson": ("coalesce(proxy.path, path)", "statusCode", "requestId", "message", "newline_delimited"),
    "drain-json": ("coalesce(proxy.path, path)", "statusCode", "requestId", "message", "array"),
}


def signature_sql(fmt: str) -> str:
    """The full equivalent plus what reversal also does: each catalogue signature's rows and
    distinct requests per path x status (RE2 regexes; the built-in catalogue is RE2-safe)."""
    from reversal.logs.signatures import BUILTIN

    path, status, rid, message, layout = SIGNATURE_SOURCES[fmt]
    ids = f"count(DISTINCT {rid})" if rid else "0"
    matches = [f"regexp_matches({message}, '{regex.replace(chr(39), chr(39) * 2)}')"
               for regex in BUILTIN.values()]
    per_signature = ", ".join(f"count(*) FILTER (WHERE {m}), "
                              + (f"count(DISTINCT {rid}) FILTER (WHERE {m})" if rid else "0")
                              for m in matches)
    duration = _DURATION.format(d="durationMs") if fmt == "export" else "NULL"
    return (f"SELECT {path}, CAST({status} AS VARCHAR), count(*), {ids}, {duration}, {per_signature} "
            f"FROM read_json(?, format='{layout}') GROUP BY ALL")


COMPARE_SQL = ("SELECT requestPath, CAST(responseStatusCode AS VARCHAR), timestampInMs // 60000, count(*), "
               "count(DISTINCT requestId) FROM read_json(?, format='array') GROUP BY ALL")
DUCKDB = """
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
print(json.dumps([con.execute(sys.argv[1], [path]).fetchall() for path in sys.argv[2:]], default=str))
"""
JQ = {
    "export": r""".[] | "\(.requestPath)\u001f\(.responseStatusCode)" """,
    "cli-requests": r""" "\(.requestPath)\u001f\(.responseStatusCode)" """,
    "runtime-logs": r""" "\(.requestPath)\u001f\(.responseStatusCode)" """,
    "drain-ndjson": r""" "\(.proxy.path // .path)\u001f\(.statusCode)" """,
    "drain-json": r""".[] | "\(.proxy.path // .path)\u001f\(.statusCode)" """,
    "request-logs": r""".rows[] | "\(.requestPath)\u001f\(.statusCode)" """,
}


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in task.read_text().split()]
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> int:
    """Summed resident memory of ``root`` and its descendants, in bytes."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss(pid)
        todo += _children(pid)
    return total


def measure(argv: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """(wall seconds, peak summed RSS of the process tree in bytes, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in ok:
        sys.exit(f"{argv[:3]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, peak[0], out.decode()


def ensure(directory: Path, rows: int, formats: list[str], seed: int = 7) -> None:
    missing = [f for f in formats if not (directory / FILES[f]).exists()]
    if missing:
        print(f"building {rows} rows as {', '.join(missing)} in {directory} ...", flush=True)
        script = str(REPO / "benchmarks" / "make_formats.py")
        subprocess.run([sys.executable, script, str(rows), str(directory), "--seed", str(seed),
                        "--formats", ",".join(missing)], check=True)


def ensure_export(export: Path, rows: int) -> None:
    """Build a benchmark export (bench_discover.py) unless it exists."""
    if not export.exists():
        export.parent.mkdir(parents=True, exist_ok=True)
        script = str(REPO / "benchmarks" / "make_big_export.py")
        subprocess.run([sys.executable, script, str(rows), str(export)], check=True)


def _key(path: str, status: object, fmt: str) -> tuple[str, str]:
    from reversal.logs.model import normalize_path

    status = "" if status is None else str(status).strip('"')
    if fmt == "runtime-logs" and status == "-1":
        return normalize_path(path)[1], "no_response"
    return normalize_path(path)[1], "blank" if status in ("", "0", "-1", "null") else status


def counts_reversal(out: str) -> tuple[Counter, int, Counter]:
    """(rows by route x status, distinct requests, rows by route x signature)."""
    data = json.loads(out)
    rows = Counter({(r["route"], s): n for r in data["routes"] for s, n in r["statuses"].items()})
    signatures = Counter({(r["route"], name): sig["rows"] for r in data["routes"]
                          for name, sig in r["signatures"].items() if sig["rows"]})
    return rows, data["requests"], signatures


def counts_duckdb_signatures(out: str, fmt: str) -> tuple[Counter, int, Counter]:
    from reversal.logs.signatures import BUILTIN

    rows, ids, signatures = Counter(), 0, Counter()
    for path, status, n, distinct, _percentiles, *per_signature in json.loads(out)[0]:
        key = _key(path, status, fmt)
        rows[key] += int(n)
        ids += int(distinct)
        for name, matched in zip(BUILTIN, per_signature[::2], strict=True):
            if matched:
                signatures[key[0], name] += int(matched)
    return rows, ids, signatures


def counts_duckdb(out: str, fmt: str) -> tuple[Counter, int]:
    rows, ids = Counter(), 0
    for path, status, n, distinct, _percentiles in json.loads(out)[0]:
        rows[_key(path, status, fmt)] += int(n)
        ids += int(distinct)
    return rows, ids


def counts_jq(out: str, fmt: str) -> Counter:
    rows: Counter = Counter()
    for line in out.splitlines():
        n, _, key = line.strip().partition(" ")
        path, _, status = key.partition("\x1f")
        rows[_key(path, status, fmt)] += int(n)
    return rows


def compare_counts_reversal(out: str) -> Counter:
    doc = json.loads(out)
    return Counter({(w, d["route"], d["key"].removeprefix("status:")): d[w]["rows"]
                    for d in doc["deltas"] if d["key"].startswith("status:") for w in ("baseline", "post")
                    if d[w]["rows"]})


def compare_counts_duckdb(out: str) -> Counter:
    rows: Counter = Counter()
    for window, result in zip(("baseline", "post"), json.loads(out), strict=True):
        for path, status, _minute, n, _ids in result:
            rows[(window, *_key(path, status, "export"))] += int(n)
    return rows


def warm(paths: list[Path]) -> None:
    """Read the inputs once, so every tool starts with them in the page cache: otherwise the
    first tool of a single-run scale point pays for the disk (it doubled reversal's 2M time)."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(8 * MB):
                pass


class Bench:
    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.table: list[dict] = []

    def run(self, label: str, tools: dict[str, tuple[list[str], object]], inputs: list[Path], rows: int,
            repeat: int | None = None, once: tuple[str, ...] = ()) -> dict:
        best: dict[str, tuple[float, int]] = {}
        counts: dict[str, object] = {}
        for round_ in range(repeat or self.repeat):
            for name, (argv, parse) in tools.items():
                if name in once and round_:
                    continue
                warm(inputs)
                wall, peak, out = measure(argv, (0, 1, 3) if name == "reversal" else (0,))
                print(f"  {label:28s} run {round_ + 1} {name:8s} {wall:6.2f} s  {peak / MB:5.0f} MB",
                      flush=True)
                counts[name] = parse(out)
                old = best.get(name, (wall, peak))
                best[name] = (min(wall, old[0]), max(peak, old[1]))
        rows_by = [c[0] for c in counts.values()]
        ids = {c[1] for c in counts.values() if c[1] is not None}
        signatures = [c[2] for c in counts.values() if len(c) > 2 and c[2] is not None]
        entry = {"input": label, "rows": rows, "MB": sum(p.stat().st_size for p in inputs) / MB, "best": best,
                 "agree": all(r == rows_by[0] for r in rows_by) and len(ids) <= 1
                 and all(sig == signatures[0] for sig in signatures)}
        self.table.append(entry)
        return entry


def _tools(fmt: str, path: Path, jq: bool, signatures: bool = False) -> dict:
    """Each tool's command and parser; a parser gives (rows by route x status, distinct ids or
    None[, rows by route x signature])."""
    ids = fmt != "runtime-logs"  # runtime lines carry no request id
    with_signatures = signatures and fmt in SIGNATURE_SOURCES
    tools = {
        "reversal": ([str(BIN / "reversal"), "attribute", "--format", "json", str(path)],
                     lambda out: (lambda c: (c[0], c[1] if ids else None, c[2] if with_signatures else None))(
                         counts_reversal(out))),
        "duckdb": ([sys.executable, "-c", DUCKDB, SQL[fmt], str(path)],
                   lambda out: (lambda c: (c[0], c[1] if ids else None))(counts_duckdb(out, fmt))),
    }
    if with_signatures:
        tools["duckdb+sig"] = ([sys.executable, "-c", DUCKDB, signature_sql(fmt), str(path)],
                               lambda out: (lambda c: (c[0], c[1] if ids else None, c[2]))(
                                   counts_duckdb_signatures(out, fmt)))
    if jq:
        argv = ["sh", "-c", f"jq -r '{JQ[fmt]}' \"$0\" | LC_ALL=C sort | uniq -c", str(path)]
        tools["jq"] = (argv, lambda out: (counts_jq(out, fmt), None))
    return tools


def _compare_tools(base: Path, post: Path) -> dict:
    return {
        "reversal": ([str(BIN / "reversal"), "compare", str(base), str(post), "--route", COMPARE_ROUTE,
                      "--format", "json"], lambda out: (compare_counts_reversal(out), None)),
        "duckdb": ([sys.executable, "-c", DUCKDB, COMPARE_SQL, str(base), str(post)],
                   lambda out: (compare_counts_duckdb(out), None)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/reversal-bench"))
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--formats", default=",".join(FILES))
    ap.add_argument("--jq", default="export,cli-requests", help="formats jq also runs on (once)")
    ap.add_argument("--scale", default="50000,500000,2000000")
    ap.add_argument("--no-compare", action="store_true")
    ap.add_argument("--signatures", default="export,runtime-logs,drain-ndjson,drain-json",
                    help="formats DuckDB also runs with reversal's signature matching (regexes on messages)")
    a = ap.parse_args(argv)
    formats = [f for f in a.formats.split(",") if f]
    main_dir = a.dir / str(a.rows)
    ensure(main_dir, a.rows, formats)
    bench = Bench(a.repeat)

    for fmt in formats:
        path = main_dir / FILES[fmt]
        bench.run(fmt, _tools(fmt, path, fmt in a.jq.split(","), fmt in a.signatures.split(",")),
                  [path], a.rows, once=("jq",))
    if not a.no_compare:
        post_dir = a.dir / f"{a.rows}-post"
        ensure(post_dir, a.rows, ["export"], seed=8)
        base, post = main_dir / FILES["export"], post_dir / FILES["export"]
        bench.run("compare (2 exports)", _compare_tools(base, post), [base, post], 2 * a.rows)
    for n in [int(x) for x in a.scale.split(",") if x]:
        directory = a.dir / str(n)
        ensure(directory, n, ["export"])
        path = directory / FILES["export"]
        bench.run(f"scale export {n}", _tools("export", path, False), [path], n, repeat=1)
        bench.run(f"scale compare {n} (self)", _compare_tools(path, path), [path, path], 2 * n, repeat=1)
    return report(bench.table)


def report(table: list[dict]) -> int:
    """The table; the goals are the issue's (ratios to DuckDB's full equivalent query). The
    DuckDB+signatures column is DuckDB doing reversal's whole job (regexes on every message)."""
    print()
    print("| input | rows | MB | reversal s | reversal RSS MB | DuckDB s | DuckDB RSS MB | ratio | "
          "DuckDB+signatures s | ratio | jq s | reversal/jq | counts agree |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    goals = []
    for e in table:
        rev, duck = e["best"]["reversal"], e["best"]["duckdb"]
        jq, sig = e["best"].get("jq"), e["best"].get("duckdb+sig")
        ratio = rev[0] / duck[0]
        print(f"| {e['input']} | {e['rows']:,} | {e['MB']:.0f} | {rev[0]:.2f} | {rev[1] / MB:.0f} | "
              f"{duck[0]:.2f} | {duck[1] / MB:.0f} | **{ratio:.2f}** | {f'{sig[0]:.2f}' if sig else '-'} | "
              f"{f'{rev[0] / sig[0]:.2f}' if sig else '-'} | {f'{jq[0]:.2f}' if jq else '-'} | "
              f"{f'{rev[0] / jq[0]:.3f}' if jq else '-'} | {e['agree']} |")
        goals.append(e["agree"])
        if not e["input"].startswith("scale"):
            goals.append(ratio <= (0.5 if e["input"] == "export" else 0.7))
        elif e["rows"] >= 2_000_000:
            goals.append(rev[1] < (300 if e["rows"] >= 10_000_000 else 200) * MB)
    print("all goals met" if all(goals) else "GOAL MISSED")
    return 0 if all(goals) else 1


if __name__ == "__main__":
    sys.exit(main())
