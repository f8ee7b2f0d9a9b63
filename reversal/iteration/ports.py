"""What the state machine needs from the outside world, as one small interface.

``LivePlatform`` (``iteration/live.py``) implements it over the Vercel client, the probes
and the durable checks; the same machine runs against real Vercel or the sandbox, which
differ only by base URLs and credentials. Tests pass a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from reversal.playbooks import Playbook

OnState = Callable[[str, float], None]


class Platform(Protocol):
    def env_values(self, keys: list[str]) -> tuple[dict[str, str | None], set[str]]:
        """Decrypted values of ``keys`` (None when absent) and the keys present but not
        decryptable (sensitive). Never logged."""

    def production(self) -> dict[str, Any]:
        """The current READY production deployment: ``{id, url, name}``."""

    def capture(self, since_ms: int, until_ms: int, out: Path) -> dict[str, Any]:
        """Write the request-log window to ``out`` (export JSON) and its meta file; return the
        meta, with ``meta_file`` naming the meta file written beside ``out``."""

    def write_flag(self, key: str, value: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        """Set a flag; returns ``{changed, length, whitespace}`` after an exact read-back."""

    def find_deployment(self, intent_id: str) -> dict[str, Any] | None:
        """A deployment created earlier for ``intent_id`` (survives a crash after create)."""

    def redeploy(self, source_id: str, intent_id: str, on_state: OnState) -> dict[str, Any]:
        """Create the redeploy and wait for READY; raises ``StepFailed`` on ERROR/CANCELED."""

    def wait_deployment(self, deployment_id: str, on_state: OnState) -> dict[str, Any]:
        """Wait for an existing deployment to reach a final state."""

    def probe(self, playbook: Playbook, expect: str) -> dict[str, Any]:
        """Probe the route: ``{ok, problems, dispatch_key, event_id, artifact}``."""

    def durable(self, playbook: Playbook, dispatch_key: str | None,
                on_poll: Callable[[str], None]) -> dict[str, Any]:
        """Ledger/queue/Inngest health for the slice: ``{ok, problems, snapshot}``."""
