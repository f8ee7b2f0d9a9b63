#!/usr/bin/env python3
"""Wall time of one sandbox iteration with the sequential early stop against the full window.

usage: .venv/bin/python benchmarks/bench_early_stop.py [--repeat K] [--seed S]

Runs `reversal run --route response-timing --sandbox --yes` and the same with
`--no-early-stop`, K times each, interleaved, each in a fresh folder with the same traffic seed;
both must PASS. Prints every run's wall time and post-window length, the medians and their
ratio, and exits 1 when the ratio misses the goal (early stop <= 0.6 of the full window's run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REVERSAL = Path(sys.executable).with_name("reversal")
GOAL = 0.6


def one_run(early: bool, seed: int) -> tuple[float, float]:
    """(wall seconds, post window minutes) of one sandbox iteration, which must PASS."""
    with tempfile.TemporaryDirectory(prefix="bench-early-") as folder:
        argv = [str(REVERSAL), "run", "--route", "response-timing", "--sandbox", "--yes", "--json",
                "--sandbox-knob", f"seed={seed}", *([] if early else ["--no-early-stop"])]
        began = time.perf_counter()
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - began
        if done.returncode != 0:
            sys.exit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        state = json.loads((Path(summary["folder"]) / "state.json").read_text())
        window = state["facts"]["post"]["window"]
        return wall, (window["until_ms"] - window["since_ms"]) / 60_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    walls: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.repeat):
        for early in (True, False):
            wall, minutes = one_run(early, args.seed + i)
            walls[early].append(wall)
            print(f"{'early stop' if early else 'full window'}: {wall:6.1f} s, post window {minutes:g} min")
    early, full = statistics.median(walls[True]), statistics.median(walls[False])
    ratio = early / full
    print(f"\nmedian wall time: early stop {early:.1f} s, full window {full:.1f} s; ratio {ratio:.2f} "
          f"(goal <= {GOAL})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
