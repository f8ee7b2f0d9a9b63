"""Readers: every real Vercel log format → a stream of ``LogRecord``, detected from content.

``detect_format`` names the format; each has one decode function below:

* ``export``: the dashboard export, one JSON array of flat rows (``timestampInMs``,
  host-prefixed ``requestPath``, ``responseStatusCode`` "" = blank), up to hundreds of MB. It is
  read in large chunks cut at object boundaries and each batch is decoded straight into small
  structs, so memory stays bounded by the chunk size whatever the file size.
* ``cli-requests``: ``vercel logs --json`` of CLI 58.x, one line per *request* (``id``,
  ``timestamp`` ms, ``requestPath`` without host, ``responseStatusCode`` 0 = none, ``logs[]``):
  one record per log line, like the export.
* ``runtime-logs``: ``vercel logs --follow --json`` and the runtime-logs stream, one line per log
  line (``timestampInMs``, ``responseStatusCode`` -1, no request id: see
  ``model.FORMAT_LIMITS``). The CLI's chatter lines (``Vercel CLI 50.1.5``, ``waiting for new
  logs...``) are skipped.
* ``drain-json`` / ``drain-ndjson``: Log Drain deliveries (``timestamp`` ms, ``path``,
  ``statusCode`` -1 = no response, ``requestId``, ``proxy{path, host, method, statusCode}``), one
  JSON array, or one object (or one delivered array) per line. Entries without a request path
  (build and external logs) are not requests and are skipped.
* ``request-logs``: pages of the request-logs API (``{"rows": [...], "hasMoreRows": ...}``),
  one page per file or one page per line; rows are flattened like ``reversal capture`` does.

Bad input raises ``InputError`` naming the file, the position (byte offset, row or line) and
what was expected. Sources of each format: ``docs/platform-api.md`` §3.
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
    "timestamp": "an integer epoch-milliseconds timestamp",
    "statusCode": "an integer status (-1: no response)",
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


class _LogLine(msgspec.Struct, gc=False):
    level: str | None = ""
    message: str | None = ""


class CliRequestRow(msgspec.Struct, rename="camel", gc=False):
    """A line of ``vercel logs --json`` (CLI 58.x ``RequestLogEntry``): one request."""

    timestamp: int
    request_path: str
    id: str | None = ""
    response_status_code: int | None = 0
    logs: list[_LogLine] | None = None
    message: str | None = ""
    level: str | None = ""
    domain: str | None = ""
    request_method: str | None = ""
    deployment_id: str | None = ""
    source: str | None = ""
    environment: str | None = ""
    duration_ms: int | float | None = None


class _Proxy(msgspec.Struct, rename="camel", gc=False):
    path: str | None = ""
    host: str | None = ""
    method: str | None = ""
    status_code: int | None = None


class DrainRow(msgspec.Struct, rename="camel", gc=False):
    """A Log Drain entry (Log Drains reference, logs schema)."""

    timestamp: int | float
    path: str | None = ""
    status_code: int | None = None
    request_id: str | None = ""
    host: str | None = ""
    message: str | None = ""
    level: str | None = ""
    source: str | None = ""
    deployment_id: str | None = ""
    environment: str | None = ""
    proxy: _Proxy | None = None


class _Event(msgspec.Struct, gc=False):
    source: str | None = ""


class RequestLogRow(msgspec.Struct, rename="camel", gc=False):
    """A row of the request-logs API (CLI ``util/logs-v2.ts`` ``ApiLogEntry``): one request."""

    timestamp: str | int | float | None = None
    request_path: str | None = "/"
    request_id: str | None = ""
    status_code: int | None = None
    domain: str | None = ""
    request_method: str | None = ""
    deployment_id: str | None = ""
    environment: str | None = ""
    logs: list[_LogLine] | None = None
    events: list[_Event] | None = None
    duration_ms: int | float | None = None


class _Page(msgspec.Struct, rename="camel"):
    rows: list[RequestLogRow]
    has_more_rows: bool | None = None


Row = TypeVar("Row", ExportRow, TallyRow, DrainRow)

_REQUIRES = {DrainRow: "timestamp", CliRequestRow: "timestamp and requestPath"}
"""The required fields named in errors, by row type (default: requestPath and timestampInMs)."""


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


def _cli_request_records(row: CliRequestRow) -> list[LogRecord]:
    """One record per log line of the request (one if it logged nothing); 0 status = none."""
    host, route = normalize_path(row.request_path)
    status = row.response_status_code
    base = dict(
        ts_ms=row.timestamp, route=route, status=status if status and status > 0 else None,
        request_id=row.id or "", host=host or row.domain or "", method=row.request_method or "",
        deployment_id=row.deployment_id or "", duration_ms=_duration(row.duration_ms),
        source=row.source or "", environment=row.environment or "",
    )
    if not row.logs:
        return [LogRecord(message=row.message or "", level=row.level or "", **base)]
    return [LogRecord(message=line.message or "", level=line.level or "", **base) for line in row.logs]


def _drain_record(row: DrainRow) -> LogRecord | None:
    """``proxy.path`` is the requested path (``path`` may be the function's); statusCode -1
    means no response (the function crashed or timed out): a blank status, as in the export."""
    proxy = row.proxy
    raw_path = (proxy.path if proxy is not None and proxy.path else None) or row.path
    if not raw_path:
        return None  # build / external logs: not a request
    host, route = normalize_path(raw_path)
    status = row.status_code
    if status is None and proxy is not None:
        status = proxy.status_code
    return LogRecord(
        ts_ms=int(row.timestamp),
        route=route,
        status=status if status is not None and status > 0 else None,
        message=row.message or "",
        request_id=row.request_id or "",
        host=host or (proxy.host if proxy is not None and proxy.host else "") or row.host or "",
        method=(proxy.method if proxy is not None else "") or "",
        deployment_id=row.deployment_id or "",
        level=row.level or "",
        source=row.source or "",
        environment=row.environment or "",
    )


# --- errors ---------------------------------------------------------------------------------


def _validation_detail(exc: msgspec.ValidationError,
                       requires: str = "requestPath and timestampInMs") -> tuple[int | None, str]:
    """``(index in the decoded array, readable reason)`` from a msgspec validation error."""
    text = str(exc)
    match = _PATH_AT.search(text)
    index = int(match.group(1)) if match and match.group(1) is not None else None
    field = match.group(2) if match else ""
    reason = text[: match.start()] if match else text
    if field in _EXPECTED and "missing" not in reason:
        reason = f"field '{field}' must be {_EXPECTED[field]} ({reason})"
    elif reason.startswith("Expected `object`"):
        reason = f"expected a JSON object with {requires} ({reason})"
    elif "missing required field" in reason:
        reason = f"{reason}; every row needs {requires}"
    return index, reason


def _sniff(path: Path) -> bytes:
    try:
        with open_input(path) as handle:
            return handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log file ({exc.strerror}).") from None


# --- format detection -----------------------------------------------------------------------


_EXPECTED_FORMATS = ("expected a Vercel dashboard export (JSON array), `vercel logs --json` output, "
                     "Log Drain JSON/NDJSON, or request-logs API pages")
_KEY = re.compile(rb'(?<!\\)"(rows|timestampInMs|requestPath|responseStatusCode|timestamp)"\s*:')


def _format_of(first: bytes, *, array: bool) -> str:
    """The format of a file from the keys of its first object (``first``: its text, maybe cut)."""
    keys = {m.group(1) for m in _KEY.finditer(first)}
    if array:
        return "drain-json" if b"timestamp" in keys and b"timestampInMs" not in keys else "export"
    if b"rows" in keys:
        return "request-logs"
    if b"timestampInMs" in keys:
        return "runtime-logs"
    if keys & {b"requestPath", b"responseStatusCode"}:
        return "cli-requests"
    return "drain-ndjson" if b"timestamp" in keys else "runtime-logs"


def detect_format(path: Path) -> str:
    """``export``, ``cli-requests``, ``runtime-logs``, ``drain-json``, ``drain-ndjson`` or
    ``request-logs``, from the first bytes of the file (see the module docstring)."""
    head = _sniff(path)
    if not head.strip(_WS + b"\xef\xbb\xbf"):
        raise InputError(f"{path}: the file is empty; {_EXPECTED_FORMATS}.")
    if b"\x00" in head:
        raise InputError(
            f"{path}: binary data (NUL byte at byte offset {head.index(0)}); {_EXPECTED_FORMATS}."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (invalid byte at byte offset {exc.start}); {_EXPECTED_FORMATS}."
        ) from None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(_WS)
    lines = text.splitlines()
    if text.startswith(b"["):
        cut = _BOUNDARY.search(text)
        fmt = _format_of(text[: cut.start() + 1] if cut else text, array=True)
        if fmt == "drain-json" and len(lines) > 1 and lines[1].lstrip().startswith(b"["):
            return "drain-ndjson"  # one delivered array per line
        return fmt
    first_json = next((line for line in lines if line.lstrip().startswith(b"{")), None)
    if first_json is not None:
        if not _KEY.search(first_json):  # pretty-printed: the keys follow on the next lines
            first_json = text[text.index(first_json):]
        return _format_of(first_json, array=False)
    if lines[0].startswith(b"Vercel CLI"):
        return "runtime-logs"
    first = lines[0][:80].decode("utf-8", "replace")
    if b"," in lines[0]:
        raise InputError(f"{path}: looks like CSV (first line {first!r}); {_EXPECTED_FORMATS}.")
    raise InputError(
        f"{path}: line 1 starts with {first!r}, which is not a JSON array or object; {_EXPECTED_FORMATS}."
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


def _row_error(path: Path, exc: msgspec.ValidationError, first_row: int,
               requires: str = "requestPath and timestampInMs") -> InputError:
    index, reason = _validation_detail(exc, requires)
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
    requires = _REQUIRES.get(row_type, "requestPath and timestampInMs")
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
                    raise _row_error(path, exc, rows_before, requires) from None
                except msgspec.DecodeError as exc:
                    raise _decode_error(path, exc, head + delta) from None
                if rows:
                    yield rows
                return
            rows, rest = _cut_and_decode(path, decoder, buf, head, filled, delta, rows_before, requires)
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
                    filled: int, delta: int, rows_before: int, requires: str) -> tuple[list, int]:
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
            raise _row_error(path, exc, rows_before, requires) from None
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


def _json_lines(path: Path, max_line: int, decoder: msgspec.json.Decoder, opens: bytes,
                requires: str) -> Iterator[object]:
    """Decoded lines that start with one of ``opens``; other lines (CLI chatter) are skipped."""
    for number, offset, line in _lines(path, max_line):
        stripped = line.strip()
        if not stripped or stripped[:1] not in opens:
            continue  # CLI chatter: banner, "waiting for new logs...", blank lines
        try:
            yield decoder.decode(stripped)
        except msgspec.ValidationError as exc:
            _, reason = _validation_detail(exc, requires)
            raw = msgspec.json.decode(stripped)
            if isinstance(raw, dict) and raw.get("type") == "deployment_error":
                reason = (f"`vercel logs` reported a deployment error instead of logs: "
                          f"{str(raw.get('message') or '')[:300]}")
            raise InputError(f"{path}: line {number} (byte offset {offset}): {reason}.") from None
        except msgspec.DecodeError as exc:
            raise InputError(
                f"{path}: line {number} (byte offset {offset}) starts with {stripped[:1].decode()!r} "
                f"but is not valid JSON ({exc}); expected one JSON log object per line."
            ) from None


def _runtime_log_records(path: Path, max_line: int) -> Iterator[LogRecord]:
    decoder = msgspec.json.Decoder(_StreamRow)
    rows = _json_lines(path, max_line, decoder, b"{", "requestPath and timestampInMs")
    yield from map(_stream_record, rows)


def _cli_records(path: Path, max_line: int) -> Iterator[LogRecord]:
    decoder = msgspec.json.Decoder(CliRequestRow)
    for row in _json_lines(path, max_line, decoder, b"{", _REQUIRES[CliRequestRow]):
        yield from _cli_request_records(row)


def _drain_ndjson_records(path: Path, max_line: int) -> Iterator[LogRecord]:
    decoder = msgspec.json.Decoder(DrainRow | list[DrainRow])
    for item in _json_lines(path, max_line, decoder, b"{[", _REQUIRES[DrainRow]):
        for row in item if isinstance(item, list) else (item,):
            record = _drain_record(row)
            if record is not None:
                yield record


def _drain_json_records(path: Path, chunk_bytes: int) -> Iterator[LogRecord]:
    for batch in export_batches(path, DrainRow, chunk_bytes=chunk_bytes):
        yield from filter(None, map(_drain_record, batch))


def _export_records(path: Path, chunk_bytes: int) -> Iterator[LogRecord]:
    for batch in export_batches(path, ExportRow, chunk_bytes=chunk_bytes):
        yield from map(_export_record, batch)


def _page_records(path: Path, page: _Page, where: str) -> Iterator[LogRecord]:
    """One record per log line of each request, as ``request_logs.export_rows`` flattens it for
    a capture (so a page and its capture read the same); status <= 0 or missing = blank."""
    from reversal.logs.request_logs import SOURCE_TYPES, timestamp_ms

    for index, row in enumerate(page.rows):
        ts = timestamp_ms(row.timestamp)
        if ts is None:
            raise InputError(
                f"{path}: {where}, row {index + 1}: request-logs row has no parseable 'timestamp'; "
                "expected a request-logs row with timestamp, requestPath, statusCode and logs."
            )
        domain = row.domain or ""
        host, route = normalize_path(row.request_path or "/")
        source = (row.events[0].source or "") if row.events else ""
        status = row.status_code
        base = dict(
            ts_ms=ts, route=route, status=status if status is not None and status > 0 else None,
            request_id=row.request_id or "", host=domain or host, method=row.request_method or "",
            deployment_id=row.deployment_id or "", duration_ms=_duration(row.duration_ms),
            source=SOURCE_TYPES.get(source, source), environment=row.environment or "",
        )
        if not row.logs:
            yield LogRecord(**base)
        else:
            for line in row.logs:
                yield LogRecord(message=line.message or "", level=line.level or "", **base)


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


def limits(path: Path) -> tuple[str, ...]:
    """What the file's format cannot count (``model.FORMAT_LIMITS``), for a command to print."""
    from reversal.logs.model import FORMAT_LIMITS

    return FORMAT_LIMITS.get(detect_format(path), ())


def read_records(path: Path, *, chunk_bytes: int = CHUNK_BYTES,
                 max_line: int = MAX_LINE_BYTES) -> Iterator[LogRecord]:
    """Every row of a log file as a ``LogRecord``, streaming, whatever the (detected) format."""
    fmt = detect_format(path)
    if fmt == "export":
        yield from _export_records(path, chunk_bytes)
    elif fmt == "drain-json":
        yield from _drain_json_records(path, chunk_bytes)
    elif fmt == "cli-requests":
        yield from _cli_records(path, max_line)
    elif fmt == "runtime-logs":
        yield from _runtime_log_records(path, max_line)
    elif fmt == "drain-ndjson":
        yield from _drain_ndjson_records(path, max_line)
    else:
        yield from _request_log_records(path, max_line)
