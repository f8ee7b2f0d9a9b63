"""HTTP probes of a route: does it honour the dispatch-only (or inline) contract, auth intact?

The probe tells apart what looked alike during the hand-run loop: a base URL with a trailing
slash produced ``//api/...`` and a 308 that read as a route failure, so URLs are joined
canonically and a 3xx is reported as a URL problem with its Location (never followed). A 202
proves only that an event was sent, so the dispatch key and event id are checked against the
playbook's deterministic rule; and the route must still refuse an unauthenticated request.
Every exchange is kept for the evidence file, with secrets redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from reversal.clock import Clock
from reversal.errors import InputError
from reversal.evidence.files import utc_iso, write_json
from reversal.playbooks import DispatchExpectation, Playbook
from reversal.secrets import REDACTED, Redactor

Expect = Literal["dispatch", "inline"]
_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def join_url(base: str, route: str) -> str:
    """``base`` + ``route`` with exactly one slash between them, whatever either carries."""
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"app URL {base!r} is not an absolute http(s) URL; expected e.g. https://app.example.com "
            "(set REVERSAL_APP_URL, app_url in reversal.yaml, or --app-url)."
        )
    if parts.query or parts.fragment:
        raise InputError(f"app URL {base!r} must not carry a query string or fragment.")
    return base.strip().rstrip("/") + "/" + route.lstrip("/")


@dataclass
class ProbeResult:
    ok: bool
    expect: Expect
    url: str
    status: int | None
    problems: list[str]
    dispatch_key: str | None
    event_id: str | None
    requested_at_ms: int
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    unauthorized_status: int | None = None
    location: str | None = None

    def request_ids(self) -> list[str]:
        """The platform's ids of the probe's requests: the marker capture liveness looks for
        (``reversal.logs.liveness``). Vercel answers every request with ``x-vercel-id:
        <edge>::<requestId>`` (e.g. ``yul1::2c8dd-1771384544933-13e91ad0e7da``), and the request
        logs, dashboard exports and drains key the request by that same ``requestId``."""
        found = (vercel_request_id(e.get("responseHeaders", {}).get("x-vercel-id")) for e in self.exchanges)
        return [rid for rid in found if rid]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expect": self.expect,
            "url": self.url,
            "status": self.status,
            "problems": self.problems,
            "dispatchKey": self.dispatch_key,
            "eventId": self.event_id,
            "requestedAtUtc": utc_iso(self.requested_at_ms),
            "requestedAtMs": self.requested_at_ms,
            "unauthorizedStatus": self.unauthorized_status,
            "location": self.location,
            "exchanges": self.exchanges,
            "requestIds": self.request_ids(),
        }


def vercel_request_id(header: str | None) -> str | None:
    """The request id in an ``x-vercel-id`` header: its last ``::`` part (the edge regions come
    first), or None."""
    rid = (header or "").split(",")[-1].strip().rsplit("::", 1)[-1]
    return rid or None


def write_probe_artifact(result: ProbeResult, path: Path) -> Path:
    """The probe evidence file, written atomically (already redacted by construction)."""
    return write_json(path, result.to_json())


def _scrub(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    return value


def _headers(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        name = name.lower()
        if name in _SENSITIVE_HEADERS:
            scheme = value.split(" ", 1)[0] if name.endswith("authorization") and " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _exchange(response: httpx.Response, redact: Redactor) -> dict[str, Any]:
    request = response.request
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return _scrub(
        {
            "request": f"{request.method} {request.url} HTTP/1.1",
            "requestHeaders": _headers(request.headers),
            "status": response.status_code,
            "httpVersion": response.http_version,
            "responseHeaders": _headers(response.headers),
            "body": body,
        },
        redact,
    )


def _dig(body: Any, path: str) -> Any:
    """``a.b`` in a JSON object; ``...`` (Ellipsis) when any step is absent."""
    for part in path.split("."):
        if not isinstance(body, Mapping) or part not in body:
            return ...
        body = body[part]
    return body


def _accepted_keys(expectation: DispatchExpectation, sent_ms: int, done_ms: int) -> list[str]:
    """The request's bucket, and the next one when the request straddled a bucket boundary."""
    keys = [expectation.expected_key(sent_ms), expectation.expected_key(done_ms)]
    return [k for i, k in enumerate(keys) if k is not None and k not in keys[:i]]


def _check_dispatch(
    body: Any, expectation: DispatchExpectation, sent_ms: int, done_ms: int
) -> tuple[list[str], str | None, str | None]:
    problems = []
    for key, wanted in expectation.json.items():
        got = _dig(body, key)
        if got != wanted:
            shown = "absent" if got is ... else json.dumps(got)
            problems.append(f"JSON field '{key}' is {shown}, expected {json.dumps(wanted)}")
    key = _dig(body, "dispatch.dispatchKey")
    key = _dig(body, "dispatchKey") if key is ... else key
    dispatch_key = key if isinstance(key, str) else None
    accepted = _accepted_keys(expectation, sent_ms, done_ms)
    if accepted and dispatch_key is None:
        problems.append("response carries no dispatch.dispatchKey")
    elif accepted and dispatch_key not in accepted:
        problems.append(
            f"dispatchKey {dispatch_key!r} does not match the bucket rule {expectation.dispatch_key!r} "
            f"for a request at {utc_iso(sent_ms)} (expected {' or '.join(map(repr, accepted))})"
        )
    event = _dig(body, "event.id")
    event_id = event if isinstance(event, str) else None
    if expectation.event:
        if event_id is None:
            problems.append("response carries no event.id")
        elif dispatch_key is not None and event_id != f"{expectation.event}:{dispatch_key}":
            problems.append(
                f"event id {event_id!r} is not deterministic: expected "
                f"'{expectation.event}:{dispatch_key}' (<event name>:<dispatchKey>)"
            )
    return problems, dispatch_key, event_id


def _vercel_protection(response: httpx.Response) -> bool:
    return response.status_code == 401 and "_vercel_sso" in response.headers.get("set-cookie", "")


def probe_url(
    *,
    http: httpx.Client,
    url: str,
    playbook: Playbook,
    expect: Expect,
    secret: str | None,
    clock: Clock,
    check_unauthorized: bool = True,
) -> ProbeResult:
    """Probe an already-built URL (``probe_route`` builds it canonically from the app URL)."""
    spec = playbook.probe
    if spec is None:
        raise InputError(
            f"slice {playbook.slice} has no 'probe' section: it is verified passively and must "
            "not receive synthetic requests."
        )
    if expect == "dispatch" and spec.dispatch is None:
        raise InputError(f"slice {playbook.slice}: 'probe.dispatch' is missing, nothing to expect.")
    redact = Redactor([secret])
    auth = {"Authorization": f"Bearer {secret.strip()}"} if secret else {}
    sent_ms = clock.now_ms()
    result = ProbeResult(False, expect, redact(url), None, [], None, None, sent_ms)
    try:
        response = http.request(spec.method, url, headers=auth, follow_redirects=False)
    except httpx.HTTPError as exc:
        result.problems.append(f"request failed: {redact(str(exc)) or type(exc).__name__}")
        return result
    done_ms = clock.now_ms()
    result.status = response.status_code
    result.exchanges.append(_exchange(response, redact))
    if response.is_redirect:
        result.location = redact(response.headers.get("location", ""))
        result.problems.append(
            f"URL problem, not a route failure: {response.status_code} redirect to "
            f"{result.location or '(no Location)'}; probe the canonical URL (check the app URL for a "
            "trailing slash or a non-canonical host)"
        )
        return result
    if secret is None:
        result.problems.append(f"no bearer secret ({spec.bearer_env or 'CRON_SECRET'}) was sent")
    if _vercel_protection(response):
        result.problems.append(
            "Vercel Deployment Protection answered 401 before the route ran (SSO cookie set); "
            "probe a URL without protection or use a bypass token"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if expect == "dispatch":
        assert spec.dispatch is not None
        if response.status_code != spec.dispatch.status:
            result.problems.append(
                f"status {response.status_code}, expected {spec.dispatch.status} (dispatch-only)"
            )
        problems, result.dispatch_key, result.event_id = _check_dispatch(
            body, spec.dispatch, sent_ms, done_ms
        )
        result.problems.extend(problems)
    else:
        if response.status_code != spec.inline_status:
            result.problems.append(f"status {response.status_code}, expected {spec.inline_status} (inline)")
        if _dig(body, "mode") == "dispatch-only":
            result.problems.append("route still answers mode=dispatch-only; the flag is not off yet")
    if check_unauthorized:
        _check_unauthorized(http, url, spec.method, result, redact)
    result.ok = not result.problems
    return result


def _check_unauthorized(
    http: httpx.Client, url: str, method: str, result: ProbeResult, redact: Redactor
) -> None:
    try:
        response = http.request(method, url, follow_redirects=False)
    except httpx.HTTPError as exc:
        result.problems.append(f"unauthenticated request failed: {redact(str(exc)) or type(exc).__name__}")
        return
    result.unauthorized_status = response.status_code
    result.exchanges.append(_exchange(response, redact))
    if response.status_code != 401:
        verdict = "auth is NOT preserved" if response.is_success else "expected 401"
        result.problems.append(
            f"unauthenticated request got {response.status_code}: {verdict} (the route must refuse "
            "requests without the bearer secret)"
        )


def probe_route(
    *,
    http: httpx.Client,
    app_url: str,
    playbook: Playbook,
    expect: Expect,
    secret: str | None,
    clock: Clock,
    check_unauthorized: bool = True,
) -> ProbeResult:
    """Probe ``playbook.route`` on ``app_url`` and check the dispatch-only or inline contract."""
    return probe_url(
        http=http,
        url=join_url(app_url, playbook.route),
        playbook=playbook,
        expect=expect,
        secret=secret,
        clock=clock,
        check_unauthorized=check_unauthorized,
    )


def liveness_request(*, http: httpx.Client, url: str, playbook: Playbook, clock: Clock) -> dict[str, Any]:
    """One request of the loop's own to the route that the route refuses without doing its work,
    so its request id can be looked for in a captured window (``reversal.logs.liveness``): the
    probe's method without credentials (401) on an authenticated route, ``OPTIONS`` on a passive
    slice (no synthetic webhook is ever sent; Next.js answers OPTIONS without running the
    handler). A request that gets no answer raises ``httpx.HTTPError``."""
    method = playbook.probe.method if playbook.probe is not None and playbook.probe.bearer_env else "OPTIONS"
    sent = clock.now_ms()
    response = http.request(method, url, follow_redirects=False)
    exchange = _exchange(response, Redactor([]))
    return {"atMs": sent, "doneMs": clock.now_ms(), "method": method, "status": response.status_code,
            "requestId": vercel_request_id(response.headers.get("x-vercel-id")), "exchange": exchange}
