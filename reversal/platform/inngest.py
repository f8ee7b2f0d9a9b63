"""Inngest ``inngest/function.failed`` events, grouped the way the team found the real bug.

Every run failing with ``Invalid signature`` (401) meant Inngest could not call the app back:
the production ``INNGEST_SIGNING_KEY`` carried a trailing newline. That never showed at the
route (dispatch answered 202); it showed only here. The events API is read with the signing
key as a bearer token; the key never appears in output, errors or artifacts.

The API is read as it really answers (docs/platform-api.md §6.1):

* the open-source server (Dev Server, self-hosted) caps ``limit`` at 51 (``cqrs.MaxEvents``)
  and answers ``{data, metadata}`` with no cursor; its cursor is the ULID ``internal_id`` of the
  last event read (``internal_id < cursor``). Inngest Cloud returns a cursor. Either way pages
  are read until the window is covered: an empty page, events older than its start, or, without
  a cursor, a page shorter than min(limit, 51) — a page of 51 when 100 were asked is the cap,
  not the end, and is reported.
* the open-source server hides internal ``inngest/*`` events from ``/v1/events`` (the REST
  handler never sets ``IncludeInternalEvents``), so ``inngest/function.failed`` cannot be seen
  there. Where the API cannot show them, the report says "not visible here", never "no failures".
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reversal.errors import StepFailed
from reversal.evidence.files import utc_iso
from reversal.secrets import Redactor, describe

FAILED_EVENT = "inngest/function.failed"
INVALID_SIGNATURE = "invalid signature"
PAGE_LIMIT = 100  # Inngest Cloud's documented maximum; the open-source server answers at most 51
OSS_LIMIT = 51
MAX_PAGES = 400
RETRIES = 4
CLOUD_HOST = re.compile(r"(^|\.)inngest\.com$")
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
NOT_VISIBLE = (
    "not visible here: this Inngest server (Dev Server or self-hosted) hides internal inngest/* "
    "events from /v1/events, so function failures cannot be counted through its API; check its "
    "dashboard's runs instead"
)


def _rfc3339(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ts_ms(event: Mapping[str, Any]) -> int | None:
    ts = event.get("ts")
    return int(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None


def _received_ms(event: Mapping[str, Any]) -> int | None:
    """When Inngest received the event (what the window filters on), else its ``ts``."""
    received = event.get("received_at")
    if isinstance(received, str):
        try:
            return int(dt.datetime.fromisoformat(received.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return _ts_ms(event)


def _in_window(event: Mapping[str, Any], since_ms: int, until_ms: int | None) -> bool:
    """Re-checked locally so a server that ignores the window parameters cannot widen it."""
    at = _received_ms(event)
    return at is None or (at >= since_ms and (until_ms is None or at < until_ms))


@dataclass(frozen=True)
class Failure:
    """One ``inngest/function.failed`` event, flattened like the team's evidence samples."""

    id: str | None
    ts: int | None
    function_id: str
    source_event: str
    source_event_id: str | None
    error_message: str
    error_error: str | None

    @property
    def invalid_signature(self) -> bool:
        return INVALID_SIGNATURE in self.error_message.lower()

    @property
    def group(self) -> str:
        return f"{self.function_id} <- {self.source_event}"


def parse_failure(event: Mapping[str, Any]) -> Failure:
    """Tolerant: unknown keys ignored, missing ones become ``None`` / ``"<unknown>"``."""
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    error = data.get("error") if isinstance(data.get("error"), Mapping) else {}
    source = data.get("event") if isinstance(data.get("event"), Mapping) else {}
    message = error.get("message")
    inner = error.get("error")
    return Failure(
        id=event.get("id") or event.get("internal_id"),
        ts=_ts_ms(event) if _ts_ms(event) is not None else _received_ms(event),
        function_id=str(data.get("function_id") or "<unknown>"),
        source_event=str(source.get("name") or "<unknown>"),
        source_event_id=source.get("id"),
        error_message=str(message if message is not None else inner or ""),
        error_error=str(inner) if inner is not None else None,
    )


@dataclass
class InngestFailures:
    """The content of the hand-made ``inngest-invalid-signature-evidence-*.json``."""

    captured_at_ms: int
    since_ms: int
    until_ms: int | None
    total_events_fetched: int
    pages: int
    failures: list[Failure] = field(default_factory=list)
    sample_limit: int = 50
    visible: bool = True  # whether this API can show inngest/function.failed at all
    complete: bool = True  # whether the pages covered the whole window
    requested_limit: int | None = None
    server_limit: int | None = None  # a smaller page size the server answered with (capped)

    @property
    def invalid_signature_failures(self) -> int:
        return sum(f.invalid_signature for f in self.failures)

    def to_json(self) -> dict[str, Any]:
        grouped = Counter(f.group for f in self.failures)
        invalid = Counter(f.group for f in self.failures if f.invalid_signature)
        notes = []
        if not self.visible:
            notes.append(NOT_VISIBLE)
        if self.server_limit is not None:
            notes.append(f"the server capped limit at {self.server_limit} (asked {self.requested_limit}); "
                         "all pages were read")
        if not self.complete:
            notes.append("incomplete: the server gave no cursor to page past the events read; "
                         "the counts are a lower bound")
        return {
            "failedEventsVisible": self.visible,
            "complete": self.complete,
            "requestedLimit": self.requested_limit,
            "serverLimit": self.server_limit,
            "notes": notes,
            "capturedAtUtc": utc_iso(self.captured_at_ms),
            "windowStartUtc": utc_iso(self.since_ms),
            "windowEndUtc": utc_iso(self.until_ms) if self.until_ms is not None else None,
            "pages": self.pages,
            "totalEventsFetched": self.total_events_fetched,
            "functionFailedEvents": len(self.failures) if self.visible else None,
            "invalidSignatureFailures": self.invalid_signature_failures if self.visible else None,
            "groupedByFunctionAndEvent": dict(grouped.most_common()),
            "invalidSignatureByFunctionAndEvent": dict(invalid.most_common()),
            "sample": [dict(f.__dict__) for f in self.failures[: self.sample_limit]],
        }


def _server_cursor(body: Mapping[str, Any]) -> str | None:
    """The cursor sits at the top level in one variant of the response, in ``metadata`` in another."""
    cursor = body.get("cursor")
    if not cursor and isinstance(body.get("metadata"), Mapping):
        cursor = body["metadata"].get("cursor")
    return cursor if isinstance(cursor, str) and cursor else None


def _ulid_of(event: Mapping[str, Any]) -> str | None:
    value = event.get("internal_id")
    return value if isinstance(value, str) and _ULID.fullmatch(value) else None


class InngestClient:
    """The Inngest REST API (``/v1/events``) read with the environment's signing key."""

    def __init__(
        self,
        signing_key: str,
        *,
        base_url: str = "https://api.inngest.com",
        transport: httpx.BaseTransport | None = None,
        page_limit: int = PAGE_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        from reversal.platform.vercel import check_base_url

        check_base_url(base_url, "REVERSAL_INNGEST_API (or inngest_api: in reversal.yaml)")
        self.key_shape = describe("INNGEST_SIGNING_KEY", signing_key)
        self._redact = Redactor([signing_key])
        self._sleep, self._clock_ms, self._page_limit = sleep, clock_ms, page_limit
        self.cloud = bool(CLOUD_HOST.search(httpx.URL(base_url).host))
        self.pages = 0  # pages read by the last ``events`` iteration
        self.complete = True  # whether the last ``events`` iteration covered its window
        self.server_limit: int | None = None  # a capped page size seen by the last iteration
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            # The key is sent trimmed: a stray newline is a deploy-time bug this check reports
            # (``key_shape``), not a reason to fail the request itself.
            headers={"Authorization": f"Bearer {signing_key.strip()}", "Accept": "application/json"},
            transport=transport,
            timeout=httpx.Timeout(30, connect=10),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InngestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, params: dict[str, Any]) -> Mapping[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.get("/v1/events", params=params)
            except httpx.HTTPError as exc:
                raise StepFailed(f"Inngest events API unreachable: {self._redact(str(exc))}") from None
            if response.status_code == 429 and attempt < RETRIES:
                from reversal.platform.vercel import retry_after_s

                after = retry_after_s(response.headers.get("retry-after"), self._clock_ms())
                self._sleep(after if after is not None else 2.0 ** attempt)
                continue
            break
        if response.status_code in (401, 403):
            raise StepFailed(
                f"Inngest refused the signing key ({response.status_code}): check that "
                f"INNGEST_SIGNING_KEY is this environment's key (length {self.key_shape.length}, "
                f"surrounding whitespace: {self.key_shape.leading_or_trailing_whitespace}). "
                f"Body: {self._redact(response.text[:300])}"
            )
        if response.status_code != 200:
            raise StepFailed(
                f"Inngest events API answered {response.status_code}: {self._redact(response.text[:300])}"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or not isinstance(body.get("data", []), list):
            raise StepFailed(
                "Inngest events API returned no JSON object with a 'data' list: "
                f"{self._redact(response.text[:300])}"
            )
        return body

    def events(self, name: str, since_ms: int, until_ms: int | None = None) -> Iterator[dict[str, Any]]:
        """Events named ``name`` received in the window, newest first, across all pages, until
        the window is covered: an empty page, a page reaching back before ``since_ms``, no further
        cursor, or (no cursor) a page shorter than min(limit, 51), the open-source server's cap."""
        params: dict[str, Any] = {"name": name, "received_after": _rfc3339(since_ms),
                                  "limit": self._page_limit}
        if until_ms is not None:
            params["received_before"] = _rfc3339(until_ms)
        seen_cursors: set[str] = set()
        seen_ids: set[str] = set()
        self.complete, self.server_limit = True, None
        for page in range(1, MAX_PAGES + 1):
            body = self._get(params)
            data = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
            self.pages = page
            if not data:
                return
            for event in data:
                key = str(event.get("internal_id") or event.get("id") or "")
                if key and key in seen_ids:
                    continue
                seen_ids.add(key)
                yield dict(event)
            oldest = _received_ms(data[-1])
            if oldest is not None and oldest < since_ms:
                return
            cursor = _server_cursor(body)
            if cursor is None:
                # No cursor: the open-source server, whose pages hold min(limit, 51) events and
                # which pages by the last ULID internal_id. Fewer than that: the last page.
                if len(data) < min(self._page_limit, OSS_LIMIT):
                    return
                if len(data) < self._page_limit:
                    self.server_limit = len(data)
                cursor = _ulid_of(data[-1])
                if cursor is None:
                    self.complete = False
                    return
            if cursor in seen_cursors:
                return
            seen_cursors.add(cursor)
            params["cursor"] = cursor
        raise StepFailed(
            f"Inngest events API still had more pages after {MAX_PAGES} x {self._page_limit} events; "
            "narrow the window with a later --since."
        )

    def failed_functions(self, since_ms: int, until_ms: int | None = None) -> InngestFailures:
        """``inngest/function.failed`` events since ``since_ms``, grouped by function and source event."""
        self.pages = 0
        fetched = list(self.events(FAILED_EVENT, since_ms, until_ms))
        failures = [
            parse_failure(e)
            for e in fetched
            if e.get("name", FAILED_EVENT) == FAILED_EVENT and _in_window(e, since_ms, until_ms)
        ]
        return InngestFailures(
            captured_at_ms=self._clock_ms(),
            since_ms=since_ms,
            until_ms=until_ms,
            total_events_fetched=len(fetched),
            pages=self.pages,
            failures=failures,
            # Cloud shows internal events; elsewhere only seeing one proves they are shown
            visible=self.cloud or bool(failures),
            complete=self.complete,
            requested_limit=self._page_limit,
            server_limit=self.server_limit,
        )
