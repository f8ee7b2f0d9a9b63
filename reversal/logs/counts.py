"""The one tally behind ``attribute`` and ``compare``: columns in, counts out.

Per batch, each row's *shape* (raw path, status, message, level) becomes a small int code
with one dict lookup; everything else about a shape (its route, its signature matches, its
status bucket) is computed once, when the shape is first seen. Rows are then counted by
(code, duration) or (code, minute) with one ``Counter`` update, so the Python work per row is
a handful of C-level calls.

Distinct requests are exact up to hash collisions, in compact memory: each request id is kept
as its 64-bit ``hash()`` (SipHash-1-3, keyed per process; forked workers share the key) in an
``array('q')`` per (route, status, signatures) group and bucket (the hash's low 6 bits): 8
bytes per row that carries an id, plus 4 for its minute when ``compare`` needs the minute
of a request's first failure. A distinct count takes one bucket at a time (1/64 of the ids)
through a ``set``; only a request with several rows needs a sort, for its first minute. Two
distinct ids share a hash with probability 2^-64; among n distinct ids the chance of any
collision is at most n^2 / 2^65: 2.7e-8 at 1M ids, 2.7e-6 at 10M. Beyond the ids, memory
depends on the distinct shapes, durations and minutes, not on the rows; the caches of shapes,
paths and messages are cleared at ``CACHE_LIMIT`` entries.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, compress, repeat
from operator import add, and_, floordiv, lshift, not_, rshift
from typing import Any

from reversal.logs.columns import Columns, record_columns
from reversal.logs.model import normalize_path
from reversal.logs.signatures import Catalogue

MINUTE_MS = 60_000
BUCKETS = 64
CACHE_LIMIT = 100_000
"""Distinct shapes, paths and messages remembered before the caches are cleared."""

Info = tuple[str, Any, Any, Any]
"""What a code stands for: (route, status, signature names or None without a message, level)."""
Select = Callable[[str, Any, Any], bool]
_UNSEEN: Any = object()
_LOW32 = (1 << 32) - 1


class _Codes(dict):
    """shape -> code; a new shape calls back once to get its code (C-level lookups otherwise)."""

    def __init__(self, new_code: Callable[[tuple], int]) -> None:
        super().__init__()
        self.new_code = new_code

    def __missing__(self, shape: tuple) -> int:
        code = self[shape] = self.new_code(shape)
        return code


class ColumnTally:
    """Counts of one window or one set of files; feed ``Columns``, merge workers' tallies.

    ``by_minute`` (compare): rows are counted per minute and each id keeps its timestamp; the
    level is not kept. Otherwise (attribute) durations are kept as a histogram per route
    (exact nearest-rank percentiles in memory bounded by the distinct durations). ``span``
    ``(since, until)``: rows outside are counted apart (``outside``) and left out.
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
        self.infos: list[Info] = []  # code -> info
        self.groups: list[tuple[str, Any, Any]] = []  # group -> (route, status, names)
        self.rows_by: Counter = Counter()  # (code, minute) or (code, raw duration) -> rows
        self.unidentified: Counter = Counter()  # the same keys -> rows without a request id
        self.ids: list[array] = []  # group * BUCKETS + bucket -> id hashes
        self.stamps: list[array] = []  # same index -> minutes since the epoch (by_minute)
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._codes = _Codes(self._new_code)
        self._code_of: dict[Info, int] = {info: code for code, info in enumerate(self.infos)}
        self._group_of = {group: g for g, group in enumerate(self.groups)}
        self._base: list[int] = [self._group_of[info[:3]] * BUCKETS for info in self.infos]
        self._route_of: dict[Any, str] = {}
        self._names_of: dict[Any, tuple[str, ...] | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Workers send their counts back, not their caches."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    # --- codes --------------------------------------------------------------------------------

    def _new_code(self, shape: tuple) -> int:
        path, status, message, level = shape
        if len(self._codes) >= CACHE_LIMIT:
            self._codes.clear()
        route = self._route_of.get(path)
        if route is None:
            if len(self._route_of) >= CACHE_LIMIT:
                self._route_of.clear()
            route = self._route_of[path] = normalize_path(path)[1]
        names = self._names_of.get(message, _UNSEEN)
        if names is _UNSEEN:
            if len(self._names_of) >= CACHE_LIMIT:
                self._names_of.clear()
            names = self._names_of[message] = tuple(self.catalogue.match(message)) if message else None
        return self._intern((route, status if status.__class__ is int else None, names,
                             None if self.by_minute else level))

    def _intern(self, info: Info) -> int:
        code = self._code_of.get(info)
        if code is None:
            code = self._code_of[info] = len(self.infos)
            self.infos.append(info)
            group = info[:3]
            g = self._group_of.get(group)
            if g is None:
                g = self._group_of[group] = len(self.groups)
                self.groups.append(group)
                self.ids += [array("q") for _ in range(BUCKETS)]
                if self.by_minute:
                    self.stamps += [array("i") for _ in range(BUCKETS)]
            self._base.append(g * BUCKETS)
        return code

    # --- counting -----------------------------------------------------------------------------

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
        shapes = zip(cols.path, cols.status, cols.message, cols.level, strict=True)
        codes = list(map(self._codes.__getitem__, shapes))
        ids = cols.request_id
        every_id = all(ids)
        no_id = not every_id and not any(ids)  # runtime-log lines
        # rows by (code, minute) for compare, by (code, raw duration) for attribute: one Counter
        minutes = list(map(floordiv, ts, repeat(MINUTE_MS))) if self.by_minute else ()
        keys = zip(codes, minutes if self.by_minute else cols.duration, strict=True)
        if every_id:
            self.rows_by.update(keys)
        else:
            keys = list(keys)
            self.rows_by.update(keys)
            self.unidentified.update(keys if no_id else compress(keys, map(not_, ids)))
        self.rows += len(ts)
        low, high = min(ts), max(ts)
        self.first_ts = low if self.first_ts is None else min(low, self.first_ts)
        self.last_ts = high if self.last_ts is None else max(high, self.last_ts)
        if no_id:
            return
        if not every_id:
            has_id = list(map(bool, ids))
            ids, codes = compress(ids, has_id), list(compress(codes, has_id))
            minutes = compress(minutes, has_id)
        hashes = list(map(hash, ids))
        slots = list(map(add, map(self._base.__getitem__, codes), map(and_, hashes, repeat(BUCKETS - 1))))
        deque(map(array.append, map(self.ids.__getitem__, slots), hashes), 0)
        if self.by_minute:
            deque(map(array.append, map(self.stamps.__getitem__, slots), minutes), 0)

    def add_records(self, records: Iterable[Any]) -> None:
        for columns in record_columns(records):
            self.add_columns(columns)

    def merge(self, other: ColumnTally) -> None:
        """Fold in another tally (a worker's range, another file): its codes are translated."""
        self.rows += other.rows
        self.outside += other.outside
        code = [self._intern(info) for info in other.infos]
        self.rows_by.update({(code[c], x): n for (c, x), n in other.rows_by.items()})
        self.unidentified.update({(code[c], x): n for (c, x), n in other.unidentified.items()})
        for g, group in enumerate(other.groups):
            base = self._group_of[group] * BUCKETS
            for b in range(BUCKETS):
                self.ids[base + b].extend(other.ids[g * BUCKETS + b])
                if self.by_minute:
                    self.stamps[base + b].extend(other.stamps[g * BUCKETS + b])
        stamps = [t for t in (self.first_ts, self.last_ts, other.first_ts, other.last_ts) if t is not None]
        self.first_ts, self.last_ts = (min(stamps), max(stamps)) if stamps else (None, None)

    # --- queries ------------------------------------------------------------------------------

    def kinds(self) -> Iterator[tuple[tuple[str, Any, Any, bool, Any], int]]:
        """``((route, status, names, has id, level or minute), rows)`` for every counted kind of row."""
        merged: Counter = Counter()
        for (code, second), n in self.rows_by.items():
            route, status, names, level = self.infos[code]
            extra = second if self.by_minute else level
            without = self.unidentified.get((code, second), 0)
            if n > without:
                merged[route, status, names, True, extra] += n - without
            if without:
                merged[route, status, names, False, extra] += without
        return iter(merged.items())

    def route_durations(self) -> Iterator[tuple[tuple[str, Any], int]]:
        """``((route, raw duration), rows)`` (attribute)."""
        merged: Counter = Counter()
        for (code, duration), n in self.rows_by.items():
            merged[self.infos[code][0], duration] += n
        return iter(merged.items())

    def _buckets(self, select: Select) -> list[list[int]]:
        """Slots of the selected (route, status, names) groups, bucket by bucket."""
        chosen = [g * BUCKETS for g, group in enumerate(self.groups) if select(*group)]
        return [[base + b for base in chosen] for b in range(BUCKETS)] if chosen else []

    def distinct(self, select: Select) -> int:
        """Distinct request ids among the rows whose (route, status, names) ``select`` keeps."""
        return self.distinct_many([select])[0]

    def distinct_many(self, selects: Sequence[Select]) -> list[int]:
        """``distinct`` of each selection in one pass: per bucket, each group's ids become a set
        once, shared by every selection that holds the group (1/64 of the ids at a time)."""
        chosen = [[g for g, group in enumerate(self.groups) if select(*group)] for select in selects]
        totals = [0] * len(selects)
        for b in range(BUCKETS):
            sets: dict[int, set[int]] = {}
            for i, groups in enumerate(chosen):
                parts = []
                for g in groups:
                    found = sets.get(g)
                    if found is None:
                        found = sets[g] = set(self.ids[g * BUCKETS + b])
                    parts.append(found)
                totals[i] += len(parts[0]) if len(parts) == 1 else len(set().union(*parts))
        return totals

    def first_seen_minutes(self, select: Select) -> tuple[int, Counter[int]]:
        """(distinct requests, requests by the minute of their first selected row), ``by_minute``.

        Per bucket; only when a request has several rows does its earliest minute need a sort:
        each (id hash, minute) becomes one int ``hash << 32 | minute``, sorted descending, so the
        last entry of an id holds its earliest minute."""
        total, minutes = 0, Counter()
        plain = self.first_ts is None or self.first_ts >= 0
        for slots in self._buckets(select):
            hashes = list(chain.from_iterable(map(self.ids.__getitem__, slots)))
            stamps = list(chain.from_iterable(map(self.stamps.__getitem__, slots)))
            first = dict(zip(hashes, stamps, strict=True))
            if len(first) < len(hashes):
                if plain:
                    keys = list(map(add, map(lshift, hashes, repeat(32)), stamps))
                    keys.sort(reverse=True)
                    first = dict(zip(map(rshift, keys, repeat(32)), map(and_, keys, repeat(_LOW32)),
                                     strict=True))
                else:  # minutes before 1970: the same with (hash, minute) pairs
                    first = dict(sorted(zip(hashes, stamps, strict=True), reverse=True))
            total += len(first)
            minutes.update(first.values())
        return total, Counter({m * MINUTE_MS: n for m, n in minutes.items()})
