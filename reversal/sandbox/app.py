"""The simulated app: the seed's routes as one pure function of (request, env, time, rng).

``handle`` is what both the loopback HTTP app server (probes) and the traffic generator
(synthetic crons, webhook bursts, inbox reads) call, so every request the request-logs API
later shows went through the same code. A route whose flag, in the env snapshot of the
deployment serving production, is not *exactly* the playbook's ``on`` value runs inline: slow
and failing at its configured rate with the real messages and statuses from
``fixtures/zrg``. With the flag on it answers the dispatch-only contract of the offload spec
(202, deterministic ``dispatchKey`` bucket, ``event.id = <event>:<dispatchKey>``) and hands
the work to the durable worker; the webhook with ``INBOXXIA_EMAIL_SENT_ASYNC`` on answers 200
and enqueues a ``WebhookEvent``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from reversal.playbooks import DispatchExpectation

CRON_UA = "vercel-cron/1.0"
WEBHOOK_UA = "GuzzleHttp/7"
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/144.0.0.0 Safari/537.36"
)
FUNCTION_PREFIX = "zrg-dashboard-"  # Inngest app id prefix of every function id
INVALID_SIGNATURE = "Invalid signature"
EMERGENCY_FALLBACK = "BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK"
_RECONCILE_PARAMS = ("workspaceLimit", "leadsPerWorkspace", "staleDays", "clientId", "dryRun")


def timeout_message(seconds: int) -> str:
    return f"Vercel Runtime Timeout Error: Task timed out after {seconds} seconds"


def _query_wait(prefix: str) -> str:
    return (
        f"{prefix} Error [DriverAdapterError]: query_wait_timeout\n"
        "    at H.onError (.next/server/chunks/9750.js:1:8954)\n"
        "    at H.performIO (.next/server/chunks/9750.js:1:8895)\n"
        "    at async H.queryRaw (.next/server/chunks/9750.js:1:5841) {\n"
        "  clientVersion: '7.1.0',\n  [cause]: [Object]\n}"
    )


def _expired_transaction(rng: random.Random) -> str:
    return (
        "[Cron] Response timing processing error: Error [PrismaClientKnownRequestError]: \n"
        "Invalid `prisma.responseTimingEvent.update()` invocation:\n\n\n"
        "Transaction API error: A query cannot be executed on an expired transaction. The timeout "
        f"for this transaction was 5000 ms, however {rng.randint(5027, 5039)} ms passed since the "
        "start of the transaction. Consider increasing the interactive transaction timeout or "
        "doing less work in the transaction.\n"
        "    at async (.next/server/app/api/cron/response-timing/route.js:171:543)\n"
        "    at async i (.next/server/app/api/cron/response-timing/route.js:1:1488)\n"
        "    at async h (.next/server/app/api/cron/response-timing/route.js:171:12076) {\n"
        "  code: 'P2028',\n  meta: [Object],\n  clientVersion: '7.1.0'\n}"
    )


def _unable_to_start(rng: random.Random) -> str:
    return (
        "[Cron] Response timing processing error: Error [PrismaClientKnownRequestError]: "
        "Transaction API error: Unable to start a transaction in the given time.\n"
        "    at async i (.next/server/app/api/cron/response-timing/route.js:1:1488)\n"
        "    at async h (.next/server/app/api/cron/response-timing/route.js:171:12076)\n"
        "    at async k (.next/server/app/api/cron/response-timing/route.js:171:9010)\n"
        "    at async j (.next/server/app/api/cron/response-timing/route.js:171:10019) {\n"
        "  code: 'P2028',\n  meta: {},\n  clientVersion: '7.1.0'\n}"
    )


def _conversations_p2028(rng: random.Random) -> str:
    return (
        "Failed to fetch conversations with cursor: {\n"
        f"  debugId: '{uuid.UUID(int=rng.getrandbits(128), version=4)}',\n  errorClass: 'unknown'\n"
        "} Error [PrismaClientKnownRequestError]: Transaction API error: Unable to start a "
        "transaction in the given time.\n"
        "    at async Z (.next/server/chunks/8944.js:95:10295)\n"
        "    at async $ (.next/server/chunks/8944.js:95:10471)\n"
        "    at async j (.next/server/app/api/inbox/conversations/route.js:1:8889) {\n"
        "  code: 'P2028',\n  meta: {},\n  clientVersion: '7.1.0'\n}"
    )


@dataclass(frozen=True)
class FailureMode:
    """One way a route fails inline: status (None = blank), sim duration, error message."""

    weight: float
    status: int | None
    duration_ms: tuple[int, int]
    message: Any  # str, or a function of the rng for messages with varying parts

    def render(self, rng: random.Random) -> str:
        return self.message(rng) if callable(self.message) else self.message


def _timeout(weight: float, seconds: int, status: int | None = 504) -> FailureMode:
    limit = seconds * 1000
    return FailureMode(weight, status, (limit + 1, limit + 3), timeout_message(seconds))


@dataclass(frozen=True)
class Route:
    path: str
    slice: str | None  # None: keep-sync barometer (/api/inbox/*), never migrated
    methods: tuple[str, ...]
    auth: bool  # cron auth (Bearer CRON_SECRET or x-cron-secret) required
    flag: str | None
    flag_on: str
    key_template: str | None  # DispatchExpectation template, as in the built-in playbook
    event: str | None
    function: str | None  # BackgroundFunctionRun.functionName
    default_failure_rate: float
    failures: tuple[FailureMode, ...]
    ok_ms: tuple[int, int]  # inline success duration range (simulated)
    info: str  # the info line every inline invocation logs first

    @property
    def dispatch(self) -> DispatchExpectation:
        return DispatchExpectation(202, {"mode": "dispatch-only"}, self.key_template, self.event)

    @property
    def source(self) -> str:
        return "cron/" + (self.event or "").split("/", 1)[-1].removesuffix(".requested")


TARGET_RATE = 0.6

ROUTES: dict[str, Route] = {r.path: r for r in (
    Route("/api/webhooks/email", "webhooks-email", ("POST",), False,
          "INBOXXIA_EMAIL_SENT_ASYNC", "true", None, None, None, TARGET_RATE,
          (_timeout(0.97, 60), _timeout(0.03, 60, None)), (800, 9000),
          "[Inboxxia Webhook] Received event: EMAIL_SENT | workspace: Founders Club | lead: {lead}"),
    Route("/api/cron/background-jobs", "background-jobs", ("GET", "POST"), True,
          "BACKGROUND_JOBS_USE_INNGEST", "true", "background-jobs:v1:60:{bucket_iso:1m}",
          "background/process.requested", "process-background-jobs", TARGET_RATE,
          (FailureMode(1, 500, (8000, 30000), _query_wait("[Cron] Webhook event processing failed:")),),
          (1500, 8000), "[Cron] Background jobs: processing due webhook events"),
    Route("/api/cron/response-timing", "response-timing", ("GET", "POST"), True,
          "CRON_RESPONSE_TIMING_USE_INNGEST", "true", "cron:response-timing:{bucket:5m}",
          "cron/response-timing.requested", "cron-response-timing", TARGET_RATE,
          (FailureMode(0.6, 500, (5030, 7000), _expired_transaction),
           FailureMode(0.4, 500, (2000, 4000), _unable_to_start)),
          (3000, 6000), "[Cron] Response timing: scanning pending events"),
    Route("/api/cron/appointment-reconcile", "appointment-reconcile", ("GET", "POST"), True,
          "CRON_APPOINTMENT_RECONCILE_USE_INNGEST", "true", "cron:appointment-reconcile:{bucket:1m}",
          "cron/appointment-reconcile.requested", "cron-appointment-reconcile", TARGET_RATE,
          (FailureMode(0.65, 500, (10000, 60000), _query_wait("[Appointment Reconcile Cron] Error:")),
           _timeout(0.35, 800)),
          (20000, 110000), "[Appointment Reconcile Cron] Starting reconciliation..."),
    Route("/api/cron/followups", "followups", ("GET", "POST"), True,
          "CRON_FOLLOWUPS_USE_INNGEST", "true", "cron:followups:{bucket:1m}",
          "cron/followups.requested", "cron-followups", TARGET_RATE,
          (FailureMode(0.9, 500, (10000, 60000), _query_wait("[Followups Cron] Error:")),
           _timeout(0.1, 800)),
          (5000, 40000), "[Followups Cron] Processing due follow-ups"),
    Route("/api/cron/availability", "availability", ("GET", "POST"), True,
          "CRON_AVAILABILITY_USE_INNGEST", "true", "cron:availability:{bucket:1m}",
          "cron/availability.requested", "cron-availability", TARGET_RATE,
          (_timeout(1, 60),), (4000, 30000), "[Availability Cron] Refreshing availability cache"),
    Route("/api/cron/emailbison/availability-slot", "emailbison-availability-slot", ("GET", "POST"),
          True, "CRON_EMAILBISON_AVAILABILITY_SLOT_USE_INNGEST", "true",
          "cron:emailbison-availability-slot:{bucket:1m}",
          "cron/emailbison-availability-slot.requested", "cron-emailbison-availability-slot",
          TARGET_RATE, (_timeout(0.98, 60), _timeout(0.02, 60, None)), (4000, 30000),
          "[EmailBison Availability Slot Cron] Computing first-touch slots"),
    Route("/api/inbox/conversations", None, ("GET",), False, None, "", None, None, None, 0.2,
          (_timeout(0.55, 300), FailureMode(0.45, 500, (5000, 120000), _conversations_p2028)),
          (300, 4000), ""),
    Route("/api/inbox/counts", None, ("GET",), False, None, "", None, None, None, 0.1,
          (_timeout(1, 300),), (200, 2500), ""),
)}

SLICES = {r.slice: r.path for r in ROUTES.values() if r.slice}


def resolve_route(name: str) -> str:
    """A route path from a path or a slice name (knobs accept both)."""
    if name in ROUTES:
        return name
    if name in SLICES:
        return SLICES[name]
    raise ValueError(f"unknown sandbox route or slice {name!r}; known: {', '.join(sorted(SLICES))}")


@dataclass(frozen=True)
class AppRequest:
    method: str
    path: str  # as received, query string included
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    synthetic: bool = False  # sent by the traffic generator (scheduled cron, webhook, inbox read)


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str
    offset_ms: int = 0  # from the request start


@dataclass(frozen=True)
class RequestRecord:
    """One request as the request-logs API reports it (its log lines nested)."""

    request_id: str
    ts_ms: int
    method: str
    path: str  # without query
    status: int | None  # None: blank (no response recorded)
    duration_ms: int
    deployment_id: str
    user_agent: str
    lines: tuple[LogLine, ...]


@dataclass(frozen=True)
class DurableWork:
    """Work handed to the durable worker: an Inngest run, or a WebhookEvent to drain."""

    kind: Literal["run", "webhook"]
    name: str  # functionName, or the webhook eventType
    key: str  # dispatchKey (idempotency) or WebhookEvent.dedupeKey
    correlation_id: str
    requested_ms: int
    signature_ok: bool = True  # INNGEST_SIGNING_KEY of the serving deployment is clean
    event: Mapping[str, Any] = field(default_factory=dict)  # the triggering Inngest event


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes
    headers: Mapping[str, str]
    record: RequestRecord
    work: DurableWork | None = None


def iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms: int, rng: random.Random) -> str:
    value = (ms << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def request_id(ms: int, rng: random.Random) -> str:
    edge = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
    return f"{edge}-{ms}-{rng.getrandbits(48):012x}"


CONTENTION_FLOOR = 0.3  # barometer failure rate left when every migratable route is offloaded
OFF_SCHEDULE_LOAD = 0.25  # share of the inline failure rate a request off the cron schedule sees


def inline_share(env: Mapping[str, str]) -> float:
    """Share of the migratable routes still running inline. Contention grows faster than the
    load (a saturated connection pool), so barometers fail with the cube of this share."""
    migratable = [r for r in ROUTES.values() if r.slice]
    return sum(not flag_on(r, env) for r in migratable) / len(migratable)


def flag_on(route: Route, env: Mapping[str, str]) -> bool:
    """Dispatch-only iff the flag is exactly the on value (``"true\\n"`` is not ``"true"``)."""
    if route.flag is None or env.get(route.flag) != route.flag_on:
        return False
    return not (route.path == "/api/cron/background-jobs" and env.get(EMERGENCY_FALLBACK) == "true")


def authorized(headers: Mapping[str, str], env: Mapping[str, str]) -> bool:
    secret = env.get("CRON_SECRET")
    if not secret:
        return False
    return headers.get("authorization") == f"Bearer {secret}" or headers.get("x-cron-secret") == secret


def _json(status: int, obj: Any) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(obj, separators=(",", ":")).encode(), {"content-type": "application/json"}


def _dispatch_key(route: Route, now_ms: int, query: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    key = route.dispatch.expected_key(now_ms) or ""
    params = {k: query[k] for k in _RECONCILE_PARAMS if k in query} if route.slice == (
        "appointment-reconcile") else {}
    if params:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        key = f"{key}:{digest}"
    return key, params


def _dispatch(route: Route, env: Mapping[str, str], now_ms: int, rng: random.Random,
              query: Mapping[str, str]) -> tuple[dict[str, Any], DurableWork]:
    key, params = _dispatch_key(route, now_ms, query)
    seconds = route.dispatch.bucket_seconds() or 60
    window_start = now_ms // (seconds * 1000) * seconds * 1000
    correlation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    dispatch: dict[str, Any] = {
        "source": route.source, "requestedAt": iso(now_ms), "dispatchKey": key,
        "correlationId": correlation, "dispatchWindowStart": iso(window_start),
        "dispatchWindowSeconds": seconds,
    }
    if params:
        dispatch["params"] = params
    event_id = f"{route.event}:{key}"
    published = ulid(now_ms, rng)
    body = {
        "success": True, "mode": "dispatch-only", "dispatch": dispatch,
        "event": {"name": route.event, "id": event_id}, "publishedEventIds": [published],
        "timestamp": iso(now_ms),
    }
    signing_key = env.get("INNGEST_SIGNING_KEY", "")
    event = {"name": route.event, "id": event_id, "published_id": published, "data": dispatch,
             "ts": now_ms}
    work = DurableWork("run", route.function or "", key, correlation, now_ms,
                       bool(signing_key) and signing_key == signing_key.strip(), event)
    return body, work


def _inline_failure(route: Route, rng: random.Random) -> FailureMode:
    pick = rng.random() * sum(f.weight for f in route.failures)
    for mode in route.failures:
        pick -= mode.weight
        if pick <= 0:
            return mode
    return route.failures[-1]


def _lead(rng: random.Random) -> str:
    return f"user-{rng.getrandbits(40):010x}@example.com"


def handle(
    request: AppRequest,
    env: Mapping[str, str],
    now_ms: int,
    rng: random.Random,
    *,
    deployment_id: str,
    failure_rates: Mapping[str, float] | None = None,
    offload_does_not_help: frozenset[str] = frozenset(),
) -> Outcome:
    """Serve one request as the deployment whose env snapshot is ``env`` would, at ``now_ms``."""
    raw_path, _, raw_query = request.path.partition("?")
    query = dict(parse_qsl(raw_query))
    ua = request.headers.get("user-agent", "")
    rid = request_id(now_ms, rng)

    def done(status: int, body: bytes, headers: Mapping[str, str], duration: int,
             lines: tuple[LogLine, ...] = (), work: DurableWork | None = None,
             logged_status: int | Literal["same"] | None = "same") -> Outcome:
        record = RequestRecord(rid, now_ms, request.method, raw_path,
                               status if logged_status == "same" else logged_status,
                               duration, deployment_id, ua, lines)
        return Outcome(status, body, {**headers, "x-vercel-id": f"iad1::{rid}"}, record, work)

    if raw_path.startswith("//"):
        location = "/" + raw_path.lstrip("/") + (f"?{raw_query}" if raw_query else "")
        return done(308, b"Redirecting...", {"location": location, "content-type": "text/plain"}, 1)
    route = ROUTES.get(raw_path)
    if route is None:
        return done(*_json(404, {"error": "Not Found"}), 3)
    if request.method not in route.methods:
        return done(*_json(405, {"error": "Method Not Allowed"}), 2)
    headers_out = {"x-matched-path": route.path}
    if route.auth and not authorized(request.headers, env):
        status, body, headers = _json(401, {"error": "Unauthorized"})
        return done(status, body, {**headers, **headers_out}, rng.randint(5, 40))
    rates = failure_rates or {}
    rate = rates.get(route.path, route.default_failure_rate)
    if route.slice is None:  # barometers fail from contention with the inline routes
        rate *= CONTENTION_FLOOR + (1 - CONTENTION_FLOOR) * inline_share(env) ** 3
    elif not request.synthetic:  # failures are load-driven: a lone call off the schedule mostly passes
        rate *= OFF_SCHEDULE_LOAD
    dispatched = flag_on(route, env)
    still_failing = dispatched and request.synthetic and route.path in offload_does_not_help
    if dispatched and not still_failing:
        duration = rng.randint(60, 250)
        if route.event is None:  # the webhook: queue-first into WebhookEvent
            dedupe = f"inboxxia:EMAIL_SENT:{rid}"
            work = DurableWork("webhook", "EMAIL_SENT", dedupe, rid, now_ms,
                               event={"payload": {"eventType": "EMAIL_SENT", "requestId": rid}})
            status, body, headers = _json(200, {"success": True, "queued": True, "mode": "queue-first",
                                                "eventType": "EMAIL_SENT"})
            lines = (LogLine("info", route.info.format(lead=_lead(rng))),
                     LogLine("info", f"[Email Webhook] EMAIL_SENT queued (dedupeKey={dedupe})", 40))
            return done(status, body, {**headers, **headers_out}, duration, lines, work)
        payload, work = _dispatch(route, env, now_ms, rng, query)
        status, body, headers = _json(202, payload)
        lines = (LogLine("info", f"[Cron] {route.source} dispatch-only: published {route.event} "
                                 f"(dispatchKey={work.key})", duration - 10),)
        return done(status, body, {**headers, **headers_out}, duration, lines, work)
    info = (LogLine("info", route.info.format(lead=_lead(rng))),) if route.info else ()
    if rng.random() < rate:
        mode = _inline_failure(route, rng)
        duration = rng.randint(*mode.duration_ms)
        message = mode.render(rng)
        lines = (*info, LogLine("error", message, duration))
        if mode.status == 504 or mode.status is None:
            body = f"An error occurred with your deployment\n\nFUNCTION_INVOCATION_TIMEOUT\n\n{rid}\n"
            return done(504, body.encode(), {"content-type": "text/plain", **headers_out}, duration,
                        lines, logged_status=mode.status)
        status, body, headers = _json(500, {"success": False, "error": message.splitlines()[0]})
        return done(status, body, {**headers, **headers_out}, duration, lines)
    duration = rng.randint(*route.ok_ms)
    result: dict[str, Any] = {"success": True, "durationMs": duration, "timestamp": iso(now_ms + duration)}
    if route.path == "/api/cron/response-timing":
        result = {"success": True, "inserted": 0, "updatedSetter": 0, "updatedAi": 0, "exhausted": False,
                  **result}
    elif route.path == "/api/inbox/conversations":
        result = {"conversations": [], "nextCursor": None}
    elif route.path == "/api/inbox/counts":
        result = {"counts": {"all": 0, "unread": 0, "needsReply": 0}}
    status, body, headers = _json(200, result)
    return done(status, body, {**headers, **headers_out}, duration, info)
