"""The sandbox's platform state: project env, deployments, request log, Inngest events.

One ``Platform`` holds everything the Vercel- and Inngest-shaped servers expose, behind one
lock. Deployment states are a pure function of simulated time (QUEUED, BUILDING, then READY or
ERROR, or BLOCKED before any build), so nothing needs a timer. As on Vercel, the deployment
serving production (the project's ``targets.production``) is not "the newest READY production
deployment": it is the one promoted last. A production deployment built with auto-promotion is
promoted when it becomes READY (``readySubstate`` PROMOTED); a staged one (``vercel deploy --prod
--skip-domain``) is READY but STAGED and serves nothing.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reversal.sandbox.app import FUNCTION_PREFIX, INVALID_SIGNATURE, DurableWork, RequestRecord, iso, ulid

FLAG_NAMES = frozenset({
    "INBOXXIA_EMAIL_SENT_ASYNC", "BACKGROUND_JOBS_USE_INNGEST", "BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK",
    "CRON_RESPONSE_TIMING_USE_INNGEST", "CRON_APPOINTMENT_RECONCILE_USE_INNGEST",
    "CRON_FOLLOWUPS_USE_INNGEST", "CRON_AVAILABILITY_USE_INNGEST",
    "CRON_EMAILBISON_AVAILABILITY_SLOT_USE_INNGEST",
})
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
QUEUED_S = 2.0  # simulated seconds a new deployment stays QUEUED before BUILDING
# The app's vercel.json crons, as every deployment built from it carries them (Vercel's GET
# deployment ``crons: [{schedule, path}]``, @vercel/sdk ``ResponseBodyCrons``).
CRONS: tuple[dict[str, str], ...] = (
    {"path": "/api/cron/background-jobs", "schedule": "* * * * *"},
    {"path": "/api/cron/response-timing", "schedule": "*/5 * * * *"},
    {"path": "/api/cron/appointment-reconcile", "schedule": "* * * * *"},
    {"path": "/api/cron/followups", "schedule": "* * * * *"},
    {"path": "/api/cron/availability", "schedule": "* * * * *"},
    {"path": "/api/cron/emailbison/availability-slot", "schedule": "* * * * *"},
)
CHANGED_SCHEDULE = "*/15 * * * *"  # what cron_change_on_deploy turns the first schedule into


@dataclass
class Deployment:
    id: str
    url: str
    created_ms: int
    ready_ms: int  # when it reaches its terminal state
    target: str | None
    outcome: str  # READY, ERROR or BLOCKED
    env: dict[str, str]
    meta: dict[str, str]
    source: str = "cli"
    promote: bool = True  # a READY production deployment takes the production domain
    crons: list[dict[str, str]] = field(default_factory=lambda: [dict(c) for c in CRONS])
    promoted_ms: int | None = None  # when a release completed to it (it then counts as PROMOTED)

    def state(self, now_ms: int) -> str:
        if now_ms < self.created_ms + QUEUED_S * 1000:
            return "QUEUED"
        if self.outcome == "BLOCKED":  # blocked before the build starts; never builds
            return "BLOCKED"
        if now_ms < self.ready_ms:
            return "BUILDING"
        return self.outcome

    def ready_substate(self, now_ms: int) -> str | None:
        """PROMOTED once it took the production domain, STAGED if READY without it (production only)."""
        if self.target != "production" or self.state(now_ms) != "READY":
            return None
        promoted = self.promote or (self.promoted_ms is not None and now_ms >= self.promoted_ms)
        return "PROMOTED" if promoted else "STAGED"


@dataclass
class Release:
    """A rolling release: ``canary_id`` serves a share of production traffic, ``current_id`` the
    rest. ``shares`` is the split's history, ``(from_ms, canary share)``, so traffic generated
    for a past minute is split as it was then."""

    canary_id: str
    current_id: str
    stages: list[dict[str, Any]]  # targetPercentage, requireApproval, duration (the config's)
    advancement: str
    started_ms: int
    updated_ms: int
    state: str = "ACTIVE"  # ACTIVE | COMPLETE | ABORTED
    active_index: int | None = 0
    shares: list[tuple[int, float]] = field(default_factory=list)

    def share_at(self, ts_ms: int) -> float:
        return next((share for at, share in reversed(self.shares) if at <= ts_ms), 0.0)

    def move(self, now_ms: int, state: str, active_index: int | None) -> None:
        """To another stage (or out of ACTIVE: no split any more)."""
        self.state, self.active_index, self.updated_ms = state, active_index, now_ms
        share = (self.stages[active_index]["targetPercentage"] / 100
                 if state == "ACTIVE" and active_index is not None else 0.0)
        self.shares.append((now_ms, share))


@dataclass
class Platform:
    """Mutable state shared by the servers, the traffic generator and the durable worker."""

    project_id: str
    project_name: str
    team_id: str
    domain: str
    build_ms: int
    flag_trailing_newline: bool = False
    enforce_sensitive: bool = False  # the team's sensitiveEnvironmentVariablePolicy is "on"
    pending_outcomes: list[str] = field(default_factory=list)  # outcomes of the next API deployments
    cron_change_pending: bool = False  # the next API deployment runs a changed cron schedule
    envs: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # Inngest events, oldest first
    seen_event_ids: set[str] = field(default_factory=set)
    # what changed the project, as an audit log would show it (keys and ids, never values)
    audit: list[dict[str, Any]] = field(default_factory=list)
    rolling_plan: bool = True  # the plan has Rolling Releases (knob rolling_releases)
    cron_split: bool = True  # Vercel Cron invocations are split like other requests (knob cron_split)
    instant_rollback: bool = True  # deployments can be rolled back to (knob instant_rollback)
    rolling_config: dict[str, Any] | None = None  # the project's template; None: disabled
    release: Release | None = None  # the latest rolling release document
    promotions: list[tuple[int, str]] = field(default_factory=list)  # (at_ms, id): rollback, complete
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=random.Random)

    # -- project env --------------------------------------------------------------------------
    def add_env(self, key: str, value: str, now_ms: int, *, type_: str = "encrypted",
                target: tuple[str, ...] = ("production", "preview", "development")) -> dict[str, Any]:
        with self.lock:
            entry = {
                "id": "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789")
                              for _ in range(16)),
                "key": key, "value": value, "type": type_, "target": list(target), "gitBranch": None,
                "customEnvironmentIds": [], "comment": None, "configurationId": None,
                "createdAt": now_ms, "updatedAt": now_ms, "createdBy": "user_sandbox", "updatedBy": None,
                "decrypted": True, "system": False, "contentHint": None, "securityIssues": [],
            }
            self.envs.append(entry)
            return entry

    def stored_value(self, key: str, value: str) -> str:
        """What the platform keeps for a written value (the trailing-newline flag fault)."""
        if self.flag_trailing_newline and key in FLAG_NAMES and not value.endswith("\n"):
            return value + "\n"
        return value

    def env_for(self, target: str) -> dict[str, str]:
        with self.lock:
            return {e["key"]: e["value"] for e in self.envs if target in e["target"]}

    # -- deployments --------------------------------------------------------------------------
    def create_deployment(self, now_ms: int, *, target: str | None, meta: Mapping[str, str],
                          source: str = "cli", build_ms: int | None = None, promote: bool = True,
                          outcome: str | None = None, crons: list[dict[str, str]] | None = None
                          ) -> Deployment:
        """A new deployment; unless ``outcome`` is given, it takes the next pending fault outcome.
        ``crons`` are the source's (a redeploy rebuilds the same vercel.json), else the app's."""
        with self.lock:
            if outcome is None:
                outcome = self.pending_outcomes.pop(0) if self.pending_outcomes else "READY"
            crons = [dict(c) for c in (CRONS if crons is None else crons)]
            suffix = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(9))
            deployment = Deployment(
                id="dpl_" + "".join(self.rng.choice(_ALNUM) for _ in range(28)),
                url=f"{self.project_name}-{suffix}-sandbox.vercel.app",
                created_ms=now_ms,
                ready_ms=now_ms + (self.build_ms if build_ms is None else build_ms),
                target=target, outcome=outcome,
                env=self.env_for(target or "preview"), meta=dict(meta), source=source, promote=promote,
                crons=crons,
            )
            self.deployments.append(deployment)
            return deployment

    def take_cron_change(self, crons: list[dict[str, str]]) -> list[dict[str, str]]:
        """The ``cron_change_on_deploy`` fault, once: the first cron runs on another schedule."""
        with self.lock:
            if not self.cron_change_pending or not crons:
                return crons
            self.cron_change_pending = False
            return [{**crons[0], "schedule": CHANGED_SCHEDULE}, *crons[1:]]

    def find_deployment(self, id_or_url: str) -> Deployment | None:
        with self.lock:
            return next((d for d in self.deployments if id_or_url in (d.id, d.url)), None)

    def serving(self, now_ms: int) -> Deployment | None:
        """The production deployment the app's domain points at (``targets.production``) at ``now_ms``:
        the one promoted last, not the newest READY one."""
        with self.lock:
            built = [(d.ready_ms, d.created_ms, d) for d in self.deployments
                     if d.promote and d.ready_substate(now_ms) == "PROMOTED"]
            moved = [(at, 0, d) for at, ident in self.promotions
                     if at <= now_ms and (d := self.find_deployment(ident)) is not None]
        return max(built + moved, key=lambda item: item[:2], default=(0, 0, None))[2]

    def promote_to(self, deployment: Deployment, now_ms: int) -> None:
        """Point production at ``deployment`` from ``now_ms`` on, without a build (Instant
        Rollback, or a rolling release completing)."""
        with self.lock:
            self.promotions.append((now_ms, deployment.id))

    def arm(self, now_ms: int, rng: random.Random, *, cron: bool) -> Deployment | None:
        """The deployment that serves one production request at ``now_ms``: during a rolling
        release, the canary with the current stage's probability (once it is READY), else the
        production deployment. A Vercel Cron invocation stays on production without ``cron_split``.
        No random number is drawn outside a release, so seeded runs are unchanged."""
        base = self.serving(now_ms)
        with self.lock:
            release = self.release
            share = release.share_at(now_ms) if release is not None else 0.0
            if (base is None or release is None or share <= 0 or base.id != release.current_id
                    or (cron and not self.cron_split)):
                return base
            canary = self.find_deployment(release.canary_id)
        if canary is None or canary.state(now_ms) != "READY":
            return base
        return canary if rng.random() < share else base

    # -- what the app did -----------------------------------------------------------------------
    def record(self, record: RequestRecord, work: DurableWork | None) -> DurableWork | None:
        """Keep the request for the logs; publish its event. Returns the work to run, if new."""
        with self.lock:
            self.records.append(record)
            if work is None:
                return None
            if work.kind == "webhook":
                return work
            event = work.event
            self.events.append({
                "internal_id": ulid(work.requested_ms, self.rng), "id": event["published_id"],
                "name": event["name"], "received_at": iso(work.requested_ms), "ts": work.requested_ms,
                "data": {**event["data"], "eventId": event["id"]},
            })
            if event["id"] in self.seen_event_ids:  # Inngest dedupes by event id: one run per key
                return None
            self.seen_event_ids.add(event["id"])
            return work

    def function_failed(self, work: DurableWork, run_id: str, at_ms: int) -> None:
        """The ``inngest/function.failed`` event Inngest emits when a run fails for good."""
        event = work.event
        with self.lock:
            self.events.append({
                "internal_id": ulid(at_ms, self.rng), "id": ulid(at_ms, self.rng),
                "name": "inngest/function.failed", "received_at": iso(at_ms), "ts": at_ms,
                "data": {
                    "function_id": FUNCTION_PREFIX + work.name, "run_id": run_id,
                    "error": {"__serialized": True, "name": "Error", "message": INVALID_SIGNATURE,
                              "error": "invalid status code: 401"},
                    "event": {"name": event["name"], "id": event["id"], "data": event["data"],
                              "ts": event["ts"]},
                },
            })

    def snapshot(self, pick: Callable[[Platform], Any]) -> Any:
        with self.lock:
            return pick(self)
