#!/usr/bin/env python3
"""Benchmark `reversal signatures discover` against `reversal attribute` on the same export.

usage: .venv/bin/python benchmarks/bench_discover.py [EXPORT] [--rows N] [--repeat K]

Builds EXPORT (default /tmp/reversal-bench/export-500k.json) with benchmarks/make_big_export.py
when missing, runs both commands K times interleaved (best wall time counts: the machine may
be shared), samples the summed peak RSS of each process tree every 5 ms (the measure of
bench_attribute.py), checks that both agree on the uncatalogued failure rows of every route,
prints the ratio, and exits 1 when a goal is missed:
  discover <= 2 x attribute, peak RSS of discover's process tree < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_attribute import BIN, MB, ensure_export, measure


def _uncatalogued(out: str) -> dict[str, int]:
    return {r["route"]: r["uncatalogued_failure_rows"] for r in json.loads(out)["routes"]
            if r["uncatalogued_failure_rows"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", nargs="?", default="/tmp/reversal-bench/export-500k.json")
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    export = Path(a.export)
    ensure_export(export, a.rows)
    tools = {
        "attribute": [str(BIN / "reversal"), "attribute", "--format", "json", str(export)],
        "discover": [str(BIN / "reversal"), "signatures", "discover", "--format", "json", str(export)],
    }
    best: dict[str, tuple[float, int]] = {}
    outputs: dict[str, str] = {}
    for round_ in range(a.repeat):
        for name, argv in tools.items():
            wall, peak, out = measure(argv)
            print(f"  run {round_ + 1} {name:9s} {wall:6.2f} s  peak RSS {peak / MB:6.0f} MB", flush=True)
            outputs[name] = out
            old = best.get(name)
            best[name] = (min(wall, old[0]) if old else wall, max(peak, old[1]) if old else peak)
    agree = _uncatalogued(outputs["attribute"]) == _uncatalogued(outputs["discover"])
    templates = sum(len(r["templates"]) for r in json.loads(outputs["discover"])["routes"])
    ratio = best["discover"][0] / best["attribute"][0]
    print()
    print(f"discover mined {templates} templates; uncatalogued failure rows agree with attribute: {agree}")
    for name, (wall, peak) in best.items():
        print(f"{name:9s} best {wall:6.2f} s   peak RSS {peak / MB:6.0f} MB")
    print(f"discover/attribute = {ratio:.2f} (goal <= 2.00)")
    goals = [agree, ratio <= 2, best["discover"][1] < 200 * MB]
    print("all goals met" if all(goals) else "GOAL MISSED")
    return 0 if all(goals) else 1


if __name__ == "__main__":
    sys.exit(main())
