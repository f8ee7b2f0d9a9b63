#!/usr/bin/env python3
"""Benchmark `reversal attribute` against the team's jq pipeline and DuckDB, in one run.

usage: .venv/bin/python benchmarks/bench_attribute.py [EXPORT] [--rows N] [--repeat K]

Builds EXPORT (default /tmp/reversal-bench/export-500k.json) with benchmarks/make_big_export.py
when missing, runs each tool K times interleaved (best wall time counts: the machine may be
shared), checks that all three agree on the route x status row counts, prints the ratios and
peak memory, and exits 1 when a goal is missed:
  reversal <= DuckDB, reversal <= jq / 5, peak RSS of reversal's process tree < 200 MB,
  `reversal --help` and `reversal attribute --help` < 0.3 s.
Peak RSS is sampled over the whole process tree (parent + workers), summed, every 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAKE_BIG_EXPORT = REPO / "benchmarks" / "make_big_export.py"
BIN = Path(sys.executable).parent
JQ = r"""jq -r '.[] | "\(.requestPath)\u001f\(.responseStatusCode)"' "$0" | sort | uniq -c"""
DUCKDB = """
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.sql("SELECT requestPath, responseStatusCode, count(*) FROM read_json(?) GROUP BY ALL",
                  params=[sys.argv[1]]).fetchall()
print(json.dumps(rows))
"""
MB = 1024 * 1024


def _tree_rss(root: int) -> int:
    """Summed resident memory of ``root`` and its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(argv: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak summed RSS of the process tree in bytes, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, peak[0], out.decode()


def ensure_export(export: Path, rows: int) -> None:
    """Build the benchmark export with make_big_export.py unless it exists."""
    if not export.exists():
        export.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {export} ({rows} rows) ...", flush=True)
        subprocess.run([sys.executable, str(MAKE_BIG_EXPORT), str(rows), str(export)], check=True)
    print(f"export: {export} ({export.stat().st_size / MB:.0f} MB)")


def _route_status(request_path: str, status: str) -> tuple[str, str]:
    from reversal.logs.model import normalize_path

    status = status.strip('"')
    return normalize_path(request_path)[1], status or "blank"


def counts_reversal(out: str) -> Counter:
    data = json.loads(out)
    return Counter({(r["route"], s): n for r in data["routes"] for s, n in r["statuses"].items()})


def counts_jq(out: str) -> Counter:
    counts: Counter = Counter()
    for line in out.splitlines():
        n, _, key = line.strip().partition(" ")
        path, _, status = key.partition("\x1f")
        counts[_route_status(path, status)] += int(n)
    return counts


def counts_duckdb(out: str) -> Counter:
    counts: Counter = Counter()
    for path, status, n in json.loads(out):
        counts[_route_status(path, str(status))] += n
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", nargs="?", default="/tmp/reversal-bench/export-500k.json")
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    export = Path(a.export)
    ensure_export(export, a.rows)

    tools = {
        "reversal": ([str(BIN / "reversal"), "attribute", "--format", "json", str(export)], counts_reversal),
        "duckdb": ([sys.executable, "-c", DUCKDB, str(export)], counts_duckdb),
        "jq": (["sh", "-c", JQ, str(export)], counts_jq),
    }
    best: dict[str, tuple[float, int]] = {}
    counts: dict[str, Counter] = {}
    for round_ in range(a.repeat):
        for name, (argv, parse) in tools.items():
            if name == "jq" and round_:  # jq is 10x slower; one run is enough for the ratio
                continue
            wall, peak, out = measure(argv)
            print(f"  run {round_ + 1} {name:8s} {wall:6.2f} s  peak RSS {peak / MB:6.0f} MB", flush=True)
            counts[name] = parse(out)
            old = best.get(name)
            best[name] = (min(wall, old[0]) if old else wall, max(peak, old[1]) if old else peak)

    agree = counts["reversal"] == counts["duckdb"] == counts["jq"]
    rows = sum(counts["reversal"].values())
    helps = {" ".join(args): min(measure([str(BIN / "reversal"), *args])[0] for _ in range(3))
             for args in (["--help"], ["attribute", "--help"])}
    rev, duck, jq = best["reversal"][0], best["duckdb"][0], best["jq"][0]
    print()
    print(f"rows counted: {rows}; route x status counts agree across all three: {agree}")
    for name, (wall, peak) in best.items():
        print(f"{name:8s} best {wall:6.2f} s   peak RSS {peak / MB:6.0f} MB")
    print(f"reversal/duckdb = {rev / duck:.2f} (goal <= 1.00)")
    print(f"reversal/jq     = {rev / jq:.3f} (goal <= 0.20)")
    for args, wall in helps.items():
        print(f"reversal {args}: {wall:.3f} s (goal < 0.3)")
    goals = [agree, rev <= duck, rev <= jq / 5, best["reversal"][1] < 200 * MB,
             all(w < 0.3 for w in helps.values())]
    print("all goals met" if all(goals) else "GOAL MISSED")
    return 0 if all(goals) else 1


if __name__ == "__main__":
    sys.exit(main())
