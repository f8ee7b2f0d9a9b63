"""The migration matrix: per route, rows by status, distinct requests, signatures, durations.

Pure aggregation. ``attribute`` takes any stream of ``LogRecord``; ``attribute_files`` is
the path the command uses: every format goes through the fast path (``columns``: batch
decoding into columns, parallel byte ranges; ``counts``: the tally), which gives the same
``Matrix`` as the records would.

Counting rules (documented in docs/readme-logs.md):
* a *row* is one log line; a *request* is one distinct non-empty ``request_id``;
* failing rows = rows with a 5xx status plus rows with a blank status;
* durations are taken from rows with ``duration_ms > 0``; percentiles are nearest-rank.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from reversal.logs.model import NO_RESPONSE, LogRecord
from reversal.logs.signatures import Catalogue

if TYPE_CHECKING:
    from reversal.logs.columns import Columns

SCHEMA = "reversal.attribute/1"
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
"""Exports at least this large are tallied by several processes."""
MAX_WORKERS = 4
RANGES_PER_WORKER = 2
RANGE_BYTES = 256 * 1024 * 1024
"""A file is cut into at least ``RANGES_PER_WORKER`` ranges per process and ranges of at most
about ``RANGE_BYTES``: each range's counts are sent back pickled, so small ranges keep that
transient copy small whatever the file size."""
_MATCH_CACHE_LIMIT = 100_000


def eligibility(route: str) -> str:
    """``offload`` for webhooks and crons, ``keep-sync`` for the inbox, else ``not-eligible``."""
    if route.startswith(("/api/webhooks/", "/api/cron/")):
        return "offload"
    if route.startswith("/api/inbox/"):
        return "keep-sync"
    return "not-eligible"


def is_failure(status: int | None, level: str | None) -> bool:
    """A failure row: 5xx or blank status, or an ``error`` level line (a 200 can still log one)."""
    return status is None or 500 <= status <= 599 or level == "error"


def status_key(status: int | None) -> str:
    """JSON/table key of a status bucket: ``"500"``, ``"blank"`` or ``"no_response"``."""
    if status is None:
        return "blank"
    if status == NO_RESPONSE:
        return "no_response"
    return str(status)


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``percent``% of values ≤ it."""
    if not sorted_values:
        return None
    rank = max(math.ceil(percent / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class RouteStats:
    route: str
    eligibility: str
    rows: int
    statuses: dict[str, int]
    requests: int
    rows_without_request_id: int
    failing_rows: int
    signature_rows: int
    uncatalogued_failure_rows: int  # failure rows (5xx, blank or error level) with a message, no signature
    signatures: dict[str, dict[str, int]]  # name -> {"rows": n, "requests": n}
    durations: dict[str, Any]  # {"count", "p50", "p95", "p99"} in ms

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "eligibility": self.eligibility,
            "rows": self.rows,
            "requests": self.requests,
            "rows_without_request_id": self.rows_without_request_id,
            "statuses": self.statuses,
            "failing_rows": self.failing_rows,
            "signature_rows": self.signature_rows,
            "uncatalogued_failure_rows": self.uncatalogued_failure_rows,
            "signatures": self.signatures,
            "duration_ms": self.durations,
        }


@dataclass(frozen=True)
class Matrix:
    inputs: tuple[str, ...]
    rows: int
    requests: int
    first_ts_ms: int | None
    last_ts_ms: int | None
    signature_names: tuple[str, ...]
    routes: tuple[RouteStats, ...]  # sorted by route

    def route(self, name: str) -> RouteStats | None:
        return next((r for r in self.routes if r.route == name), None)

    def ranking(self) -> list[RouteStats]:
        """Failing routes, worst first: failing rows (5xx + blank), then signature rows."""
        failing = [r for r in self.routes if r.failing_rows or r.signature_rows]
        return sorted(failing, key=lambda r: (-r.failing_rows, -r.signature_rows, r.route))

    def only(self, routes: Iterable[str]) -> Matrix:
        """The same matrix restricted to some routes (totals still describe the whole input)."""
        wanted = set(routes)
        return Matrix(self.inputs, self.rows, self.requests, self.first_ts_ms, self.last_ts_ms,
                      self.signature_names, tuple(r for r in self.routes if r.route in wanted))

    def to_json(self) -> dict[str, Any]:
        from reversal.evidence.files import utc_iso

        span_minutes = (
            (self.last_ts_ms - self.first_ts_ms) / 60000 if self.first_ts_ms is not None else None
        )
        return {
            "schema": SCHEMA,
            "inputs": list(self.inputs),
            "rows": self.rows,
            "requests": self.requests,
            "span": {
                "first_ts_ms": self.first_ts_ms,
                "last_ts_ms": self.last_ts_ms,
                "first_utc": utc_iso(self.first_ts_ms) if self.first_ts_ms is not None else None,
                "last_utc": utc_iso(self.last_ts_ms) if self.last_ts_ms is not None else None,
                "minutes": round(span_minutes, 3) if span_minutes is not None else None,
            },
            "signatures": list(self.signature_names),
            "routes": [r.to_json() for r in self.routes],
            "ranking": [
                {"rank": i, "route": r.route, "eligibility": r.eligibility,
                 "failing_rows": r.failing_rows, "signature_rows": r.signature_rows,
                 "top_signature": _top_signature(r)}
                for i, r in enumerate(self.ranking(), start=1)
            ],
        }


def _top_signature(stats: RouteStats) -> str | None:
    if not stats.signatures:
        return None
    return min(stats.signatures.items(), key=lambda kv: (-kv[1]["rows"], kv[0]))[0]


class Tally:
    """Accumulator behind ``attribute``, ``attribute_files`` and discovery: feed ``Columns``
    (``add_columns``) or records, merge the tallies of parallel ranges, then call ``matrix()``.
    The counting itself is ``counts.ColumnTally``, the same as ``compare``'s."""

    def __init__(self, catalogue: Catalogue) -> None:
        from reversal.logs.counts import ColumnTally

        self._catalogue = catalogue
        self._engine = ColumnTally(catalogue)
        self._route_of: dict[str, str] = {}  # raw requestPath -> route (discovery's cache)
        self._matches: dict[str, tuple[str, ...]] = {}
        self._inputs: list[str] = []
        self.rows = 0

    def add_input(self, name: str) -> None:
        self._inputs.append(name)

    def _signatures_of(self, message: str) -> tuple[str, ...]:
        found = self._matches.get(message)
        if found is None:
            if len(self._matches) >= _MATCH_CACHE_LIMIT:
                self._matches.clear()
            found = self._matches[message] = tuple(self._catalogue.match(message))
        return found

    def add_columns(self, columns: Columns) -> None:
        self._engine.add_columns(columns)
        self.rows = self._engine.rows

    def add_records(self, records: Iterable[LogRecord]) -> None:
        from reversal.logs.columns import record_columns

        for columns in record_columns(records):
            self.add_columns(columns)

    def merge(self, other: Tally) -> None:
        """Fold in a tally of other rows (a parallel worker's range, another file)."""
        self._engine.merge(other._engine)
        self.rows = self._engine.rows

    def __getstate__(self) -> dict[str, Any]:
        """Workers send their counts back, not their caches."""
        return {**self.__dict__, "_route_of": {}, "_matches": {}}

    def matrix(self) -> Matrix:
        engine, names = self._engine, self._catalogue.names
        per_route: dict[str, _RouteTally] = {}
        for (route, status, found, has_id, level), n in engine.kinds():
            t = per_route.get(route)
            if t is None:
                t = per_route[route] = _RouteTally()
            t.rows += n
            t.statuses[status] += n
            if not has_id:
                t.unidentified += n
            if found:
                t.signature_rows += n
                for name in found:
                    t.signatures[name] += n
            elif found is not None and is_failure(status, level):
                t.uncatalogued += n
        for (route, duration), n in engine.route_durations():
            if duration and duration.__class__ is not str and duration > 0:
                per_route[route].durations[duration] += n
        # every distinct count (per route, per route x signature, overall) in one pass
        selects: list[Any] = [lambda *_: True]
        for route in sorted(per_route):
            selects.append(lambda r, _s, _n, route=route: r == route)
            selects += [lambda r, _s, found, route=route, name=name: r == route and name in (found or ())
                        for name in names if name in per_route[route].signatures]
        distinct = map(engine.distinct, selects)
        requests = next(distinct)
        routes = []
        for route in sorted(per_route):
            t = per_route[route]
            order = sorted(t.statuses.items(), key=lambda kv: _status_order(kv[0]))
            statuses = {status_key(s): n for s, n in order}
            failing = sum(n for s, n in t.statuses.items() if s is None or 500 <= s <= 599)
            route_requests = next(distinct)
            routes.append(RouteStats(
                route=route,
                eligibility=eligibility(route),
                rows=t.rows,
                statuses=statuses,
                requests=route_requests,
                rows_without_request_id=t.unidentified,
                failing_rows=failing,
                signature_rows=t.signature_rows,
                uncatalogued_failure_rows=t.uncatalogued,
                signatures={name: {"rows": t.signatures[name], "requests": next(distinct)}
                            for name in names if name in t.signatures},
                durations=_percentiles(t.durations),
            ))
        return Matrix(tuple(self._inputs), engine.rows, requests, engine.first_ts, engine.last_ts, names,
                      tuple(routes))


class _RouteTally:
    __slots__ = ("durations", "rows", "signature_rows", "signatures", "statuses", "uncatalogued",
                 "unidentified")

    def __init__(self) -> None:
        self.rows = self.unidentified = self.signature_rows = self.uncatalogued = 0
        self.statuses: Counter[int | None] = Counter()
        self.signatures: Counter[str] = Counter()
        self.durations: Counter[float] = Counter()  # duration ms -> rows: exact percentiles, bounded


def _percentiles(histogram: Counter[float]) -> dict[str, Any]:
    """Count and nearest-rank p50/p95/p99 of a histogram of durations (as ``nearest_rank``)."""
    total = sum(histogram.values())
    out: dict[str, Any] = {"count": total}
    values = sorted(histogram.items())
    for p in (50, 95, 99):
        rank, seen, found = max(math.ceil(p / 100 * total), 1), 0, None
        for value, n in values if total else ():
            seen += n
            if seen >= rank:
                found = value
                break
        out[f"p{p}"] = _opt_number(found)
    return out


def _status_order(status: int | None) -> tuple[int, int]:
    return (1, 0) if status is None else (2, 0) if status == NO_RESPONSE else (0, status)


def _opt_number(value: float | None) -> int | float | None:
    return None if value is None else _number(value)


class Adder(Protocol):
    """What the parallel file machinery drives: ``Tally`` (attribute, discover) and
    ``counts.ColumnTally`` (compare)."""

    def add_columns(self, columns: Columns) -> None: ...
    def add_records(self, records: Iterable[LogRecord]) -> None: ...
    def merge(self, other: Any) -> None: ...


def attribute(records: Iterable[LogRecord], catalogue: Catalogue) -> Matrix:
    """The matrix of any stream of records (tests, captures, other readers)."""
    tally = Tally(catalogue)
    tally.add_records(records)
    return tally.matrix()


AnyTally = TypeVar("AnyTally", bound=Adder)


Task = tuple[int, Path, str, int, int | None, Callable[[], Adder]]
"""(job index, file, format, range start, range stop, fresh tally)."""


def _run(tasks: Sequence[Task]) -> list[tuple[int, Any]]:
    """Tally each task's byte range; ``None`` for a range the fast decode could not read.

    The cyclic garbage collector is paused meanwhile: batches allocate many containers and
    free them all, and its passes over them cost more than they find (nothing is cyclic)."""
    import gc

    from reversal.logs.columns import Fallback, file_columns

    out: list[tuple[int, Any]] = []
    paused = gc.isenabled()
    gc.disable()
    try:
        for index, path, fmt, start, stop, new_tally in tasks:
            tally = new_tally()
            try:
                for columns in file_columns(path, fmt, start, stop):
                    tally.add_columns(columns)
            except Fallback:
                tally = None
            out.append((index, tally))
    finally:
        if paused:
            gc.enable()
    return out


def _serial(path: Path, fmt: str, new_tally: Callable[[], AnyTally]) -> AnyTally:
    """The whole file in one process; the record readers when the fast decode fails (their errors
    name the exact line or row, and they accept what the fast decoders may not)."""
    from reversal.logs import readers

    [(_, tally)] = _run([(0, path, fmt, 0, None, new_tally)])
    if tally is None:
        tally = new_tally()
        tally.add_records(readers.read_records(path))
    return tally


def tally_jobs(jobs: Sequence[tuple[Path, Callable[[], AnyTally]]]) -> list[AnyTally]:
    """Each file tallied into its own fresh tally, any format, on the fast path.

    Files of at least ``PARALLEL_MIN_BYTES`` are cut into byte ranges; all ranges of all files
    (``compare``: both windows) are shared round-robin by the parent and forked workers, and
    merged into their file's tally as they come back.
    A range boundary is only a candidate for JSON arrays; the range before it must end exactly
    there, or its decode fails. Any failure in a range re-reads that file serially.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from reversal.logs import readers
    from reversal.logs.columns import one_page, ranges

    fmts = [readers.detect_format(path) for path, _ in jobs]
    parts = min(os.cpu_count() or 1, MAX_WORKERS)
    can_fork = parts > 1 and "fork" in multiprocessing.get_all_start_methods()
    tasks, split = [], False
    for index, ((path, new_tally), fmt) in enumerate(zip(jobs, fmts, strict=True)):
        pieces = [(0, None)]
        if (can_fork and path.stat().st_size >= PARALLEL_MIN_BYTES
                and not (fmt == "request-logs" and one_page(path))):
            pieces = ranges(path, fmt, max(parts * RANGES_PER_WORKER, path.stat().st_size // RANGE_BYTES))
            split = split or len(pieces) > 1
        tasks += [(index, path, fmt, start, stop, new_tally) for start, stop in pieces]
    merged: list[Any] = [None] * len(jobs)
    failed: set[int] = set()

    def absorb(results: list[tuple[int, Any]]) -> None:
        """Fold a range's counts into its file's tally at once (the first range becomes it)."""
        for index, tally in results:
            if tally is None:
                failed.add(index)
            elif merged[index] is None:
                merged[index] = tally
            else:
                merged[index].merge(tally)

    if not split:
        absorb(_run(tasks))
    else:  # one task per range, so each result is small and merged as soon as it is back
        own, others = tasks[::parts], [t for k, t in enumerate(tasks) if k % parts]
        with ProcessPoolExecutor(parts - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_run, [task]) for task in others]
            for task in own:
                absorb(_run([task]))
            while futures:
                absorb(futures.pop(0).result())
    for index in sorted(failed):
        path, new_tally = jobs[index]
        merged[index] = _serial(path, fmts[index], new_tally)
    return merged


def tally_files(paths: Sequence[Path], new_tally: Callable[[], AnyTally]) -> AnyTally:
    """Several log files of any format fed to one tally, each on the fast path."""
    parts = tally_jobs([(path, new_tally) for path in paths])
    tally = parts.pop(0) if parts else new_tally()
    while parts:
        tally.merge(parts.pop(0))
    for path in paths:
        tally.add_input(str(path))
    return tally


def attribute_files(paths: Sequence[Path], catalogue: Catalogue) -> Matrix:
    """The matrix of several log files of any format, aggregated."""
    return tally_files(paths, partial(Tally, catalogue)).matrix()
