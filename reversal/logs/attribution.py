"""The migration matrix: per route, rows by status, distinct requests, signatures, durations.

Pure aggregation. ``attribute`` takes any stream of ``LogRecord``; ``attribute_files`` is
the path the command uses: dashboard exports go through a fast path that tallies the
decoded export structs directly (no ``LogRecord`` per row) and gives the same ``Matrix``.

Counting rules (documented in docs/readme-logs.md):
* a *row* is one log line; a *request* is one distinct non-empty ``request_id``;
* failing rows = rows with a 5xx status plus rows with a blank status;
* durations are taken from rows with ``duration_ms > 0``; percentiles are nearest-rank.
"""

from __future__ import annotations

import math
import operator
import os
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from reversal.logs.model import NO_RESPONSE, LogRecord, normalize_path
from reversal.logs.readers import TallyRow
from reversal.logs.signatures import Catalogue

SCHEMA = "reversal.attribute/1"
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
"""Exports at least this large are tallied by several processes."""
MAX_WORKERS = 4
_MATCH_CACHE_LIMIT = 100_000


class AttributionRow(TallyRow):
    """The export fields attribution and discovery read: ``level`` tells a failure logged
    under a 2xx response (``error``) from ordinary lines."""

    level: str | None = ""


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


_RECORD_FIELDS = operator.attrgetter("route", "status", "request_id", "ts_ms", "duration_ms", "message",
                                     "level")
_EXPORT_FIELDS = operator.attrgetter(
    "request_path", "response_status_code", "request_id", "timestamp_in_ms", "duration_ms", "message", "level"
)


class _RouteTally:
    __slots__ = ("durations", "request_ids", "rows", "signature_rows", "signatures", "statuses",
                 "uncatalogued", "unidentified")

    def __init__(self) -> None:
        self.rows = 0
        self.unidentified = 0
        self.signature_rows = 0
        self.uncatalogued = 0
        self.statuses: dict[int | None, int] = {}
        self.request_ids: set[str] = set()
        self.signatures: dict[str, list[Any]] = {}  # name -> [rows, set of request ids]
        self.durations = array("d")


class Tally:
    """Mutable accumulator behind both entry points; feed rows, then call ``matrix()``."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._routes: dict[str, _RouteTally] = {}
        self._route_of: dict[str, str] = {}  # raw export requestPath -> route
        self._matches: dict[str, tuple[str, ...]] = {}
        self._inputs: list[str] = []
        self.rows = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add_input(self, name: str) -> None:
        self._inputs.append(name)

    def _signatures_of(self, message: str) -> tuple[str, ...]:
        found = self._matches.get(message)
        if found is None:
            if len(self._matches) >= _MATCH_CACHE_LIMIT:
                self._matches.clear()
            found = self._matches[message] = tuple(self._catalogue.match(message))
        return found

    def _consume(self, rows: Iterable[Any], fields: operator.attrgetter) -> None:
        """The one hot loop both entry points run, so they cannot disagree.

        ``fields`` reads (path or route, status, request id, ts, duration, message, level) from a row.
        Conversions are idempotent on ``LogRecord`` values: a route normalizes to itself,
        a non-int status (``""``/``None``) is blank, a ``""``/``None`` duration is none.
        """
        routes, route_of, signatures_of = self._routes, self._route_of, self._signatures_of
        first, last, count = self.first_ts, self.last_ts, 0
        for path, status, request_id, ts, duration, message, level in map(fields, rows):
            count += 1
            route = route_of.get(path)
            if route is None:
                route = route_of[path] = normalize_path(path)[1]
            tally = routes.get(route)
            if tally is None:
                tally = routes[route] = _RouteTally()
            tally.rows += 1
            if status.__class__ is not int:
                status = None
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if request_id:
                tally.request_ids.add(request_id)
            else:
                tally.unidentified += 1
            if first is None or ts < first:
                first = ts
            if last is None or ts > last:
                last = ts
            if duration and duration.__class__ is not str and duration > 0:
                tally.durations.append(duration)
            if message:
                names = signatures_of(message)
                if names:
                    tally.signature_rows += 1
                    for name in names:
                        entry = tally.signatures.get(name)
                        if entry is None:
                            entry = tally.signatures[name] = [0, set()]
                        entry[0] += 1
                        if request_id:
                            entry[1].add(request_id)
                elif is_failure(status, level):
                    tally.uncatalogued += 1
        self.first_ts, self.last_ts = first, last
        self.rows += count

    def add_records(self, records: Iterable[LogRecord]) -> None:
        self._consume(records, _RECORD_FIELDS)

    def add_export_rows(self, rows: Iterable[Any]) -> None:
        """Rows decoded by ``readers.export_batches`` (``AttributionRow``/``ExportRow``): the fast
        path, without building a ``LogRecord`` per row."""
        self._consume(rows, _EXPORT_FIELDS)

    def merge(self, other: Tally) -> None:
        """Fold in a tally of other rows (a parallel worker's range of the same input)."""
        for route, theirs in other._routes.items():
            mine = self._routes.get(route)
            if mine is None:
                self._routes[route] = theirs
                continue
            mine.rows += theirs.rows
            mine.unidentified += theirs.unidentified
            mine.signature_rows += theirs.signature_rows
            mine.uncatalogued += theirs.uncatalogued
            for status, n in theirs.statuses.items():
                mine.statuses[status] = mine.statuses.get(status, 0) + n
            mine.request_ids |= theirs.request_ids
            mine.durations.extend(theirs.durations)
            for name, (rows, ids) in theirs.signatures.items():
                entry = mine.signatures.setdefault(name, [0, set()])
                entry[0] += rows
                entry[1] |= ids
        self.rows += other.rows
        stamps = [t for t in (self.first_ts, self.last_ts, other.first_ts, other.last_ts) if t is not None]
        self.first_ts, self.last_ts = (min(stamps), max(stamps)) if stamps else (None, None)

    def __getstate__(self) -> dict[str, Any]:
        """Workers send their counts back, not their caches."""
        return {**self.__dict__, "_route_of": {}, "_matches": {}}

    def matrix(self) -> Matrix:
        names = self._catalogue.names
        routes = []
        for route in sorted(self._routes):
            t = self._routes[route]
            durations = sorted(t.durations)
            statuses = {status_key(s): n for s, n in sorted(
                t.statuses.items(), key=lambda kv: _status_order(kv[0]))}
            failing = sum(n for s, n in t.statuses.items() if s is None or 500 <= s <= 599)
            routes.append(RouteStats(
                route=route,
                eligibility=eligibility(route),
                rows=t.rows,
                statuses=statuses,
                requests=len(t.request_ids),
                rows_without_request_id=t.unidentified,
                failing_rows=failing,
                signature_rows=t.signature_rows,
                uncatalogued_failure_rows=t.uncatalogued,
                signatures={name: {"rows": t.signatures[name][0], "requests": len(t.signatures[name][1])}
                            for name in names if name in t.signatures},
                durations={
                    "count": len(durations),
                    **{f"p{p}": _opt_number(nearest_rank(durations, p)) for p in (50, 95, 99)},
                },
            ))
        requests = len(set().union(*(t.request_ids for t in self._routes.values())))
        return Matrix(tuple(self._inputs), self.rows, requests, self.first_ts,
                      self.last_ts, names, tuple(routes))


def _status_order(status: int | None) -> tuple[int, int]:
    return (1, 0) if status is None else (2, 0) if status == NO_RESPONSE else (0, status)


def _opt_number(value: float | None) -> int | float | None:
    return None if value is None else _number(value)


def attribute(records: Iterable[LogRecord], catalogue: Catalogue) -> Matrix:
    """The matrix of any stream of records (tests, captures, other readers)."""
    tally = Tally(catalogue)
    tally.add_records(records)
    return tally.matrix()


AnyTally = TypeVar("AnyTally", bound=Tally)


def _tally_range(path: Path, new_tally: Callable[[], AnyTally], start: int, stop: int | None) -> AnyTally:
    from reversal.logs import readers

    tally = new_tally()
    for batch in readers.export_batches(path, AttributionRow, start=start, stop=stop):
        tally.add_export_rows(batch)
    return tally


def _ranges(path: Path, parts: int) -> list[tuple[int, int | None]]:
    """Byte ranges of an export that start at (candidate) row starts."""
    from reversal.logs import readers

    size = path.stat().st_size
    starts = [0]
    for k in range(1, parts):
        point = readers.split_point(path, size * k // parts)
        if point is not None and point > starts[-1]:
            starts.append(point)
    return list(zip(starts, [*starts[1:], None], strict=True))


def _tally_export(path: Path, new_tally: Callable[[], AnyTally]) -> AnyTally:
    """Large exports are tallied in parallel byte ranges (forked workers), then merged.

    A range boundary is only a candidate (it could lie inside a string); the range before it
    must end exactly there, or its decode fails. Any failure in a range re-reads the whole
    file serially, so errors always carry the exact row number.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from reversal.errors import InputError

    parts = min(os.cpu_count() or 1, MAX_WORKERS)
    if (parts < 2 or path.stat().st_size < PARALLEL_MIN_BYTES
            or "fork" not in multiprocessing.get_all_start_methods()):
        return _tally_range(path, new_tally, 0, None)
    ranges = _ranges(path, parts)
    try:
        with ProcessPoolExecutor(len(ranges) - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_tally_range, path, new_tally, a, b) for a, b in ranges[1:]]
            tally = _tally_range(path, new_tally, *ranges[0])
            for future in futures:
                tally.merge(future.result())
        return tally
    except InputError:
        return _tally_range(path, new_tally, 0, None)


def tally_files(paths: Sequence[Path], new_tally: Callable[[], AnyTally]) -> AnyTally:
    """Several log files of any format fed to one tally; exports take the parallel fast path."""
    from reversal.logs import readers

    tally = new_tally()
    for path in paths:
        tally.add_input(str(path))
        if readers.detect_format(path) == "export":
            tally.merge(_tally_export(path, new_tally))
        else:
            tally.add_records(readers.read_records(path))
    return tally


def attribute_files(paths: Sequence[Path], catalogue: Catalogue) -> Matrix:
    """The matrix of several log files of any format, aggregated; exports take the fast path."""
    return tally_files(paths, partial(Tally, catalogue)).matrix()
