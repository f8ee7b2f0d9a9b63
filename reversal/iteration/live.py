"""``LivePlatform``: the state machine's ``Platform`` over Vercel, the app and the ledger.

Real Vercel and the sandbox differ only in the base URLs and credentials in ``Config``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from reversal.clock import Clock
from reversal.config import Config
from reversal.errors import InputError
from reversal.playbooks import Playbook
from reversal.ui import UI, LiveLine

PROBE_TIMEOUT_S = 30.0
QUEUE_SETTLE_S = 60.0  # simulated/real seconds between two queue snapshots


class LivePlatform:
    def __init__(self, config: Config, clock: Clock, ui: UI) -> None:
        self.config, self.clock, self.ui = config, clock, ui

    @cached_property
    def client(self):
        from reversal.platform.vercel import VercelClient

        return VercelClient.from_config(self.config)

    # -- Vercel ---------------------------------------------------------------------------
    def env_values(self, keys: list[str]) -> tuple[dict[str, str | None], set[str]]:
        """``unreadable`` maps each sensitive key to its facts (type, targets, local copy)."""
        from reversal.platform.envfile import local_copy
        from reversal.platform.flags import read_values

        def local(key: str):
            return local_copy(key, environ=self.config.environ, env_file=self.config.env_file)

        return read_values(self.client, keys, self.config.environment, local)  # type: ignore[return-value]

    def production(self) -> dict[str, Any]:
        from reversal.platform.deploy import find_production

        found, how = find_production(self.client)
        return {"id": found.id, "url": found.url, "name": found.name, "state": found.state,
                "readySubstate": found.ready_substate, "foundBy": how,
                "meta": dict(found.meta)}  # git meta: the deployed commit, for provenance

    def capture(self, since_ms: int, until_ms: int, out: Path, *, source: str = "api",
                source_file: Path | None = None) -> dict[str, Any]:
        """``source``: api | export | drain (a file), chosen per iteration and per resume."""
        from reversal.platform.capture import capture

        line = LiveLine(self.ui, "capture", plain=False)  # no lines in logs, only on a terminal
        try:
            meta = capture(self.client if source == "api" else None, source=source,
                           source_file=source_file, since_ms=since_ms, until_ms=until_ms,
                           environment=self.config.environment, route=None, out=out,
                           project_id=self.config.project_id or "", clock=self.clock,
                           on_rows=lambda n: line.update(f"{n} requests read so far"))
        finally:
            line.close()
        return {**meta.as_json(), "meta_file": meta.meta_path.name}

    def write_flag(self, key: str, value: str, allowed: tuple[str, ...],
                   on_step: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
        """``on_step(event, step)`` journals each step of a shared-record split (intent/done);
        re-running after a crash resumes it (each step checks the world first)."""
        from reversal.platform.flags import write_flag

        written = write_flag(self.client, key=key, value=value, allowed=allowed,
                             target=self.config.environment,
                             **({"on_step": on_step} if on_step is not None else {}))
        record = {k: v for k, v in written.as_json().items() if k != "key"}  # key: the machine's
        return {**record, "changed": written.changed, "previous": written.previous,
                "length": written.read_back.length, "whitespace": written.read_back.whitespace}

    def flag_plan(self, key: str) -> dict[str, Any]:
        """How a flip of ``key`` will be written and verified (split / edit / create; read-back /
        probe), before any change: for preflight and the dry run."""
        from reversal.platform.flags import flag_plan

        return flag_plan(self.client, key, self.config.environment).as_json()

    def find_deployment(self, intent_id: str) -> dict[str, Any] | None:
        from reversal.platform.deploy import INTENT_META_KEY

        found = self.client.list_deployments(target="production", state=None,
                                             meta={INTENT_META_KEY: intent_id})
        return {"id": found[0].id} if found else None

    def _record(self, record) -> dict[str, Any]:
        return {**record.as_json(), "id": record.id, "url": record.url,
                "ready_ms": record.ready_ms}

    def redeploy(self, source_id: str, intent_id: str, on_state) -> dict[str, Any]:
        from reversal.platform.deploy import redeploy

        source = self.client.get_deployment(source_id)
        return self._record(redeploy(self.client, source=source, clock=self.clock,
                                     intent_id=intent_id, on_state=on_state))

    def wait_deployment(self, deployment_id: str, on_state) -> dict[str, Any]:
        from reversal.platform.deploy import wait_ready

        return self._record(wait_ready(self.client, deployment_id, clock=self.clock,
                                       on_state=on_state))

    # -- the app --------------------------------------------------------------------------
    def probe(self, playbook: Playbook, expect: str) -> dict[str, Any]:
        import httpx

        from reversal.platform.probe import probe_route

        if not self.config.app_url:
            raise InputError(
                "the app's base URL is not configured: set app_url in reversal.yaml or "
                "REVERSAL_APP_URL, so the probe can reach the route."
            )
        secret = self.config.secret(playbook.probe.bearer_env) if playbook.probe.bearer_env else None
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
            result = probe_route(http=http, app_url=self.config.app_url, playbook=playbook,
                                 expect=expect, secret=secret, clock=self.clock)
        return {"ok": result.ok, "problems": list(result.problems),
                "dispatch_key": result.dispatch_key, "event_id": result.event_id,
                "artifact": result.to_json()}

    # -- durable execution ----------------------------------------------------------------
    def durable(self, playbook: Playbook, dispatch_key: str | None,
                on_poll: Callable[[str], None]) -> dict[str, Any]:
        from reversal.platform import durable

        dsn = self.config.database_url
        if not dsn:
            raise InputError(
                f"{self.config.database_url_env} is not set: the durable check reads the run "
                "ledger (BackgroundFunctionRun / WebhookEvent) through it."
            )
        spec = playbook.durable
        problems: list[str] = []
        snapshot: dict[str, Any] = {}
        with durable.Ledger.connect(dsn) as ledger:
            if spec.function and dispatch_key:
                outcome = durable.wait_terminal(
                    ledger, function=spec.function, dispatch_key=dispatch_key, clock=self.clock,
                    timeout_s=spec.timeout_s,
                    on_poll=lambda state, s: on_poll(f"run for {dispatch_key}: {state} ({s:.0f}s)"),
                )
                snapshot["run"] = outcome.to_json()
                if not outcome.ok:
                    problems.append(
                        f"run for {dispatch_key} is {outcome.outcome}"
                        + (f" (lastError: {outcome.last_error})" if outcome.last_error else "")
                    )
            health = durable.health_snapshot(ledger, function=spec.function,
                                              now_ms=self.clock.now_ms())
            snapshot["backgroundFunctionRun"] = health
            problems += [p for p in health["problems"] if "Invalid signature" in p]
            if spec.queue:
                before = durable.queue_snapshot(ledger, now_ms=self.clock.now_ms())
                self.clock.sleep(QUEUE_SETTLE_S)
                after = durable.queue_snapshot(ledger, now_ms=self.clock.now_ms())
                growth = durable.queue_growth(before, after)
                snapshot["webhookEvent"] = {"before": before, "after": after, "growth": growth}
                if growth["growing"]:
                    problems.append(
                        f"{spec.queue} pending-due rows grew from {growth['pendingDueBefore']} "
                        f"to {growth['pendingDueAfter']} in {growth['intervalSeconds']}s"
                    )
        signing_key = self.config.secret("INNGEST_SIGNING_KEY")
        if signing_key and spec.function:
            snapshot["inngest"] = self._inngest(signing_key, problems)
        inngest = snapshot.get("inngest") or {}
        seen = ("Inngest function failures not visible here (this Inngest API hides internal events)"
                if inngest.get("failedEventsVisible") is False else "no Invalid signature failures")
        summary = ("Durable run SUCCEEDED in the ledger" if "run" in snapshot
                   else f"{spec.queue or 'ledger'} healthy") + f"; {seen}."
        return {"ok": not problems, "problems": problems, "snapshot": snapshot, "summary": summary}

    def _inngest(self, signing_key: str, problems: list[str]) -> dict[str, Any]:
        from reversal.platform.inngest import InngestClient

        since = self.clock.now_ms() - 15 * 60 * 1000
        with InngestClient(signing_key, base_url=self.config.inngest_api) as client:
            failures = client.failed_functions(since)
        report = failures.to_json()
        if report.get("invalidSignatureFailures"):
            problems.append(
                f"{report['invalidSignatureFailures']} Inngest function runs failed with "
                "'Invalid signature' in the last 15 min: check INNGEST_SIGNING_KEY for whitespace"
            )
        return report
