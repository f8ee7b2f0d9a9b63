#!/usr/bin/env python3
"""`reversal attribute` on the dashboard export only: bench_logs.py with ``--formats export``.

usage: .venv/bin/python benchmarks/bench_attribute.py [bench_logs.py options]

The full benchmark (every format, compare, the scaling curve) is benchmarks/bench_logs.py;
bench_discover.py reuses the helpers re-exported here.
"""

from __future__ import annotations

import sys

from bench_logs import BIN, MB, ensure_export, main, measure

__all__ = ["BIN", "MB", "ensure_export", "measure"]

if __name__ == "__main__":
    sys.exit(main(["--formats", "export", "--jq", "export", "--scale", "", "--no-compare", *sys.argv[1:]]))
