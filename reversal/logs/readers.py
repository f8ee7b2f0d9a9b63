"""Readers: any of the three real log formats → a stream of ``LogRecord``.

* ``export``: the dashboard export, one JSON array of flat objects, up to hundreds of MB.
  It is read in large chunks cut at object boundaries and each batch is decoded straight
  into small structs, so memory stays bounded by the chunk size whatever the file size.
* ``ndjson``: ``vercel logs --json`` and the runtime-logs stream, one object per line; the
  CLI's chatter lines (``Vercel CLI 50.1.5``, ``waiting for new logs...``) are skipped.
* ``request-logs``: pages of the request-logs API (``{"rows": [...], "hasMoreRows": ...}``),
  one page per file or one page per line; rows are flattened like ``reversal capture`` does.

The format is detected from the content. Bad input raises ``InputError`` naming the file,
the position (byte offset, row or line) and what was expected.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec

from reversal.errors import InputError
from reversal.logs.inputs import open_input
from reversal.logs.model import LogRecord, normalize_path

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes read per export batch; also the largest single row an export may hold."""

MAX_LINE_BYTES = 16 * 1024 * 1024
"""Largest NDJSON line accepted (Vercel truncates messages far below this)."""

_HEAD_BYTES = 64 * 1024
# Rows outside these bounds are refused naming the row (a negative timestamp once made a span
# start in 1969; a 20-digit status became a column).
_TIMESTAMP = Annotated[int, msgspec.Meta(ge=0, lt=4_102_444_800_000)]  # before 2100-01-01
_STATUS = Annotated[int, msgspec.Meta(ge=-1, le=999)]  # -1: no response
_WS = b" \t\r\n"
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
_PATH_AT = re.compile(r" - at `\$(?:\[(\d+)\])?\.?([^`]*)`$")
_EXPECTED = {
    "requestPath": "a string path",
    "timestampInMs": "an integer epoch-milliseconds timestamp (not negative, before 2100)",
    "responseStatusCode": 'an integer status or "" (blank), from -1 (no response) to 999',
    "durationMs": 'a number of milliseconds or ""',
}


class TallyRow(msgspec.Struct, rename="camel", gc=False):
    """The fields attribution needs: fewer fields decode faster on large exports; every other
    field is skipped while decoding."""

    request_path: str
    timestamp_in_ms: _TIMESTAMP
    response_status_code: _STATUS | Literal[""] | None = None
    request_id: str | None = ""
    message: str | None = ""
    duration_ms: int | float | Literal[""] | None = None


class ExportRow(TallyRow):
    """A dashboard-export row as a ``LogRecord`` needs it."""

    host: str | None = ""
    request_method: str | None = ""
    deployment_id: str | None = ""
    level: str | None = ""
    type: str | None = ""
    environment: str | None = ""


class _StreamRow(TallyRow):
    """A line of ``vercel logs --json`` / the runtime-logs stream."""

    domain: str | None = ""
    request_method: str | None = ""
    deployment_id: str | None = ""
    level: str | None = ""
    source: str | None = ""
    environment: str | None = ""


class _Page(msgspec.Struct, rename="camel"):
    rows: list[dict]
    has_more_rows: bool | None = None


Row = TypeVar("Row", ExportRow, TallyRow)


def _status(value: int | str | None) -> int | None:
    """``""``/missing → ``None`` (blank); ``-1`` stays ``NO_RESPONSE``; ints as they are."""
    return value if value.__class__ is int else None


def _duration(value: int | float | str | None) -> float | None:
    return None if value is None or value == "" else float(value)


def _export_record(row: ExportRow) -> LogRecord:
    host, route = normalize_path(row.request_path)
    return LogRecord(
        ts_ms=row.timestamp_in_ms,
        route=route,
        status=_status(row.response_status_code),
        message=row.message or "",
        request_id=row.request_id or "",
        host=row.host or host,
        method=row.request_method or "",
        deployment_id=row.deployment_id or "",
        level=row.level or "",
        duration_ms=_duration(row.duration_ms),
        source=row.type or "",
        environment=row.environment or "",
    )


def _stream_record(row: _StreamRow) -> LogRecord:
    host, route = normalize_path(row.request_path)
    return LogRecord(
        ts_ms=row.timestamp_in_ms,
        route=route,
        status=_status(row.response_status_code),
        message=row.message or "",
        request_id=row.request_id or "",
        host=host or row.domain or "",
        method=row.request_method or "",
        deployment_id=row.deployment_id or "",
        level=row.level or "",
        duration_ms=_duration(row.duration_ms),
        source=row.source or "",
        environment=row.environment or "",
    )


# --- errors ---------------------------------------------------------------------------------


def _validation_detail(exc: msgspec.ValidationError) -> tuple[int | None, str]:
    """``(index in the decoded array, readable reason)`` from a msgspec validation error."""
    text = str(exc)
    match = _PATH_AT.search(text)
    index = int(match.group(1)) if match and match.group(1) is not None else None
    field = match.group(2) if match else ""
    reason = text[: match.start()] if match else text
    if field in _EXPECTED and "missing" not in reason:
        reason = f"field '{field}' must be {_EXPECTED[field]} ({reason})"
    elif reason.startswith("Expected `object`"):
        reason = f"expected a JSON object with requestPath and timestampInMs ({reason})"
    elif "missing required field" in reason:
        reason = f"{reason}; every row needs requestPath and timestampInMs"
    return index, reason


def _sniff(path: Path) -> bytes:
    try:
        with open_input(path) as handle:
            return handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log file ({exc.strerror}).") from None


# --- format detection -----------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """``"export"``, ``"ndjson"`` or ``"request-logs"``, from the first bytes of the file."""
    head = _sniff(path)
    if not head.strip(_WS + b"\xef\xbb\xbf"):
        raise InputError(
            f"{path}: the file is empty; expected a Vercel dashboard export (JSON array), "
            "NDJSON from `vercel logs --json`, or request-logs API pages."
        )
    if b"\x00" in head:
        raise InputError(
            f"{path}: binary data (NUL byte at byte offset {head.index(0)}); expected a "
            "JSON log export, NDJSON or request-logs pages."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (invalid byte at byte offset {exc.start}); expected a JSON "
            "log export, NDJSON or request-logs pages."
        ) from None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(_WS)
    if text.startswith(b"["):
        return "export"
    lines = text.splitlines()
    first_json = next((line for line in lines if line.lstrip().startswith(b"{")), None)
    if first_json is not None:
        try:
            value = msgspec.json.decode(first_json)
        except msgspec.DecodeError:
            # a pretty-printed page or a line longer than the sniffed head
            return "request-logs" if b'"rows"' in text[:4096] else "ndjson"
        return "request-logs" if isinstance(value, dict) and "rows" in value else "ndjson"
    if lines[0].startswith(b"Vercel CLI"):
        return "ndjson"
    first = lines[0][:80].decode("utf-8", "replace")
    if b"," in lines[0]:
        raise InputError(
            f"{path}: looks like CSV (first line {first!r}); expected a Vercel dashboard export "
            "(JSON array), NDJSON from `vercel logs --json`, or request-logs API pages."
        )
    raise InputError(
        f"{path}: line 1 starts with {first!r}, which is not a JSON array or object; expected a "
        "Vercel dashboard export (JSON array), NDJSON from `vercel logs --json`, or request-logs "
        "API pages."
    )


# --- dashboard export (JSON array) -----------------------------------------------------------


def _decode_error(path: Path, exc: msgspec.DecodeError, at: int) -> InputError:
    """``at``: file offset of the batch's first byte (the ``[``), for msgspec's ``(byte N)``."""
    match = _BYTE_AT.search(str(exc))
    if match:
        where = f"byte offset {at + int(match.group(1))}"
        reason = _BYTE_AT.sub("", str(exc)).strip()
    else:
        where = "the end of the file"
        reason = "truncated JSON: the array or an object is not closed"
    return InputError(
        f"{path}: malformed JSON at {where} ({reason}); expected a dashboard export, one JSON "
        "array of objects separated by commas."
    )


def _row_error(path: Path, exc: msgspec.ValidationError, first_row: int) -> InputError:
    index, reason = _validation_detail(exc)
    row = f"row {first_row + index + 1} of the array" if index is not None else "the array"
    return InputError(f"{path}: {row}: {reason}.")


def export_batches(path: Path, row_type: type[Row] = ExportRow, *, chunk_bytes: int = CHUNK_BYTES,
                   start: int = 0, stop: int | None = None) -> Iterator[list[Row]]:
    """Decoded rows of a dashboard export, one chunk at a time; memory ~ ``chunk_bytes``.

    One reusable buffer: each chunk is cut after the last ``}`` followed by ``,{``, a ``]``
    is written over the comma for the decode, and the rest moves to the front. A candidate
    inside a string leaves the batch ending in an open string, which msgspec reports as
    truncated, so the previous candidate is tried. No large allocation per chunk.

    ``start``/``stop`` read only the rows from the ``{`` at ``start`` to the ``,`` before
    ``stop`` (parallel attribution); row numbers in errors are then relative to ``start``.
    """
    decoder = msgspec.json.Decoder(list[row_type])
    try:
        handle = open_input(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log file ({exc.strerror}).") from None
    buf = bytearray(chunk_bytes + 1)  # +1: room for the ']' written after a cut
    view = memoryview(buf)
    with handle:
        handle.seek(start)
        delta = start - 1  # buf[i] holds the byte at file offset i + delta

        def limit() -> int:
            return chunk_bytes if stop is None else min(chunk_bytes, stop - delta)

        filled = 1 + handle.readinto(view[1 : limit()])
        head = 1  # buf[0] is scratch for the '[' of later batches
        if start:
            head, buf[0] = 0, ord("[")
            if buf[1:2] != b"{":
                raise InputError(f"{path}: byte offset {start}: expected '{{' starting a row.")
        else:
            while head < filled and buf[head] in b" \t\r\n\xef\xbb\xbf":
                head += 1
            if buf[head : head + 1] != b"[":
                raise InputError(
                    f"{path}: byte offset {head - 1}: expected '[' opening a JSON array of rows."
                )
        rows_before, eof = 0, False
        while True:
            while not eof and filled < chunk_bytes:
                read = handle.readinto(view[filled : limit()]) if limit() > filled else 0
                eof = not read
                filled += read
            if eof:
                end = filled
                while end > head and buf[end - 1] in _WS:
                    end -= 1
                if stop is not None:  # the range ends "}," : close the batch over the comma
                    if buf[end - 1] != ord(","):
                        raise InputError(f"{path}: byte offset {stop}: the range does not end between rows.")
                    buf[end - 1] = ord("]")
                if end - 1 == head or buf[end - 1] != ord("]"):
                    raise InputError(
                        f"{path}: truncated JSON at byte offset {filled + delta}: the file ends "
                        "before the closing ']' of the array of rows."
                    )
                try:
                    rows = decoder.decode(view[head:end])
                except msgspec.ValidationError as exc:
                    raise _row_error(path, exc, rows_before) from None
                except msgspec.DecodeError as exc:
                    raise _decode_error(path, exc, head + delta) from None
                if rows:
                    yield rows
                return
            rows, rest = _cut_and_decode(path, decoder, buf, head, filled, delta, rows_before)
            yield rows
            rows_before += len(rows)
            buf[1 : 1 + filled - rest] = bytes(view[rest:filled])
            buf[0] = ord("[")
            delta += rest - 1
            head, filled = 0, 1 + filled - rest


def split_point(path: Path, near: int) -> int | None:
    """Offset of a ``{`` that may start a row, at or after ``near`` (a candidate: the reader of
    the range before it verifies it, since the candidate could lie inside a string)."""
    with open_input(path) as handle:
        handle.seek(near)
        window = handle.read(1 << 20)
    match = _BOUNDARY.search(window)
    return near + match.end() - 1 if match else None


def _cut_and_decode(path: Path, decoder: msgspec.json.Decoder, buf: bytearray, head: int,
                    filled: int, delta: int, rows_before: int) -> tuple[list, int]:
    """Decode ``buf[head:]`` up to the last verified row boundary; return rows and the rest's start."""
    view = memoryview(buf)
    candidates = list(_BOUNDARY.finditer(buf, max(head, filled - 65536), filled))
    candidates = candidates or list(_BOUNDARY.finditer(buf, head, filled))
    for match in reversed(candidates):
        close = match.start() + 1
        saved, buf[close] = buf[close], ord("]")
        try:
            return decoder.decode(view[head : close + 1]), match.end() - 1
        except msgspec.DecodeError as exc:
            if "truncated" not in str(exc):
                raise _decode_error(path, exc, head + delta) from None
            # the candidate was inside a string: try the previous one
        except msgspec.ValidationError as exc:
            raise _row_error(path, exc, rows_before) from None
        finally:
            buf[close] = saved
    raise InputError(
        f"{path}: no row boundary between byte offsets {head + delta + 1} and {filled + delta}: a "
        f"single row is larger than the {len(buf) - 1}-byte read buffer or a string/object there is "
        "not closed; expected a JSON array of log rows."
    )


# --- NDJSON and request-logs pages ------------------------------------------------------------


def _lines(path: Path, max_line: int) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` with a length limit, so one huge line cannot exhaust memory."""
    try:
        handle = open_input(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log file ({exc.strerror}).") from None
    with handle:
        number, offset = 0, 0
        while line := handle.readline(max_line + 1):
            number += 1
            if len(line) > max_line and not line.endswith(b"\n"):
                raise InputError(
                    f"{path}: line {number} (byte offset {offset}) is longer than {max_line} bytes; "
                    "expected one JSON log object per line."
                )
            yield number, offset, line
            offset += len(line)


def _ndjson_records(path: Path, max_line: int) -> Iterator[LogRecord]:
    decoder = msgspec.json.Decoder(_StreamRow)
    for number, offset, line in _lines(path, max_line):
        stripped = line.strip()
        if not stripped.startswith(b"{"):
            continue  # CLI chatter: banner, "waiting for new logs...", blank lines
        try:
            row = decoder.decode(stripped)
        except msgspec.ValidationError as exc:
            _, reason = _validation_detail(exc)
            raise InputError(f"{path}: line {number} (byte offset {offset}): {reason}.") from None
        except msgspec.DecodeError as exc:
            raise InputError(
                f"{path}: line {number} (byte offset {offset}) starts with '{{' but is not valid JSON "
                f"({exc}); expected one JSON log object per line."
            ) from None
        yield _stream_record(row)


def _page_records(path: Path, page: _Page, where: str) -> Iterator[LogRecord]:
    from reversal.logs.request_logs import export_rows

    for index, raw in enumerate(page.rows):
        try:
            flat = export_rows(raw)
            rows = [msgspec.convert(item, ExportRow) for item in flat]
        except (ValueError, TypeError, AttributeError, msgspec.ValidationError) as exc:
            raise InputError(
                f"{path}: {where}, row {index + 1}: {exc}; expected a request-logs row with "
                "timestamp, requestPath, statusCode and logs."
            ) from None
        for row in rows:
            yield _export_record(row)


def _request_log_records(path: Path, max_line: int) -> Iterator[LogRecord]:
    decoder = msgspec.json.Decoder(_Page)
    first_line = _sniff(path).lstrip(_WS).split(b"\n", 1)[0].strip()
    if first_line == b"{":
        # one pretty-printed page per file: pages are bounded by the API, read it whole
        try:
            with open_input(path) as handle:
                page = decoder.decode(handle.read())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise InputError(
                f"{path}: not a request-logs page ({exc}); expected {{\"rows\": [...], "
                "\"hasMoreRows\": ...}."
            ) from None
        yield from _page_records(path, page, "page 1")
        return
    pages = 0
    for number, offset, line in _lines(path, max_line):
        if not line.strip():
            continue
        pages += 1
        try:
            page = decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise InputError(
                f"{path}: line {number} (byte offset {offset}) is not a request-logs page ({exc}); "
                "expected {\"rows\": [...], \"hasMoreRows\": ...} per line."
            ) from None
        yield from _page_records(path, page, f"line {number}")


def read_records(path: Path, *, chunk_bytes: int = CHUNK_BYTES,
                 max_line: int = MAX_LINE_BYTES) -> Iterator[LogRecord]:
    """Every row of a log file as a ``LogRecord``, streaming, whatever the (detected) format."""
    fmt = detect_format(path)
    if fmt == "export":
        for batch in export_batches(path, ExportRow, chunk_bytes=chunk_bytes):
            yield from map(_export_record, batch)
    elif fmt == "ndjson":
        yield from _ndjson_records(path, max_line)
    else:
        yield from _request_log_records(path, max_line)
