"""What the state machine needs from the outside world, as one small typed interface.

``LivePlatform`` (``iteration/live.py``) implements it over the Vercel client, the probes
and the durable checks; the same machine runs against real Vercel or the sandbox, which
differ only by base URLs and credentials. Tests pass a fake (``tests/iteration/fake.py``).

The port speaks in findings, never in transport errors: a method either returns what it
found (a deployment that ended ERROR, a probe whose contract is broken: gate material) or
raises ``PlatformError`` when the platform did not answer (retries spent, timeouts, a build
past its deadline), which the machine treats as "stop here and resume later".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from reversal.errors import StepFailed
from reversal.playbooks import Playbook

OnState = Callable[[str, float], None]
DEPLOY_GATE_FAILURES = ("ERROR", "CANCELED", "BLOCKED", "DELETED")


class PlatformError(StepFailed):
    """The platform did not answer (or not in time). Not a finding about the change."""


class RollbackRefused(PlatformError):
    """Vercel answered an Instant Rollback with a 4xx that means "not possible" (plan, eligibility,
    permission), not an outage. A standard iteration's automatic rollback then rebuilds instead;
    anywhere else it stops like any platform error."""


@dataclass(frozen=True)
class Production:
    id: str
    url: str
    name: str
    state: str
    ready_substate: str | None = None  # STAGED / PROMOTED / ROLLING (Vercel's readySubstate)
    found_by: str = ""  # how it was found: the project's pointer, the CLI's endpoint, a listing
    meta: dict[str, str] = field(default_factory=dict)  # git meta: the deployed commit
    crons: tuple[dict[str, Any], ...] = ()  # [{schedule, path}] production runs (the cron guard)


@dataclass(frozen=True)
class Captured:
    meta_file: str  # the meta file written beside the window file
    rows: int | None


@dataclass(frozen=True)
class FlagWritten:
    changed: bool
    previous: str | None
    length: int
    whitespace: bool
    verification: str = "read-back"  # "read-back", or "probe" for a sensitive flag (unreadable)
    record: dict[str, Any] = field(default_factory=dict)  # the flag artifact: steps, targets, shapes


@dataclass(frozen=True)
class Deployed:
    id: str
    url: str
    state: str  # READY, or a gate failure state (DEPLOY_GATE_FAILURES)
    ready_ms: int | None
    record: dict[str, Any] = field(default_factory=dict)  # the deploy artifact

    @property
    def ready(self) -> bool:
        return self.state == "READY"


@dataclass(frozen=True)
class Probed:
    ok: bool
    problems: tuple[str, ...]
    dispatch_key: str | None
    event_id: str | None
    artifact: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DurableHealth:
    ok: bool
    problems: tuple[str, ...]
    summary: str
    snapshot: dict[str, Any] = field(default_factory=dict)


class Platform(Protocol):
    def env_values(self, keys: list[str]) -> tuple[dict[str, str | None], dict[str, Any]]:
        """Decrypted values of ``keys`` (None when absent) and the keys present but not
        decryptable (sensitive), with their facts (type, targets, local copy). Never logged."""

    def production(self) -> Production:
        """The current READY production deployment."""

    def readiness(self, playbook: Playbook, source: str) -> list[str]:
        """What keeps the loop from running end to end, found without changing anything:
        the local probe secret, the ledger, the capture source, the API's permissions."""

    def capture(self, since_ms: int, until_ms: int, out: Path, *, source: str = "api",
                source_file: Path | None = None) -> Captured:
        """Write the window (from the API, or a dashboard export / Log Drain file) to ``out``
        (export JSON) and its meta file beside it."""

    def write_flag(self, key: str, value: str, allowed: tuple[str, ...],
                   on_step: Callable[[str, Any], None] | None = None) -> FlagWritten:
        """Set a flag for production only; read it back exactly, or (sensitive) say that the
        probe verifies it. ``on_step`` journals each step of a shared-record split."""

    def find_deployment(self, intent_id: str) -> str | None:
        """The id of a deployment created earlier for ``intent_id`` (survives a crash)."""

    def redeploy(self, source_id: str, intent_id: str, on_state: OnState) -> Deployed:
        """Create the redeploy tagged ``intent_id`` and follow it to READY or a failure state."""

    def wait_deployment(self, deployment_id: str, on_state: OnState) -> Deployed:
        """Follow an existing deployment to READY or a failure state."""

    def probe(self, playbook: Playbook, expect: str) -> Probed:
        """Probe the route's dispatch-only or inline contract."""

    def durable(self, playbook: Playbook, dispatch_key: str | None,
                on_poll: Callable[[str], None]) -> DurableHealth:
        """Ledger/queue/Inngest health for the slice."""
