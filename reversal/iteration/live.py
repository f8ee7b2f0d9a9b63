"""``LivePlatform``: the state machine's ``Platform`` over Vercel, the app and the ledger.

Real Vercel and the sandbox differ only in the base URLs and credentials in ``Config``. Every
answer is translated into the port's typed findings; every way the platform can fail to answer
(retries spent, a deploy past its deadline, the app or the ledger unreachable) becomes a
``PlatformError``, so the machine never mistakes an outage for a failed change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from reversal.clock import Clock
from reversal.config import Config
from reversal.errors import InputError, StepFailed
from reversal.iteration.ports import (
    Captured,
    Deployed,
    DurableHealth,
    FlagWritten,
    PlatformError,
    Probed,
    Production,
)
from reversal.playbooks import Playbook
from reversal.ui import UI, LiveLine

PROBE_TIMEOUT_S = 30.0
QUEUE_SETTLE_S = 60.0  # simulated/real seconds between two queue snapshots


@contextmanager
def _unanswered(what: str) -> Iterator[None]:
    """Transport failures below the port become ``PlatformError`` naming what was asked."""
    import httpx

    try:
        yield
    except PlatformError:
        raise
    except httpx.HTTPError as exc:
        raise PlatformError(f"{what}: no answer ({type(exc).__name__})") from None
    except StepFailed as exc:
        raise PlatformError(str(exc)) from None


def _release_json(release: Any) -> dict[str, Any]:
    return {"canaryId": release.canary_id, "controlId": release.current_id,
            "percentage": release.canary_percentage, "state": release.state}


class LivePlatform:
    def __init__(self, config: Config, clock: Clock, ui: UI, client: Any = None) -> None:
        self.config, self.clock, self.ui = config, clock, ui
        if client is not None:  # shared with the lease: one connection pool, one TLS setup
            self.client = client

    @cached_property
    def client(self):
        from reversal.platform.vercel import VercelClient

        return VercelClient.from_config(self.config)

    # -- Vercel ---------------------------------------------------------------------------
    def env_values(self, keys: list[str]) -> tuple[dict[str, str | None], dict[str, Any]]:
        """``unreadable`` maps each sensitive key to its facts (type, targets, local copy)."""
        from reversal.platform.envfile import local_copy
        from reversal.platform.flags import read_values

        def local(key: str):
            return local_copy(key, environ=self.config.environ, env_file=self.config.env_file)

        with _unanswered("env read"):
            return read_values(self.client, keys, self.config.environment, local)  # type: ignore[return-value]

    def production(self) -> Production:
        from reversal.platform.deploy import find_production

        with _unanswered("production deployment"):
            found, how = find_production(self.client)
        return Production(found.id, found.url, found.name, found.state, found.ready_substate, how,
                          dict(found.meta), tuple(dict(c) for c in found.crons))

    def flag_plan(self, key: str) -> dict[str, Any]:
        """How a flip of ``key`` will be written and verified (split / edit / create; read-back /
        probe), before any change: for preflight and the dry run."""
        from reversal.platform.flags import flag_plan

        with _unanswered(f"flag plan {key}"):
            return flag_plan(self.client, key, self.config.environment).as_json()

    def readiness(self, playbook: Playbook, source: str) -> list[str]:
        """Everything the loop will need, proven before the first production change."""
        problems = []
        if playbook.probe is not None:
            if not self.config.app_url:
                problems.append("the app's base URL is not configured (app_url in reversal.yaml or "
                                "REVERSAL_APP_URL)")
            name = playbook.probe.bearer_env
            try:
                if name and not self.config.secret(name):
                    problems.append(f"{name} is not set locally: the probe must send it")
            except InputError as exc:
                problems.append(str(exc))
        if playbook.durable.function or playbook.durable.queue:
            problems += self._ledger_problems()
        if source == "api":
            problems += self._capture_problems()
        return problems

    def _ledger_problems(self) -> list[str]:
        from reversal.platform import durable

        dsn = self.config.database_url
        if not dsn:
            return [f"{self.config.database_url_env} is not set: the durable check reads the run ledger"]
        try:  # connecting proves it: read-only session (PostgreSQL), a first read (SQLite)
            durable.Ledger.connect(dsn).close()
        except (StepFailed, InputError) as exc:
            return [f"the run ledger is not readable: {exc}"]
        return []

    def _capture_problems(self) -> list[str]:
        """One tiny request-logs page: the capture source answers with these credentials."""
        from reversal.platform.capture import REFUSED, refused_message
        from reversal.platform.vercel import VercelError

        now = self.clock.now_ms()
        try:
            next(iter(self.client.iter_request_logs(since_ms=now - 60_000, until_ms=now,
                                                    environment=self.config.environment)), None)
        except VercelError as exc:
            if exc.status in REFUSED:  # the private endpoint is closed to this token: say what instead
                return [refused_message(exc.status, exc.code, now - 60_000, now)
                        + " Or run the slice with --source export or --source drain."]
            return [f"the request-logs API does not answer ({exc}); use --source export or drain"]
        except (StepFailed, InputError) as exc:
            return [f"the request-logs API does not answer ({exc}); use --source export or drain"]
        return []

    def capture(self, since_ms: int, until_ms: int, out: Path, *, source: str = "api",
                source_file: Path | None = None) -> Captured:
        """``source``: api | export | drain (a file), chosen per iteration and per resume."""
        from reversal.platform.capture import capture

        line = LiveLine(self.ui, "capture", plain=False)  # no lines in logs, only on a terminal
        try:
            with _unanswered("log capture"):
                meta = capture(self.client if source == "api" else None, source=source,
                               source_file=source_file, since_ms=since_ms, until_ms=until_ms,
                               environment=self.config.environment, route=None, out=out,
                               project_id=self.config.project_id or "", clock=self.clock,
                               on_rows=lambda n: line.update(f"{n} requests read so far"))
        finally:
            line.close()
        return Captured(meta.meta_path.name, meta.as_json().get("rows"))

    def write_flag(self, key: str, value: str, allowed: tuple[str, ...],
                   on_step: Callable[[str, Any], None] | None = None) -> FlagWritten:
        """``on_step(event, step)`` journals each step of a shared-record split (intent/done);
        re-running after a crash resumes it (each step checks the world first)."""
        from reversal.platform.flags import write_flag

        with _unanswered(f"flag write {key}"):
            written = write_flag(self.client, key=key, value=value, allowed=allowed,
                                 target=self.config.environment,
                                 **({"on_step": on_step} if on_step is not None else {}))
        record = {k: v for k, v in written.as_json().items() if k != "key"}  # key: the machine's
        return FlagWritten(written.changed, written.previous, written.read_back.length,
                           written.read_back.whitespace, record.get("verification", "read-back"), record)

    def find_deployment(self, intent_id: str) -> str | None:
        from reversal.platform.deploy import INTENT_META_KEY

        with _unanswered("deployment lookup"):
            found = self.client.list_deployments(target="production", state=None,
                                                 meta={INTENT_META_KEY: intent_id})
        return found[0].id if found else None

    def _follow(self, start: Callable[[], Any]) -> Deployed:
        """Run a deploy call: READY or a failure state is a finding; a deadline is an error."""
        from reversal.platform.deploy import DeployFailed

        with _unanswered("deployment"):
            try:
                record = start()
            except DeployFailed as exc:
                if exc.record.timed_out:
                    raise PlatformError(str(exc)) from None
                r = exc.record
                return Deployed(r.id, r.url, r.final_state or "ERROR", r.ready_ms, r.as_json())
        return Deployed(record.id, record.url, "READY", record.ready_ms, record.as_json())

    def _build(self, build: Callable[..., Any], source_id: str, intent_id: str, on_state) -> Deployed:
        """Rebuild ``source_id`` tagged ``intent_id`` with ``build`` (a redeploy, a canary build)."""
        def start():
            source = self.client.get_deployment(source_id)
            return build(self.client, source=source, clock=self.clock, intent_id=intent_id,
                         on_state=on_state)

        return self._follow(start)

    def _wait(self, wait: Callable[..., Any], deployment_id: str, on_state) -> Deployed:
        return self._follow(lambda: wait(self.client, deployment_id, clock=self.clock, on_state=on_state))

    def redeploy(self, source_id: str, intent_id: str, on_state) -> Deployed:
        from reversal.platform.deploy import redeploy

        return self._build(redeploy, source_id, intent_id, on_state)

    def wait_deployment(self, deployment_id: str, on_state) -> Deployed:
        from reversal.platform.deploy import wait_ready

        return self._wait(wait_ready, deployment_id, on_state)

    # -- Rolling Releases and Instant Rollback (docs/canary.md) --------------------------
    @cached_property
    def rolling(self):
        from reversal.platform.rolling import RollingReleases

        return RollingReleases(self.client)

    def rolling_unavailable(self) -> str | None:
        """Why this project cannot run a rolling release (plan, slots, refusal), or None."""
        with _unanswered("rolling release status"):
            return self.rolling.unavailable_reason()

    def build_canary(self, source_id: str, intent_id: str, on_state) -> Deployed:
        from reversal.platform.rolling import build_canary

        return self._build(build_canary, source_id, intent_id, on_state)

    def wait_canary(self, deployment_id: str, on_state) -> Deployed:
        from reversal.platform.rolling import wait_built

        return self._wait(wait_built, deployment_id, on_state)

    def start_release(self, canary_id: str, share: float) -> dict[str, Any]:
        """Configure a two-stage manual release at ``share`` percent and start it for the canary."""
        from reversal.platform.rolling import canary_config

        with _unanswered("rolling release start"):
            self.rolling.configure(canary_config(share))
            release = self.rolling.start(canary_id)
        if release is None or release.canary_id != canary_id or release.state != "ACTIVE":
            raise PlatformError(f"rolling release of {canary_id} did not start (Vercel answered "
                                f"{release.state if release else 'no release'})")
        return _release_json(release)

    def release_status(self) -> dict[str, Any] | None:
        """The project's latest rolling release (any state), as ``start_release`` returns it."""
        with _unanswered("rolling release status"):
            release = self.rolling.get()
        return None if release is None else _release_json(release)

    def complete_release(self, canary_id: str) -> None:
        with _unanswered("rolling release complete"):
            self.rolling.complete(canary_id)

    def instant_rollback(self, deployment_id: str, reason: str) -> None:
        """Raises ``RollbackRefused`` when Vercel says the rollback is not possible (a 4xx)."""
        from reversal.iteration.ports import RollbackRefused
        from reversal.platform.rolling import ROLLBACK_REFUSED
        from reversal.platform.vercel import VercelError

        with _unanswered(f"instant rollback to {deployment_id}"):
            try:
                self.rolling.rollback(deployment_id, description=reason[:200])
            except VercelError as exc:
                if exc.status in ROLLBACK_REFUSED:
                    raise RollbackRefused(f"Vercel refused it: {exc}") from None
                raise

    def rollback_candidate(self, deployment_id: str) -> bool | None:
        """Whether Vercel lists ``deployment_id`` as an Instant Rollback candidate
        (``isRollbackCandidate`` in ``GET /v6/deployments``); None when it does not say."""
        with _unanswered("deployments list"):
            found = self.client.list_deployments(target="production", state="READY", limit=20)
        return next((d.rollback_candidate for d in found if d.id == deployment_id), None)

    def liveness_probe(self, playbook: Playbook) -> dict[str, Any]:
        """One request of the loop's own to the route, to be found in the window's capture."""
        import httpx

        from reversal.platform.probe import join_url, liveness_request

        if not self.config.app_url:
            raise InputError("the app's base URL is not configured: set app_url in reversal.yaml or "
                             "REVERSAL_APP_URL, so the liveness probe can reach the route.")
        with _unanswered(f"liveness probe of {playbook.route}"), \
                httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
            return liveness_request(http=http, url=join_url(self.config.app_url, playbook.route),
                                    playbook=playbook, clock=self.clock)

    # -- the app --------------------------------------------------------------------------
    def probe(self, playbook: Playbook, expect: str) -> Probed:
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
        if result.status is None:  # no answer at all: the app is unreachable, not broken
            raise PlatformError(f"probe of {playbook.route}: " + "; ".join(result.problems))
        return Probed(result.ok, tuple(result.problems), result.dispatch_key, result.event_id,
                      result.to_json())

    # -- durable execution ----------------------------------------------------------------
    def durable(self, playbook: Playbook, dispatch_key: str | None,
                on_poll: Callable[[str], None]) -> DurableHealth:
        from reversal.platform import durable

        dsn = self.config.database_url
        if not dsn:
            raise InputError(
                f"{self.config.database_url_env} is not set: the durable check reads the run "
                "ledger (BackgroundFunctionRun / WebhookEvent) through it."
            )
        spec = playbook.durable
        snapshot: dict[str, Any] = {}
        outcome = growth = queue = None
        with _unanswered("run ledger"), durable.Ledger.connect(dsn) as ledger:
            if spec.function and dispatch_key:
                outcome = durable.wait_terminal(
                    ledger, function=spec.function, dispatch_key=dispatch_key, clock=self.clock,
                    timeout_s=spec.timeout_s,
                    on_poll=lambda state, s: on_poll(f"run for {dispatch_key}: {state} ({s:.0f}s)"),
                )
                snapshot["run"] = outcome.to_json()
            health = durable.health_snapshot(ledger, function=spec.function,
                                              now_ms=self.clock.now_ms())
            snapshot["backgroundFunctionRun"] = health
            if spec.queue:
                before = durable.queue_snapshot(ledger, now_ms=self.clock.now_ms())
                self.clock.sleep(QUEUE_SETTLE_S)
                queue = durable.queue_snapshot(ledger, now_ms=self.clock.now_ms())
                growth = durable.queue_growth(before, queue)
                snapshot["webhookEvent"] = {"before": before, "after": queue, "growth": growth}
        signing_key = self.config.secret("INNGEST_SIGNING_KEY")
        if signing_key and spec.function:
            snapshot["inngest"] = self._inngest(signing_key)
        verdict = durable.assess(outcome=outcome, health=health, queue=queue, growth=growth,
                                 function=spec.function, queue_name=spec.queue,
                                 inngest=snapshot.get("inngest"),
                                 failed_due_before=growth["failedDueBefore"] if growth else None)
        snapshot["assessment"] = verdict.to_json()
        inngest = snapshot.get("inngest") or {}
        seen = ("Inngest function failures not visible here (this Inngest API hides internal events)"
                if inngest.get("failedEventsVisible") is False else "no Invalid signature failures")
        summary = ("Durable run SUCCEEDED in the ledger" if outcome is not None
                   else f"{spec.queue or 'ledger'} healthy") + f"; {seen}."
        return DurableHealth(verdict.ok, verdict.problems, summary, snapshot)

    def _inngest(self, signing_key: str) -> dict[str, Any]:
        from reversal.platform.inngest import InngestClient

        since = self.clock.now_ms() - 15 * 60 * 1000
        with _unanswered("Inngest API"), \
                InngestClient(signing_key, base_url=self.config.inngest_api) as client:
            return client.failed_functions(since).to_json()
