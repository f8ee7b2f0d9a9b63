"""The one tally behind ``attribute`` and ``compare``: columns in, counts out.

Per batch, each row's *shape* (raw path, status, message, level) becomes a small int code
with one dict lookup; everything else about a shape (its route, its signature matches, its
status bucket) is computed once, when the shape is first seen. Rows are then counted by
(code, duration) or (code, minute) with one ``Counter`` update, so the Python work per row is
a handful of C-level calls.

Distinct requests are exact up to hash collisions, in compact memory: each request id becomes
its 64-bit ``hash()`` (SipHash-1-3, keyed per process; forked workers share the key). A batch's
hashes go into numpy arrays whole, with their group ((route, status, signatures)) and, for
``compare``, their minute; every ``PENDING_ROWS`` rows they are sorted by group and reduced per
group to the distinct hashes (keeping each one's earliest minute): 8 bytes per distinct
(group, request) pair, plus 4 for the minute. A distinct count is a sort-and-unique of the
selected groups' hashes, a slice of the hash range at a time (``UNION_ROWS``), so counting adds
bounded memory. Two distinct ids share a hash with probability 2^-64; among n distinct ids the
chance of any collision is at most n^2 / 2^65: 2.7e-8 at 1M ids, 2.7e-6 at 10M. Beyond the
ids, memory depends on the distinct shapes, durations and minutes, not on the rows; the caches
of shapes, paths and messages are cleared at ``CACHE_LIMIT`` entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress
from operator import not_
from typing import Any

import numpy as np

from reversal.logs.columns import CACHE_LIMIT, Columns, record_columns
from reversal.logs.model import normalize_path
from reversal.logs.signatures import Catalogue

MINUTE_MS = 60_000
PENDING_ROWS = 1_000_000
"""Id rows kept as they came (12-16 bytes each) before they are reduced per group."""
UNION_ROWS = 2_000_000
"""Hashes sorted at once by a distinct count: larger unions go a slice of the hash range at a time."""

Info = tuple[str, Any, Any, Any]
"""What a code stands for: (route, status, signature names or None without a message, level)."""
Select = Callable[[str, Any, Any], bool]
_UNSEEN: Any = object()
_HASH_RANGE = 1 << 64
_LOWEST = -(1 << 63)


def _first_of_runs(hashes: np.ndarray) -> np.ndarray:
    """Mask of the first entry of each run of equal values (``hashes`` sorted)."""
    first = np.empty(len(hashes), dtype=bool)
    first[:1] = True
    np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
    return first


def _reduce(hashes: np.ndarray, minutes: np.ndarray | None, *, runs: bool = False,
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """The distinct hashes, sorted, each with its earliest minute (a sort, a mask and a
    ``minimum.reduceat`` per run: numpy's ``unique`` is many times slower on 64-bit ints, and
    ``lexsort`` on (hash, minute) twice as slow). ``runs``: the input is sorted segments one
    after another, which numpy's stable sort (timsort) merges 1.6-2.5x faster than quicksort;
    on unsorted input quicksort is the faster."""
    kind = "stable" if runs else "quicksort"
    if minutes is None:
        hashes = np.sort(hashes, kind=kind)
        return hashes[_first_of_runs(hashes)], None
    order = np.argsort(hashes, kind=kind)
    hashes, minutes = hashes[order], minutes[order]
    starts = np.flatnonzero(_first_of_runs(hashes))
    if not len(starts):
        return hashes, minutes
    return hashes[starts], np.minimum.reduceat(minutes, starts)


def _value_counts(values: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The distinct values and how often each occurs, by a sort and its runs (a ``Counter``
    fed element by element would cost a Python object per element)."""
    values = np.sort(values)
    starts = np.flatnonzero(_first_of_runs(values))
    return values[starts], np.diff(starts, append=len(values)).tolist()


def _pair_counts(codes: np.ndarray, minutes: np.ndarray) -> dict[tuple[int, int], int]:
    """Rows per (code, minute), counted as packed int64 keys: minutes relative to the batch's
    earliest in the low 32 bits."""
    if not len(codes):
        return {}
    low = int(minutes.min())
    pairs, counts = _value_counts((codes << 32) | (minutes - low))
    return dict(zip(zip((pairs >> 32).tolist(), ((pairs & 0xFFFFFFFF) + low).tolist(), strict=True),
                    counts, strict=True))


class _Ids:
    """Request-id hashes per group, with each one's earliest minute (``by_minute``).

    Batches are appended whole; every ``PENDING_ROWS`` rows they are sorted by group and each
    group's part is reduced (``_reduce``) into a sorted segment. A group's segments overlap only
    for requests that span two settles; the counts unite them."""

    def __init__(self, by_minute: bool) -> None:
        self.by_minute = by_minute
        self.hashes: list[list[np.ndarray]] = []  # group -> sorted distinct segments
        self.minutes: list[list[np.ndarray]] = []  # group -> their earliest minutes (by_minute)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_rows = 0

    def add_group(self) -> None:
        self.hashes.append([])
        self.minutes.append([])

    def append(self, groups: np.ndarray, hashes: np.ndarray, minutes: np.ndarray | None) -> None:
        self._pending.append((groups, hashes, minutes))
        self._pending_rows += len(hashes)
        if self._pending_rows >= PENDING_ROWS:
            self.settle()

    def settle(self) -> None:
        """Sort the pending rows by group and reduce each group's part into a segment."""
        if not self._pending:
            return
        groups = np.concatenate([p[0] for p in self._pending])
        hashes = np.concatenate([p[1] for p in self._pending])
        minutes = np.concatenate([p[2] for p in self._pending]) if self.by_minute else None
        self._pending, self._pending_rows = [], 0
        order = np.argsort(groups, kind="stable")
        groups, hashes = groups[order], hashes[order]
        minutes = minutes[order] if minutes is not None else None
        starts = np.flatnonzero(_first_of_runs(groups)).tolist()
        for start, stop in zip(starts, [*starts[1:], len(groups)], strict=True):
            part, first = _reduce(hashes[start:stop], None if minutes is None else minutes[start:stop])
            g = int(groups[start])
            self.hashes[g].append(part)
            if first is not None:
                self.minutes[g].append(first)

    def extend(self, group: int, other: _Ids, other_group: int) -> None:
        self.hashes[group] += other.hashes[other_group]
        self.minutes[group] += other.minutes[other_group]

    def unions(self, groups: Sequence[int], *, with_minutes: bool = True,
               ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The distinct hashes of ``groups`` together (with their earliest minutes where kept and
        asked for: a plain count sorts the hashes alone), a slice of the hash range at a time."""
        self.settle()
        minutes = self.by_minute and with_minutes
        segments = [(h, self.minutes[g][k] if minutes else None)
                    for g in groups for k, h in enumerate(self.hashes[g])]
        if len(segments) <= 1:
            yield from segments
            return
        total = sum(len(h) for h, _ in segments)
        slices = max(1, -(-total // UNION_ROWS))
        edges = [_LOWEST + k * (_HASH_RANGE // slices) for k in range(1, slices)]
        bounds = [[0, *np.searchsorted(h, edges).tolist(), len(h)] for h, _ in segments]
        for k in range(slices):
            parts = [(h[b[k]:b[k + 1]], None if m is None else m[b[k]:b[k + 1]])
                     for (h, m), b in zip(segments, bounds, strict=True)]
            hashes = np.concatenate([h for h, _ in parts])
            yield _reduce(hashes, np.concatenate([m for _, m in parts]) if minutes else None, runs=True)


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
        self.ids = _Ids(by_minute)
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._codes = _Codes(self._new_code)
        self._code_of: dict[Info, int] = {info: code for code, info in enumerate(self.infos)}
        self._group_of = {group: g for g, group in enumerate(self.groups)}
        self._group_by_code: list[int] = [self._group_of[info[:3]] for info in self.infos]
        self._group_array = np.empty(0, np.int32)  # the same, for numpy (grown when stale)
        self._route_of: dict[Any, str] = {}
        self._names_of: dict[Any, tuple[str, ...] | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Workers send their counts back (ids reduced), not their caches."""
        self.ids.settle()
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
                self.ids.add_group()
            self._group_by_code.append(g)
        return code

    def _groups_of(self, codes: np.ndarray) -> np.ndarray:
        if len(self._group_array) != len(self._group_by_code):
            self._group_array = np.array(self._group_by_code, np.int32)
        return self._group_array[codes]

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
        codes = list(map(self._codes.__getitem__, cols.shape))
        ids = cols.request_id
        every_id = all(ids)
        no_id = not every_id and not any(ids)  # runtime-log lines
        self.rows += len(ts)
        low, high = min(ts), max(ts)
        self.first_ts = low if self.first_ts is None else min(low, self.first_ts)
        self.last_ts = high if self.last_ts is None else max(high, self.last_ts)
        if self.by_minute:
            self._count_by_minute(np.array(codes, np.int64), np.array(ts, np.int64) // MINUTE_MS, ids,
                                  every_id, no_id)
            return
        # rows by (code, raw duration): one Counter
        keys = zip(codes, cols.duration, strict=True)
        if every_id:
            self.rows_by.update(keys)
        elif no_id:  # every row unidentified: count once, add twice (per distinct key)
            counted = Counter(keys)
            self.rows_by.update(counted)
            self.unidentified.update(counted)
        else:
            keys = list(keys)
            self.rows_by.update(keys)
            self.unidentified.update(compress(keys, map(not_, ids)))
        if no_id:
            return
        if not every_id:
            has_id = list(map(bool, ids))
            ids, codes = compress(ids, has_id), list(compress(codes, has_id))
        hashes = np.fromiter(map(hash, ids), np.int64, len(codes))
        self.ids.append(self._groups_of(np.array(codes, np.int32)), hashes, None)

    def _count_by_minute(self, codes: np.ndarray, minutes: np.ndarray, ids: list, every_id: bool,
                         no_id: bool) -> None:
        """Rows by (code, minute), and the ids with their minutes (compare): counted in numpy."""
        counts = _pair_counts(codes, minutes)
        self.rows_by.update(counts)
        if every_id:
            self.ids.append(self._groups_of(codes), np.fromiter(map(hash, ids), np.int64, len(ids)),
                            minutes.astype(np.int32))
            return
        if no_id:
            self.unidentified.update(counts)
            return
        has_id = np.fromiter(map(bool, ids), bool, len(ids))
        self.unidentified.update(_pair_counts(codes[~has_id], minutes[~has_id]))
        self.ids.append(self._groups_of(codes[has_id]),
                        np.fromiter(map(hash, compress(ids, has_id.tolist())), np.int64, int(has_id.sum())),
                        minutes[has_id].astype(np.int32))

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
        other.ids.settle()
        for g, group in enumerate(other.groups):
            self.ids.extend(self._group_of[group], other.ids, g)
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

    def _chosen(self, select: Select) -> list[int]:
        return [g for g, group in enumerate(self.groups) if select(*group)]

    def distinct(self, select: Select) -> int:
        """Distinct request ids among the rows whose (route, status, names) ``select`` keeps."""
        return sum(len(hashes) for hashes, _ in self.ids.unions(self._chosen(select), with_minutes=False))

    def first_seen_minutes(self, select: Select) -> tuple[int, Counter[int]]:
        """(distinct requests, requests by the minute of their first selected row), ``by_minute``."""
        total, minutes = 0, Counter()
        for hashes, first in self.ids.unions(self._chosen(select)):
            total += len(hashes)
            found, counts = _value_counts(first)
            minutes.update(dict(zip(found.tolist(), counts, strict=True)))
        return total, Counter({m * MINUTE_MS: n for m, n in minutes.items()})
