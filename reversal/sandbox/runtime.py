"""``Sandbox``: wires the platform, the app, the durable worker, traffic and the servers.

``with Sandbox(settings) as info:`` starts everything on free loopback ports (history
backfilled, so a window ending "now" already has data) and, on exit, stops the threads,
closes the sockets and removes the temp dir. Two sandboxes share nothing.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import string
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from reversal.clock import CLOCK_ENV, ScaledClock
from reversal.sandbox.api import Call, Faults, Reply, error, inngest_api, logs_api, vercel_api
from reversal.sandbox.app import CRON_UA, ROUTES, AppRequest, handle, resolve_route
from reversal.sandbox.durable import DurableWorker, sqlite_url
from reversal.sandbox.platform import FLAG_NAMES, Platform
from reversal.sandbox.servers import Incoming, LoopbackServer, json_reply
from reversal.sandbox.settings import SandboxInfo, SandboxSettings
from reversal.sandbox.traffic import MINUTE_MS, TrafficModel, TrafficThread, synthetic_requests

PROJECT_NAME = "zrg-dashboard"
MAX_REAL_SLEEP_S = 0.3  # a real request to a slow inline route sleeps duration/factor, capped


def _id(rng: random.Random, prefix: str, size: int) -> str:
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                            for _ in range(size))


def _git_meta(sha: str) -> dict[str, str]:
    """The git meta Vercel records on a deployment built from a push of commit ``sha`` of main
    (a redeploy keeps it): the deployed commit, for provenance."""
    return {"githubCommitRef": "main", "githubCommitRepo": PROJECT_NAME,
            "githubCommitSha": sha + "0" * (40 - len(sha))}


def _send(reply: Reply) -> tuple[int, dict[str, str], bytes]:
    """A JSON reply, or a body already encoded (the NDJSON runtime-logs stream)."""
    if isinstance(reply.body, bytes):
        return reply.status, dict(reply.headers), reply.body
    return json_reply(reply.status, reply.body, dict(reply.headers))


class Sandbox:
    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        s = self.settings
        try:
            self._rates = {resolve_route(k): v for k, v in s.failure_rates.items()}
            self._does_not_help = frozenset(resolve_route(r) for r in s.offload_does_not_help)
        except ValueError as exc:
            from reversal.errors import InputError

            raise InputError(f"sandbox knobs: {exc}.") from None
        base = random.Random(s.seed)
        self._rngs = {name: random.Random(base.getrandbits(64))
                      for name in ("ids", "traffic", "http", "faults", "worker")}
        self._http_lock = threading.Lock()
        self._servers: list[LoopbackServer] = []
        self._worker: DurableWorker | None = None
        self._traffic: TrafficThread | None = None
        self._model = TrafficModel(s.traffic_model, s.seed)
        self._tmp: Path | None = None
        self.info: SandboxInfo | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> SandboxInfo:
        self.start()
        assert self.info is not None
        return self.info

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> SandboxInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> SandboxInfo:
        s, ids = self.settings, self._rngs["ids"]
        self._tmp = Path(tempfile.mkdtemp(prefix="reversal-sandbox-"))
        real_now = time.time_ns() // 1_000_000
        self.clock = ScaledClock(real_now, real_now, s.factor)
        # a Vercel token is 24 letters and digits; the CLI refuses one with "-" (token_urlsafe has some)
        self.token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
        self.cron_secret = secrets.token_hex(16)
        self.signing_key = "signkey-prod-" + secrets.token_hex(32)
        self.database_url = s.database_url or sqlite_url(str(self._tmp / "ledger.sqlite"))
        self.platform = Platform(
            project_id=_id(ids, "prj_", 28), project_name=PROJECT_NAME, team_id=_id(ids, "team_", 24),
            domain=f"{PROJECT_NAME}.vercel.app", build_ms=int(s.build_s * 1000),
            flag_trailing_newline=s.flag_trailing_newline, enforce_sensitive=s.enforce_sensitive,
            rolling_plan=s.rolling_releases, cron_split=s.cron_split, instant_rollback=s.instant_rollback,
            rng=random.Random(ids.getrandbits(64)),
        )
        self._worker = DurableWorker(self.database_url, self.platform, self.clock, self._rngs["worker"])
        self._worker.start()
        api = LoopbackServer("vercel-api", self._serve_api)
        logs = LoopbackServer("vercel-logs", self._serve_logs)
        app = LoopbackServer("app", self._serve_app)
        inngest = LoopbackServer("inngest", self._serve_inngest)
        self._servers = [api, logs, app, inngest]
        app_url = app.url + ("/" if s.app_url_trailing_slash else "")
        self._seed_project(app_url)
        next_minute = self._backfill()
        for server in self._servers:
            server.start()
        if s.traffic:
            self._traffic = TrafficThread(next_minute, self.clock.now_ms,
                                          self._emit_minutes, s.factor)
            self._traffic.start()
        env = {
            "VERCEL_TOKEN": self.token, "VERCEL_PROJECT_ID": self.platform.project_id,
            "VERCEL_ORG_ID": self.platform.team_id, "VERCEL_TEAM_ID": self.platform.team_id,
            "REVERSAL_VERCEL_API": api.url, "REVERSAL_VERCEL_LOGS_API": logs.url,
            "REVERSAL_INNGEST_API": inngest.url, "REVERSAL_APP_URL": app_url,
            "CRON_SECRET": self.cron_secret, "INNGEST_SIGNING_KEY": self.signing_key,
            "DATABASE_URL": self.database_url, CLOCK_ENV: self.clock.to_env(),
        }
        self.info = SandboxInfo(
            api=api.url, logs_api=logs.url, app=app_url, inngest_api=inngest.url, token=self.token,
            project_id=self.platform.project_id, team_id=self.platform.team_id, cron_secret=self.cron_secret,
            database_url=self.database_url, env=env,
        )
        return self.info

    def stop(self) -> None:
        """Stop traffic, servers and worker (joining their threads); remove the temp dir."""
        if self._traffic is not None:
            self._traffic.stop()
            self._traffic = None
        for server in self._servers:
            server.stop()
        self._servers = []
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- state at start -------------------------------------------------------------------------
    def _seed_project(self, app_url: str) -> None:
        s, p = self.settings, self.platform
        created = self.clock.now_ms() - int(s.history_s * 1000) - 10 * MINUTE_MS
        # sensitive vars cannot target development (packages/cli/src/commands/env/add.ts)
        secret = {"type_": "sensitive", "target": ("production", "preview")} if s.sensitive_secrets else {}
        p.add_env("CRON_SECRET", self.cron_secret + ("\n" if s.secret_trailing_newline else ""), created,
                  **secret)
        p.add_env("INNGEST_SIGNING_KEY", self.signing_key + ("\n" if s.bad_signing_key else ""), created,
                  **secret)
        p.add_env("DATABASE_URL", self.database_url, created)
        p.add_env("NEXT_PUBLIC_APP_URL", app_url, created, type_="plain")
        for name in sorted(FLAG_NAMES):
            if s.flag_targets == "all":  # one record shared by every environment
                p.add_env(name, "false", created)
            else:
                p.add_env(name, "false", created, target=("production",))
                p.add_env(name, "false", created, target=("preview", "development"))
        p.create_deployment(created, target="production", meta=_git_meta("9f3c2a1e5b7d"), source="git",
                            build_ms=0, outcome="READY")
        if s.staged_production:  # `vercel deploy --prod --skip-domain`: READY, STAGED, serves nothing
            p.create_deployment(self.clock.now_ms() - 5 * MINUTE_MS, target="production",
                                meta=_git_meta("4b1d8e7f0a2c"), source="cli", build_ms=0, promote=False,
                                outcome="READY")
        # the fault knobs hit the first deployments made through the API
        p.pending_outcomes = ["ERROR"] * s.deploy_error + ["BLOCKED"] * s.blocked_deploy
        p.cron_change_pending = s.cron_change_on_deploy

    def _backfill(self) -> int:
        """Traffic of the ``history_s`` before now, at once; returns the next minute to generate."""
        now = self.clock.now_ms()
        first, last = (now - int(self.settings.history_s * 1000)) // MINUTE_MS, now // MINUTE_MS - 1
        self._emit_minutes(first, last)
        return last + 1

    def _emit_minutes(self, first: int, last: int) -> None:
        rng = self._rngs["traffic"]

        def secret_for(ts: int) -> str | None:
            serving = self.platform.serving(ts)
            return serving.env.get("CRON_SECRET") if serving else None

        for ts, request in synthetic_requests(first, last, rng, secret_for):
            serving = self.platform.arm(ts, rng, cron=request.headers.get("user-agent") == CRON_UA)
            if serving is None:
                continue
            rates = self._model.rates(ts, self._rates, serving.id, serving.ready_ms)
            outcome = handle(request, serving.env, ts, rng, deployment_id=serving.id,
                             failure_rates=rates, offload_does_not_help=self._does_not_help)
            work = self.platform.record(outcome.record, outcome.work)
            if work is not None and self._worker is not None:
                self._worker.submit(work)

    # -- servers --------------------------------------------------------------------------------
    @staticmethod
    def _call(incoming: Incoming) -> Call | Reply:
        body = None
        if incoming.body:
            try:
                body = json.loads(incoming.body)
            except ValueError:
                return error(400, "bad_request", "Invalid request: the body is not valid JSON.")
        return Call(incoming.method, incoming.path, incoming.query, incoming.headers, body)

    def _faults(self) -> Faults:
        return Faults(self.settings.api_429_rate, self.settings.api_5xx_rate)

    def _serve_api(self, incoming: Incoming) -> tuple[int, dict[str, str], bytes]:
        from reversal.sandbox import extras

        call = self._call(incoming)
        if isinstance(call, Call):
            now = self.clock.now_ms()
            call = extras.handle(self, call, now) or vercel_api(
                self.platform, call, now, token=self.token, faults=self._faults(), rng=self._rngs["faults"],
                page_size=self.settings.page_size, refusal=self.settings.request_logs,
                lag_ms=int(self.settings.request_logs_lag_s * 1000))
        return _send(call)

    def _serve_logs(self, incoming: Incoming) -> tuple[int, dict[str, str], bytes]:
        call = self._call(incoming)
        if isinstance(call, Call):
            call = logs_api(self.platform, call, self.clock.now_ms(), token=self.token, faults=self._faults(),
                            rng=self._rngs["faults"], page_size=self.settings.page_size,
                            refusal=self.settings.request_logs,
                            lag_ms=int(self.settings.request_logs_lag_s * 1000))
        return _send(call)

    def _serve_inngest(self, incoming: Incoming) -> tuple[int, dict[str, str], bytes]:
        call = self._call(incoming)
        if isinstance(call, Call):
            call = inngest_api(self.platform, call, self.clock.now_ms(), signing_key=self.signing_key,
                               internal_events=self.settings.inngest_server == "cloud")
        return _send(call)

    def _serve_app(self, incoming: Incoming) -> tuple[int, dict[str, str], bytes]:
        now = self.clock.now_ms()
        with self._http_lock:
            serving = self.platform.arm(now, self._rngs["http"],
                                        cron=incoming.headers.get("user-agent") == CRON_UA)
        if serving is None:
            return json_reply(404, {"error": {"code": "DEPLOYMENT_NOT_FOUND",
                                              "message": "The deployment could not be found on Vercel."}})
        request = AppRequest(incoming.method, incoming.raw_path, incoming.headers, incoming.body)
        with self._http_lock:  # one rng shared by concurrent probes
            outcome = handle(request, serving.env, now, self._rngs["http"], deployment_id=serving.id,
                             failure_rates=self._rates, offload_does_not_help=self._does_not_help)
        work = self.platform.record(outcome.record, outcome.work)
        if work is not None and self._worker is not None:
            self._worker.submit(work)
        if incoming.raw_path.split("?", 1)[0] in ROUTES:
            time.sleep(min(outcome.record.duration_ms / 1000 / self.settings.factor, MAX_REAL_SLEEP_S))
        return outcome.status, dict(outcome.headers), outcome.body
