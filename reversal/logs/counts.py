"""The one tally behind ``attribute``, ``compare`` and the report: columns in, counts out.

Per batch it counts rows by ``(route, status, signatures, has id, level or minute)`` with
``Counter`` over zipped columns, so the Python work per row is a few C-level calls; routes
and signature matches are computed once per distinct path and message (cached).

Distinct requests are exact up to hash collisions, in bounded memory: each request id is kept
as its 64-bit ``hash()`` (SipHash, keyed per process; forked workers share the key) in an
``array('q')`` per (route, status, signatures, bucket), 8 bytes per row that has an id (and
8 more for its timestamp when per-minute first-seen counts are asked for). Counting sorts
nothing: one bucket (1/64 of the hashes) at a time goes through a ``set``, so the transient
memory is 1/64 of the ids. The chance that any two of n distinct ids share a hash is at most
n^2 / 2^65: 2.7e-8 at 1M ids, 2.7e-6 at 10M.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable
from itertools import chain, compress, repeat
from operator import and_, floordiv
from typing import Any

from reversal.logs.columns import Columns, record_columns
from reversal.logs.model import LogRecord, normalize_path
from reversal.logs.signatures import Catalogue

MINUTE_MS = 60_000
BUCKETS = 64
_CACHE_LIMIT = 100_000

Key = tuple[str, Any, Any, int]
"""An id array's key: (route, status, signature names or None without message, bucket)."""
Select = Callable[[str, Any, Any], bool]


class ColumnTally:
    """Counts of one window or one set of files; feed ``Columns``, merge workers' counts.

    ``by_minute`` (compare): the last key field is the row's minute and each id keeps its
    timestamp (first failing minute of a request); otherwise (attribute) it is the row's level
    and durations are kept as a histogram (exact nearest-rank percentiles). ``span``
    ``(since, until)``: rows outside are counted apart and left out.
    """

    def __init__(self, catalogue: Catalogue, *, by_minute: bool = False,
                 span: tuple[int, int] | None = None) -> None:
        self.catalogue = catalogue
        self.by_minute = by_minute
        self.span = span
        self.rows = 0
        self.outside = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.keys: Counter[tuple] = Counter()  # (route, status, names, has id, level | minute) -> rows
        self.durations: Counter[tuple] = Counter()  # (route, raw duration) -> rows
        self.ids: dict[Key, array] = {}
        self.stamps: dict[Key, array] = {}
        self._route_of: dict[Any, str] = {}
        self._names_of: dict[Any, tuple[str, ...] | None] = {}
        self._index: tuple[dict[tuple, list[Key]], int] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Workers send their counts back, not their caches."""
        return {**self.__dict__, "_route_of": {}, "_names_of": {}, "_index": None}

    def _cached(self, cache: dict, values: list, compute: Callable[[Any], Any]) -> list:
        new = set(values).difference(cache)
        if new:
            if len(cache) + len(new) > _CACHE_LIMIT:
                cache.clear()
                new = set(values)
            for value in new:
                cache[value] = compute(value)
        return list(map(cache.__getitem__, values))

    def _names(self, message: str | None) -> tuple[str, ...] | None:
        return tuple(self.catalogue.match(message)) if message else None

    def add_columns(self, cols: Columns) -> None:
        ts = cols.ts
        if not ts:
            return
        if self.span is not None:
            since, until = self.span
            if min(ts) < since or max(ts) >= until:
                keep = [since <= t < until for t in ts]
                self.outside += len(ts) - sum(keep)
                cols = Columns(*(list(compress(c, keep)) for c in cols))
                ts = cols.ts
                if not ts:
                    return
        routes = self._cached(self._route_of, cols.path, lambda p: normalize_path(p)[1])
        names = self._cached(self._names_of, cols.message, self._names)
        statuses, ids = cols.status, cols.request_id
        has_id = list(map(bool, ids))
        extra = map(floordiv, ts, repeat(MINUTE_MS)) if self.by_minute else cols.level
        self.keys.update(zip(routes, statuses, names, has_id, extra, strict=True))
        if not self.by_minute:
            self.durations.update(zip(routes, cols.duration, strict=True))
        self.rows += len(ts)
        low, high = min(ts), max(ts)
        self.first_ts = low if self.first_ts is None else min(low, self.first_ts)
        self.last_ts = high if self.last_ts is None else max(high, self.last_ts)
        if not any(has_id):
            return
        hashes = list(map(hash, compress(ids, has_id)))
        keys = list(zip(compress(routes, has_id), compress(statuses, has_id), compress(names, has_id),
                        map(and_, hashes, repeat(BUCKETS - 1)), strict=True))
        for key in set(keys).difference(self.ids):
            self.ids[key] = array("q")
            if self.by_minute:
                self.stamps[key] = array("q")
        deque(map(array.append, map(self.ids.__getitem__, keys), hashes), 0)
        if self.by_minute:
            deque(map(array.append, map(self.stamps.__getitem__, keys), compress(ts, has_id)), 0)

    def add_records(self, records: Iterable[LogRecord]) -> None:
        for columns in record_columns(records):
            self.add_columns(columns)

    def merge(self, other: ColumnTally) -> None:
        self.rows += other.rows
        self.outside += other.outside
        self.keys.update(other.keys)
        self.durations.update(other.durations)
        for mine, theirs in ((self.ids, other.ids), (self.stamps, other.stamps)):
            for key, values in theirs.items():
                if key in mine:
                    mine[key].extend(values)
                else:
                    mine[key] = values
        stamps = [t for t in (self.first_ts, self.last_ts, other.first_ts, other.last_ts) if t is not None]
        self.first_ts, self.last_ts = (min(stamps), max(stamps)) if stamps else (None, None)

    # --- queries ------------------------------------------------------------------------------

    def _groups(self, select: Select) -> list[list[Key]]:
        """The id arrays of the selected (route, status, names), grouped by bucket."""
        index = self._index
        if index is None or index[1] != len(self.ids):
            by_triple: dict[tuple, list[Key]] = {}
            for key in self.ids:
                by_triple.setdefault(key[:3], []).append(key)
            index = self._index = (by_triple, len(self.ids))
        groups: list[list[Key]] = [[] for _ in range(BUCKETS)]
        for (route, status, names), keys in index[0].items():
            if select(route, status, names):
                for key in keys:
                    groups[key[3]].append(key)
        return [g for g in groups if g]

    def distinct(self, select: Select) -> int:
        """Distinct request ids among the rows whose (route, status, names) ``select`` keeps."""
        ids = self.ids
        return sum(len(set().union(*map(ids.__getitem__, group))) for group in self._groups(select))

    def first_seen_minutes(self, select: Select) -> tuple[int, Counter[int]]:
        """(distinct requests, requests by the minute of their first selected row), ``by_minute``."""
        total, minutes = 0, Counter()
        for group in self._groups(select):
            pairs = zip(chain.from_iterable(map(self.ids.__getitem__, group)),
                        chain.from_iterable(map(self.stamps.__getitem__, group)), strict=True)
            first = dict(sorted(pairs, reverse=True))  # the last pair of an id wins: its earliest
            total += len(first)
            minutes.update(map(floordiv, first.values(), repeat(MINUTE_MS)))
        return total, Counter({m * MINUTE_MS: n for m, n in minutes.items()})
