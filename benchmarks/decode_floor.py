"""The floor under `reversal attribute`: what msgspec alone needs to read each format, one core.

For each input of `bench_logs.py` (built there, default /tmp/reversal-bench/500000): the best of
three single-process passes that (a) scan every line or row as `msgspec.Raw`, decoding no field,
and (b) decode them into the fast path's structs (`reversal/logs/columns.py`), counting nothing.
Also the start of a `reversal attribute` process: Python with the modules the command imports.
With those, the best time any Python tally on msgspec could reach is about
start + decode / processes; `docs/attribute.md` compares that with the goals of issue 15.

    .venv/bin/python benchmarks/decode_floor.py [--dir /tmp/reversal-bench/500000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from reversal.logs.columns import LINE_BLOCK_BYTES, AttributionRow, _CliRow, _DrainRow, _line_blocks
from reversal.logs.readers import export_batches

LINE_FILES = {"runtime-logs.jsonl": AttributionRow, "cli-requests.jsonl": _CliRow, "drain.ndjson": _DrainRow}
IMPORTS = ("import reversal.cli, reversal.commands.attribute, reversal.logs.attribution, "
           "reversal.logs.counts, reversal.logs.columns")


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def decode_lines(path: Path, row_type: type) -> None:
    """The fast path's own reading (``columns._line_blocks``, 1 MB blocks) and one decode a block."""
    decoder = msgspec.json.Decoder(row_type)
    for block in _line_blocks(path, 0, None, LINE_BLOCK_BYTES):
        decoder.decode_lines(block)


def decode_export(path: Path, row_type: type) -> None:
    for _batch in export_batches(path, row_type):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/reversal-bench/500000"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print("| input | MB | raw scan s | fast-path structs s |")
    print("|---|---:|---:|---:|")
    for name, row_type in LINE_FILES.items():
        path = a.dir / name
        raw = best_of(a.runs, lambda path=path: decode_lines(path, msgspec.Raw))
        structs = best_of(a.runs, lambda path=path, row_type=row_type: decode_lines(path, row_type))
        print(f"| {name} | {path.stat().st_size / 2**20:.0f} | {raw:.2f} | {structs:.2f} |")
    export = a.dir / "export.json"
    raw = best_of(a.runs, lambda: decode_export(export, msgspec.Raw))
    structs = best_of(a.runs, lambda: decode_export(export, AttributionRow))
    print(f"| export.json | {export.stat().st_size / 2**20:.0f} | {raw:.2f} | {structs:.2f} |")
    start = best_of(a.runs, lambda: subprocess.run([sys.executable, "-c", IMPORTS], check=True))
    print(f"\nstart of a `reversal attribute` process (Python + its imports): {start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
