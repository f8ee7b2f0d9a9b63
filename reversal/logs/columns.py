"""The fast path of every log format: batches of rows decoded in one call into small typed
structs, then turned into columns (one list per field) that the tallies count with C-level
builtins (``Counter``, ``map``, ``zip``) instead of a Python loop over ``LogRecord`` objects.

A batch is an export chunk (``readers.export_batches``) or a block of whole NDJSON lines, so
each batch costs one ``msgspec`` decode. Line-oriented files and exports are read in byte
ranges (``ranges``) so forked workers can share a large file.

Bad input is never reported from here: any decode problem raises ``Fallback`` and the caller
re-reads the file with ``readers.read_records``, whose errors name the exact line or row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from itertools import chain, compress, islice, repeat
from operator import attrgetter, not_
from pathlib import Path
from typing import NamedTuple

import msgspec

from reversal.errors import InputError
from reversal.logs.model import LogRecord
from reversal.logs.readers import CHUNK_BYTES, MAX_LINE_BYTES, TallyRow, export_batches, split_point

SPLITTABLE = ("export", "drain-json", "cli-requests", "runtime-logs", "drain-ndjson", "request-logs")
"""Formats whose files can be cut into byte ranges (request-logs: one page per line only)."""


CACHE_LIMIT = 100_000
"""Distinct shapes, paths and messages remembered before a cache is cleared."""
LINE_BLOCK_BYTES = 1024 * 1024
"""Bytes of whole lines decoded at once (``Decoder.decode_lines``, one call a block); larger
blocks do not decode faster."""


class Fallback(Exception):
    """The fast decode failed: re-read the file with the record readers (exact errors)."""


class Columns(NamedTuple):
    """One batch, column-wise, each column read once in order except ``request_id`` and ``ts``
    (lists); the others may be lazy iterables. ``shape`` holds each row's (raw request path,
    status, message, level) tuple, the one key the tally looks up per row, made in one C call
    where the rows are structs; the tally normalizes the path (cached); the status is an int
    (-1: no response) or anything else for blank; ``duration`` is raw."""

    shape: Iterable[tuple]
    request_id: list
    ts: list
    duration: Iterable


class AttributionRow(TallyRow):
    """An export row or a runtime-log line as the tallies read it (every other field skipped)."""

    level: str | None = ""


class _Line(msgspec.Struct, gc=False):
    level: str | None = ""
    message: str | None = ""


class _CliRow(msgspec.Struct, rename="camel", gc=False):
    timestamp: int
    request_path: str
    id: str | None = ""
    response_status_code: int | None = 0
    logs: list[_Line] | None = None
    message: str | None = ""
    level: str | None = ""
    duration_ms: int | float | None = None


class _Proxy(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """Frozen, so a row's raw shape (``_DRAIN_SHAPE``) can be a dict key."""

    path: str | None = ""
    status_code: int | None = None


class _DrainRow(msgspec.Struct, rename="camel", gc=False):
    timestamp: int | float
    path: str | None = ""
    status_code: int | None = None
    request_id: str | None = ""
    message: str | None = ""
    level: str | None = ""
    proxy: _Proxy | None = None


class _PageRow(msgspec.Struct, rename="camel", gc=False):
    timestamp: dt.datetime | int | float
    request_path: str | None = "/"
    request_id: str | None = ""
    status_code: int | None = None
    logs: list[_Line] | None = None
    duration_ms: int | float | None = None


class _Page(msgspec.Struct, rename="camel", gc=False):
    rows: list[_PageRow]


_NO_LINE = (_Line(),)
_MESSAGE, _LEVEL, _DURATION = attrgetter("message"), attrgetter("level"), attrgetter("duration_ms")
_TS_FIELD, _LOGS = attrgetter("timestamp_in_ms"), attrgetter("logs")
_PATH, _ID, _TIMESTAMP = attrgetter("request_path"), attrgetter("id"), attrgetter("timestamp")
_CLI_STATUS, _STATUS, _REQUEST_ID = (attrgetter("response_status_code"), attrgetter("status_code"),
                                     attrgetter("request_id"))
_ROW_SHAPE = attrgetter("request_path", "response_status_code", "message", "level")
_RECORD_SHAPE = attrgetter("route", "status", "message", "level")
_RECORD_REST = attrgetter("request_id", "ts_ms", "duration_ms")


_POSITIVE: dict[object, int | None] = {}


def _positive_statuses(raw: list) -> list:
    """Statuses where 0, -1 or none mean blank (``None``), through a cache: one Python call per
    distinct value, not per row."""
    for value in set(raw).difference(_POSITIVE):
        _POSITIVE[value] = value if value.__class__ is int and value > 0 else None  # type: ignore[operator]
    return list(map(_POSITIVE.__getitem__, raw))


def row_columns(rows: list) -> Columns:
    """Columns of export rows / runtime-log lines (``AttributionRow``): statuses stay raw
    (``""`` blank), ids and timestamps are lists, the rest lazy."""
    return Columns(map(_ROW_SHAPE, rows), list(map(_REQUEST_ID, rows)), list(map(_TS_FIELD, rows)),
                   map(_DURATION, rows))


def record_columns(records: Iterable[LogRecord], size: int = 20_000) -> Iterator[Columns]:
    """Columns of any stream of records (already normalized), ``size`` records at a time."""
    it = iter(records)
    while batch := list(islice(it, size)):
        ids, ts, duration = map(list, zip(*map(_RECORD_REST, batch), strict=True))
        yield Columns(map(_RECORD_SHAPE, batch), ids, ts, duration)


def _expanded(rows: list, paths: list, statuses: list, ids: list, ts: list, lines: list) -> Columns:
    """One row per log line of each request (``lines``: its log lines, or the one line that
    stands for a request that logged nothing), like the readers."""
    duration = list(map(_DURATION, rows))
    flat = list(chain.from_iterable(lines))
    if len(flat) != len(rows):  # some request logged several lines: repeat its fields per line
        counts = list(map(len, lines))

        def spread(column: list) -> list:
            return list(chain.from_iterable(map(repeat, column, counts)))
        paths, statuses, ids, ts, duration = map(spread, (paths, statuses, ids, ts, duration))
    shapes = zip(paths, statuses, map(_MESSAGE, flat), map(_LEVEL, flat), strict=True)
    return Columns(shapes, ids, ts, duration)


def cli_columns(rows: list[_CliRow]) -> Columns:
    statuses = _positive_statuses(list(map(_CLI_STATUS, rows)))
    lines = list(map(_LOGS, rows))
    if not all(lines):  # a request that logged nothing stands as one line of its own fields
        for k in compress(range(len(rows)), map(not_, lines)):
            lines[k] = (_Line(rows[k].level, rows[k].message),)
    return _expanded(rows, list(map(_PATH, rows)), statuses, list(map(_ID, rows)),
                     list(map(_TIMESTAMP, rows)), lines)


def _ms(value: dt.datetime | int | float) -> int:
    if value.__class__ is dt.datetime:
        if value.tzinfo is None:  # type: ignore[union-attr]
            value = value.replace(tzinfo=dt.UTC)  # type: ignore[union-attr]
        return int(value.timestamp() * 1000)  # type: ignore[union-attr]
    return int(value)


def page_columns(pages: list[_Page]) -> Columns:
    rows = list(chain.from_iterable(p.rows for p in pages))
    statuses = _positive_statuses(list(map(_STATUS, rows)))
    return _expanded(rows, [r.request_path or "/" for r in rows], statuses, list(map(_REQUEST_ID, rows)),
                     [_ms(r.timestamp) for r in rows], [r.logs or _NO_LINE for r in rows])


class _DrainShapes(dict):
    """A drain row's raw shape (path, status, message, level, proxy) -> the shape the tally
    counts (requested path, status, message, level), or ``None`` for an entry without a path
    (build logs, skipped): worked out once per distinct raw shape, not per row."""

    def __missing__(self, raw: tuple) -> tuple | None:
        path, status, message, level, proxy = raw
        if proxy is not None:
            path = proxy.path or path
            if status is None:
                status = proxy.status_code
        if len(self) >= CACHE_LIMIT:
            self.clear()
        shape = self[raw] = (path, status if status is not None and status > 0 else None,
                             message, level) if path else None
        return shape


_DRAIN_SHAPE = attrgetter("path", "status_code", "message", "level", "proxy")
_DRAIN_SHAPES = _DrainShapes()


def drain_columns(rows: list[_DrainRow]) -> Columns:
    """``proxy.path`` is the requested path; entries without a path (build logs) are skipped;
    status -1 or missing = blank (``readers._drain_record``)."""
    shapes = list(map(_DRAIN_SHAPES.__getitem__, map(_DRAIN_SHAPE, rows)))
    ids, ts = list(map(_REQUEST_ID, rows)), list(map(int, map(_TIMESTAMP, rows)))
    if None in shapes:
        keep = list(map(bool, shapes))
        shapes, ids, ts = (list(compress(column, keep)) for column in (shapes, ids, ts))
    return Columns(shapes, ids, ts, [None] * len(ts))


# --- reading ----------------------------------------------------------------------------------


def _line_blocks(path: Path, start: int, stop: int | None, chunk_bytes: int) -> Iterator[memoryview]:
    """Blocks of whole lines from ``start`` to ``stop`` (both at line starts), as views of one
    reused buffer, each valid until the next block is asked for: a fresh ``bytes`` per read and
    per joined tail cost more than decoding the block (new memory, page faults), as ``readinto``
    a reused buffer does for the export."""
    buf, filled = bytearray(chunk_bytes), 0
    left = None if stop is None else stop - start
    with path.open("rb") as handle:
        handle.seek(start)
        while True:
            room = len(buf) - filled if left is None else min(len(buf) - filled, left)
            read = handle.readinto(memoryview(buf)[filled:filled + room]) if room > 0 else 0
            if not read:
                if filled:
                    yield memoryview(buf)[:filled]
                return
            filled += read
            left = None if left is None else left - read
            cut = buf.rfind(b"\n", 0, filled) + 1
            if not cut:
                if filled > MAX_LINE_BYTES:
                    raise Fallback  # the record reader reports the over-long line
                if filled == len(buf):  # a line longer than the buffer: a new one, twice the size
                    buf = buf + bytes(len(buf))
                continue
            yield memoryview(buf)[:cut]
            buf[:filled - cut] = buf[cut:filled]  # the unfinished line to the front (same size: no resize)
            filled -= cut


def _decode_lines(decoder: msgspec.json.Decoder, block: memoryview,
                  opens: tuple[bytes, ...] | None) -> list:
    """The JSON lines of a block, decoded in one call (blank lines skipped). Where some line is
    not JSON, the other lines (CLI chatter) are dropped first, except where every non-blank
    line must be JSON (``opens`` None)."""
    try:
        return decoder.decode_lines(block)
    except (msgspec.DecodeError, msgspec.ValidationError):
        stripped = map(bytes.strip, bytes(block).split(b"\n"))
        keep = list(filter(None, stripped)) if opens is None else [s for s in stripped if s[:1] in opens]
        return decoder.decode_lines(b"\n".join(keep))


_LINE_FORMATS = {
    "cli-requests": (_CliRow, (b"{",), cli_columns),
    "runtime-logs": (AttributionRow, (b"{",), row_columns),
    "drain-ndjson": (_DrainRow | list[_DrainRow], (b"{", b"["), None),
    "request-logs": (_Page, None, page_columns),
}


def _drain_items(items: list) -> Columns:
    if list in set(map(type, items)):
        items = list(chain.from_iterable(i if i.__class__ is list else (i,) for i in items))
    return drain_columns(items)


def file_columns(path: Path, fmt: str, start: int = 0, stop: int | None = None,
                 chunk_bytes: int | None = None) -> Iterator[Columns]:
    """Columns of ``path`` (format ``fmt``) from byte ``start`` to ``stop``, ``chunk_bytes`` at a
    time (default ``CHUNK_BYTES`` for JSON arrays, ``LINE_BLOCK_BYTES`` for lines); ``Fallback``
    on any decode problem."""
    try:
        if fmt in ("export", "drain-json"):
            row_type, to_columns = ((AttributionRow, row_columns) if fmt == "export"
                                    else (_DrainRow, drain_columns))
            try:
                for batch in export_batches(path, row_type, chunk_bytes=chunk_bytes or CHUNK_BYTES,
                                            start=start, stop=stop):
                    yield to_columns(batch)
            except InputError:
                raise Fallback from None
            return
        if fmt == "request-logs" and one_page(path):
            yield page_columns([msgspec.json.decode(path.read_bytes(), type=_Page)])  # one pretty page
            return
        row_type, opens, to_columns = _LINE_FORMATS[fmt]
        decoder = msgspec.json.Decoder(row_type)
        for block in _line_blocks(path, start, stop, chunk_bytes or LINE_BLOCK_BYTES):
            items = _decode_lines(decoder, block, opens)
            if items:
                yield (to_columns or _drain_items)(items)
    except (msgspec.DecodeError, msgspec.ValidationError, OverflowError, ValueError):
        raise Fallback from None


def one_page(path: Path) -> bool:
    """A single pretty-printed request-logs page (read whole, as the reader does)."""
    with path.open("rb") as handle:
        return handle.read(4096).lstrip().split(b"\n", 1)[0].strip() == b"{"


def ranges(path: Path, fmt: str, parts: int) -> list[tuple[int, int | None]]:
    """Byte ranges of a file that start at (candidate) row starts: after a newline for line
    formats, at a ``{`` after ``},`` for JSON arrays (verified by the reader before it)."""
    size = path.stat().st_size
    starts = [0]
    for k in range(1, parts):
        near = size * k // parts
        if fmt in ("export", "drain-json"):
            point = split_point(path, near)
        else:
            with path.open("rb") as handle:
                handle.seek(near)
                window = handle.read(MAX_LINE_BYTES)
            cut = window.find(b"\n")
            point = near + cut + 1 if cut >= 0 and near + cut + 1 < size else None
        if point is not None and point > starts[-1]:
            starts.append(point)
    return list(zip(starts, [*starts[1:], None], strict=True))

