#!/usr/bin/env python3
"""Write a large dashboard-shaped log export for benchmarks by resampling the real one.

usage: python benchmarks/make_big_export.py ROWS OUT.json [--seed N]

Rows are drawn (deterministically) from tests/fixtures/zrg/exports/*18-12-24.json with fresh
timestamps (3 ms apart) and request ids, so the mix of routes, statuses and messages matches
real traffic. 500,000 rows is about 480 MB.
"""
import argparse
import json
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE.parent / "tests/fixtures/zrg/exports/zrg-dashboard-log-export-2026-02-17T18-12-24.json"


def rows(count: int, seed: int = 7):
    """The benchmark rows, deterministic for (count, seed); benchmarks/make_formats.py renders
    the same rows in the other formats."""
    rng = random.Random(seed)
    src = json.loads(SOURCE.read_text(encoding="utf-8"))
    t0 = 1771360000000
    for i in range(count):
        row = dict(rng.choice(src))
        row["timestampInMs"] = t0 + i * 3
        row["requestId"] = f"req{i:09d}"
        yield row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("[")
        for i, row in enumerate(rows(a.rows, a.seed)):
            if i:
                f.write(",")
            f.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
        f.write("]")


if __name__ == "__main__":
    main()
