"""The Vercel REST API as the loop uses it: env vars, deployments, request logs, runtime logs.

Shapes follow ``docs/platform-api.md``. Base URLs are parameters so the same client talks to
Vercel or to the loopback sandbox. Transient failures (429, 5xx, timeouts, dropped
connections) are retried within a budget of attempts *and* elapsed time; a create that may
have reached the server is never repeated blindly: before a retry, the client looks for what
the first attempt may have created. The token only ever travels in the ``Authorization``
header; every message is scrubbed of it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from reversal.errors import InputError, StepFailed
from reversal.secrets import Redactor

if TYPE_CHECKING:
    from reversal.config import Config

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
CHALLENGE_CODES = frozenset({"challenge_required", "challenge_required_email_otp", "user_auth_required"})
"""403 codes asking for an interactive step-up login (CLI ``util/env/challenge-recovery.ts``):
the token is valid, but an access token cannot answer the challenge."""
TERMINAL_STATES = frozenset({"READY", "ERROR", "CANCELED", "DELETED", "BLOCKED"})
INTENT_META_KEY = "reversalIntent"
_MAX_LOG_PAGES = 100_000  # a server that never says hasMoreRows=false must not loop forever


class VercelError(StepFailed):
    """Vercel refused or failed a request. ``status`` is the HTTP status (None: no response),
    ``code`` Vercel's ``error.code``. The message never contains the token."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RetryBudgetExhausted(VercelError):
    """Every allowed attempt failed transiently, or waiting longer would exceed the time budget."""


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` sends and ``max_elapsed_s`` seconds per call (docs/configuration.md).

    The defaults wait about 2, 4, 8, 16 and 20 s between six attempts (each halved at random):
    25-50 s in all, so a Vercel hiccup of up to ~a minute is ridden out, as the docs promise,
    and a retry never starts when its wait would cross the 60 s budget."""

    attempts: int = 6
    max_elapsed_s: float = 60.0
    base_delay_s: float = 2.0
    max_delay_s: float = 20.0

    def backoff(self, failures: int, rand: Callable[[], float]) -> float:
        """Exponential backoff with equal jitter (half fixed, half random) after ``failures``
        consecutive failures: never shorter than half the step, so the budget is really used."""
        step = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))
        return step / 2 + rand() * step / 2


@dataclass(frozen=True)
class EnvVar:
    id: str
    key: str
    value: str | None = field(repr=False)
    type: str
    target: tuple[str, ...]

    def __repr__(self) -> str:
        shown = "None" if self.value is None else f"<{len(self.value)} chars>"
        return (f"EnvVar(id={self.id!r}, key={self.key!r}, value={shown}, type={self.type!r}, "
                f"target={self.target!r})")


@dataclass(frozen=True)
class Deployment:
    id: str
    url: str
    name: str
    state: str
    target: str | None
    created_ms: int | None
    ready_ms: int | None
    meta: Mapping[str, str]
    ready_substate: str | None = None  # STAGED / ROLLING / PROMOTED (has seen production traffic)
    state_reason: str | None = None  # readyStateReason, e.g. why it is BLOCKED
    crons: tuple[Mapping[str, Any], ...] = ()  # [{schedule, path}] the deployment runs (cron guard)
    rollback_candidate: bool | None = None  # isRollbackCandidate (list): an Instant Rollback may target it


def parse_env(raw: Mapping[str, Any], *, decrypted: bool) -> EnvVar:
    """An env object; ``value`` only when it is readable clear text (not an encrypted blob)."""
    target = raw.get("target") or ()
    kind = str(raw.get("type") or "")
    clear = bool(raw.get("decrypted", decrypted)) or kind == "plain"
    value = raw.get("value") if clear and kind != "sensitive" else None
    return EnvVar(
        id=str(raw.get("id") or ""),
        key=str(raw.get("key") or ""),
        value=value if isinstance(value, str) else None,
        type=kind,
        target=(target,) if isinstance(target, str) else tuple(str(t) for t in target),
    )


def _ms(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_deployment(raw: Mapping[str, Any]) -> Deployment:
    """A deployment from the list (``uid``, ``state``) or get/create (``id``, ``readyState``) shape."""
    meta = raw.get("meta") or {}
    return Deployment(
        id=str(raw.get("id") or raw.get("uid") or ""),
        url=str(raw.get("url") or ""),
        name=str(raw.get("name") or ""),
        state=str(raw.get("readyState") or raw.get("state") or raw.get("status") or "UNKNOWN"),
        target=raw.get("target"),
        created_ms=_ms(raw.get("createdAt", raw.get("created"))),
        ready_ms=_ms(raw.get("ready")),
        meta={str(k): str(v) for k, v in meta.items()} if isinstance(meta, Mapping) else {},
        ready_substate=str(raw["readySubstate"]) if raw.get("readySubstate") else None,
        state_reason=str(raw["readyStateReason"]) if raw.get("readyStateReason") else None,
        crons=tuple(dict(c) for c in raw.get("crons") or () if isinstance(c, Mapping)),
        rollback_candidate=raw["isRollbackCandidate"] if isinstance(raw.get("isRollbackCandidate"), bool)
        else None,
    )


def _error_fields(response: httpx.Response) -> tuple[str | None, str, Any]:
    """``(error.code, error.message, error.limit)`` of a Vercel error body, tolerant of any body.

    Like the CLI (``util/response-error.ts``): ``error``, else ``err`` (some APIs answer that),
    else the body itself."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200].strip(), None
    if not isinstance(body, Mapping):
        return None, "", None
    error = body.get("error") or body.get("err") or body
    if isinstance(error, str):
        return None, error, None
    if not isinstance(error, Mapping):
        return None, "", None
    code = error.get("code")
    return (str(code) if code is not None else None, str(error.get("message") or ""), error.get("limit"))


def retry_after_s(header: str | None, now_ms: int) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), like
    the CLI's ``parseRetryAfterHeaderAsMillis``; a date in the past means now; None if absent or
    unparsable."""
    if header is None or not header.strip():
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(header.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_ms / 1000)


def check_base_url(value: str, variable: str) -> str:
    """``value`` if it is an http(s) URL; else ``InputError`` naming where it is set (exit 2)."""
    from reversal.config import url_problem

    problem = url_problem(value, ("http", "https"))
    if problem:
        raise InputError(
            f"{variable} is not a valid base URL: {problem}; expected e.g. https://api.vercel.com "
            "(scheme, host, optional port and path)."
        )
    return value


def check_token(token: str) -> None:
    """A token with whitespace (a trailing newline from a file, a pasted space) is refused before
    any call, so it cannot look like an outage; its value is never shown."""
    if any(c.isspace() for c in token):
        where = ("leading or trailing whitespace" if token != token.strip()
                 else "whitespace inside it")
        raise InputError(
            f"VERCEL_TOKEN has {where} ({len(token)} characters including it); export it without "
            "the newline or spaces (e.g. export VERCEL_TOKEN=\"$(tr -d '[:space:]' < token-file)\")."
        )


class VercelClient:
    def __init__(
        self,
        token: str,
        project_id: str,
        *,
        team_id: str | None = None,
        owner_id: str | None = None,
        api_base: str = "https://api.vercel.com",
        logs_api_base: str = "https://vercel.com",
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.project_id = project_id
        self.team_id = team_id
        self.owner_id = owner_id or team_id
        self.api_base = api_base.rstrip("/")
        self.logs_api_base = logs_api_base.rstrip("/")
        self.retry = retry
        self._sleep, self._monotonic, self._wall_ms, self._jitter = sleep, monotonic, wall_ms, jitter
        self._redact = Redactor([token])
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout_s,
        )

    @classmethod
    def from_config(cls, config: Config, **kw: Any) -> VercelClient:
        """A client for the configured project; names every missing setting and where to set it."""
        missing = []
        if not config.token:
            missing.append("VERCEL_TOKEN (export a Vercel access token in the environment)")
        if not config.project_id:
            missing.append("the project id (VERCEL_PROJECT_ID, 'project_id:' in reversal.yaml, "
                           "or run 'vercel link' to write .vercel/project.json)")
        if not (config.org_id or config.team_id):
            missing.append("the owning team or user id (VERCEL_ORG_ID, 'org_id:' in reversal.yaml, "
                           "or .vercel/project.json 'orgId' as 'vercel link' writes it)")
        if missing:
            raise InputError("Cannot talk to Vercel: missing " + "; ".join(missing) + ".")
        check_token(config.token)  # type: ignore[arg-type]
        check_base_url(config.vercel_api, "REVERSAL_VERCEL_API (or vercel_api: in reversal.yaml)")
        check_base_url(config.vercel_logs_api,
                       "REVERSAL_VERCEL_LOGS_API (or vercel_logs_api: in reversal.yaml)")
        org = config.org_id or ""
        team = config.team_id or (org if org.startswith("team_") else None)
        kw.setdefault("api_base", config.vercel_api)
        kw.setdefault("logs_api_base", config.vercel_logs_api)
        return cls(config.token, config.project_id, team_id=team, owner_id=org or team, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VercelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def _scoped(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        out = {k: v for k, v in (params or {}).items() if v is not None}
        if self.team_id:
            out["teamId"] = self.team_id
        return out

    def _wait_for(self, response: httpx.Response, failures: int) -> float:
        """Seconds to wait before retrying: ``Retry-After``, else the body's limit reset, else backoff."""
        after = retry_after_s(response.headers.get("retry-after"), self._wall_ms())
        if after is not None:
            return after
        if response.status_code == 429:
            _, _, limit = _error_fields(response)
            if isinstance(limit, Mapping):
                reset_ms = _ms(limit.get("resetMs"))
                if reset_ms is None and _ms(limit.get("reset")) is not None:
                    reset_ms = _ms(limit.get("reset")) * 1000  # type: ignore[operator]
                if reset_ms is not None:
                    return max(0.0, (reset_ms - self._wall_ms()) / 1000)
        return self.retry.backoff(failures, self._jitter)

    def _fail(self, what: str, response: httpx.Response) -> VercelError:
        code, message, _ = _error_fields(response)
        status = response.status_code
        if status == 403 and code in CHALLENGE_CODES:
            hint = ("Vercel asks for a fresh interactive authentication (a step-up challenge, "
                    "required for sensitive environment variables) — the token is not invalid, "
                    "but an access token cannot answer the challenge. Do this step with "
                    "'vercel env' after 'vercel login' in a terminal, or use a pulled env file "
                    "(REVERSAL_ENV_FILE) for values that cannot be read back")
        elif status in (401, 403):
            hint = ("the token is invalid or expired, or has no access to "
                    + (f"team {self.team_id}" if self.team_id else "this project")
                    + " (check VERCEL_TOKEN and VERCEL_ORG_ID/VERCEL_TEAM_ID)")
        else:
            hint = message or "no error message in the response"
        text = f"Vercel {what} failed: HTTP {status}" + (f" {code}" if code else "") + f": {hint}."
        return VercelError(self._redact(text), status=status, code=code)

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        recover: Callable[[], Any] | None = None,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        """Send with retries; the decoded JSON body (or the open response when ``stream``).

        ``recover`` runs before every retry of a request that may have taken effect; a non-None
        result is returned instead of sending the request again.
        """
        request = self._http.build_request(
            method, url, params=self._scoped(params), json=body,
            **({"timeout": timeout} if timeout is not None else {}),
        )
        started = self._monotonic()
        failures = 0
        while True:
            if failures and recover is not None:
                found = recover()
                if found is not None:
                    return found
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                failures += 1
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "lost the connection"
                reason, status = f"{kind} ({type(exc).__name__})", None
                wait = self.retry.backoff(failures, self._jitter)
            else:
                if response.status_code < 400:
                    return response if stream else self._decode(what, response)
                if stream:
                    response.read()
                    response.close()
                if response.status_code not in RETRYABLE_STATUSES:
                    raise self._fail(what, response)
                failures += 1
                code, _, _ = _error_fields(response)
                reason = f"HTTP {response.status_code}" + (f" {code}" if code else "")
                status = response.status_code
                wait = self._wait_for(response, failures)
            elapsed = self._monotonic() - started
            if failures >= self.retry.attempts or elapsed + wait > self.retry.max_elapsed_s:
                raise RetryBudgetExhausted(
                    self._redact(
                        f"Vercel {what} failed after {failures} attempt(s) in {elapsed:.1f}s: last "
                        f"{reason}; another retry (after {wait:.1f}s) would exceed the retry budget "
                        f"({self.retry.attempts} attempts, {self.retry.max_elapsed_s:g}s). "
                        "Vercel may be degraded or rate-limiting; try again later."
                    ),
                    status=status,
                    code="retry_budget_exhausted",
                )
            self._sleep(wait)

    @staticmethod
    def _decode(what: str, response: httpx.Response) -> Any:
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise VercelError(
                f"Vercel {what}: HTTP {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None

    def _api(self, path: str) -> str:
        return f"{self.api_base}{path}"

    def call(self, method: str, path: str, what: str, *, params: Mapping[str, Any] | None = None,
             body: Any = None, recover: Callable[[], Any] | None = None) -> Any:
        """One API call under the client's retry, scoping and redaction rules, for the endpoint
        modules beside this one (``reversal.platform.rolling``): ``path`` is under ``api_base``."""
        return self._send(method, self._api(path), what, params=params, body=body, recover=recover)

    # -- environment variables ---------------------------------------------------------------

    def list_env(self, *, decrypt: bool = False) -> list[EnvVar]:
        body = self._send("GET", self._api(f"/v10/projects/{self.project_id}/env"), "env list",
                          params={"decrypt": "true" if decrypt else "false"})
        envs = body.get("envs", [body] if "key" in body else []) if isinstance(body, Mapping) else []
        return [parse_env(e, decrypted=decrypt) for e in envs if isinstance(e, Mapping)]

    def get_env(self, env_id: str) -> EnvVar:
        body = self._send("GET", self._api(f"/v1/projects/{self.project_id}/env/{env_id}"),
                          f"env get {env_id}")
        return parse_env(body, decrypted=True)

    def find_env(self, key: str, target: str = "production", *, decrypt: bool = True) -> EnvVar | None:
        """The var ``key`` that applies to ``target`` (decrypted by default), or None. A sensitive
        var is returned as listed: it cannot be decrypted, and asking may only draw a challenge."""
        for env in self.list_env():
            if env.key == key and target in env.target:
                return self.get_env(env.id) if decrypt and env.type != "sensitive" else env
        return None

    def create_env(
        self, key: str, value: str, *, target: tuple[str, ...] = ("production",), type: str = "encrypted",
        upsert: bool = True,
    ) -> EnvVar:
        """Create (or upsert) ``key``. A retry first checks whether the first attempt landed.
        Without ``upsert``, an existing key fails with ``ENV_ALREADY_EXISTS`` (a lease's create)."""

        def landed() -> dict[str, Any] | None:
            found = self.find_env(key, target[0])
            if found is not None and (found.value is None or found.value == value):
                return {"created": {"id": found.id, "key": found.key, "value": found.value,
                                    "type": found.type, "target": list(found.target), "decrypted": True}}
            return None

        body = self._send(
            "POST", self._api(f"/v10/projects/{self.project_id}/env"), f"env create {key}",
            params={"upsert": "true"} if upsert else None,
            body={"key": key, "value": value, "type": type, "target": list(target)},
            recover=landed,
        )
        failed = body.get("failed") or []
        if failed:
            error = (failed[0] or {}).get("error") or {}
            raise VercelError(
                Redactor([value])(self._redact(
                    f"Vercel env create {key} failed: {error.get('code') or 'error'}: "
                    f"{error.get('message') or 'no message'}."
                )),
                status=200,
                code=error.get("code"),
            )
        created = body.get("created")
        if isinstance(created, list):
            created = next((c for c in created if c.get("key") == key), created[0] if created else None)
        if not isinstance(created, Mapping):
            raise VercelError(f"Vercel env create {key}: the response names no created variable.")
        return parse_env(created, decrypted=False)

    def edit_env(self, env_id: str, value: str | None = None, *,
                 target: tuple[str, ...] | None = None) -> EnvVar:
        """PATCH only what is given: a value, or the targets (detaching production from a
        shared record sends ``target`` alone, so the value of a sensitive var is untouched).
        A lost answer is checked by a read before any retry, so a write is never made twice."""
        body: dict[str, Any] = {}
        if value is not None:
            body["value"] = value
        if target is not None:
            body["target"] = list(target)

        def landed() -> dict[str, Any] | None:
            found = self.get_env(env_id)
            if value is not None and found.value != value:
                return None
            if target is not None and sorted(found.target) != sorted(target):
                return None
            return {"id": found.id, "key": found.key, "type": found.type, "target": list(found.target)}

        reply = self._send("PATCH", self._api(f"/v9/projects/{self.project_id}/env/{env_id}"),
                           f"env edit {env_id}", body=body, recover=landed)
        return parse_env(reply, decrypted=False)

    def delete_env(self, env_id: str) -> None:
        """Remove a variable (a released or broken lease); already gone counts as done."""
        try:
            self._send("DELETE", self._api(f"/v9/projects/{self.project_id}/env/{env_id}"),
                       f"env delete {env_id}")
        except VercelError as exc:
            if exc.status != 404:
                raise

    # -- deployments -------------------------------------------------------------------------

    def list_deployments(
        self,
        *,
        target: str | None = "production",
        state: str | None = "READY",
        limit: int = 20,
        meta: Mapping[str, str] | None = None,
    ) -> list[Deployment]:
        """Newest first. ``meta`` filters server-side (``meta-<key>``) and again client-side."""
        params: dict[str, Any] = {"projectId": self.project_id, "target": target, "state": state,
                                  "limit": limit}
        for k, v in (meta or {}).items():
            params[f"meta-{k}"] = v
        body = self._send("GET", self._api("/v6/deployments"), "deployments list", params=params)
        found = [parse_deployment(d) for d in body.get("deployments") or [] if isinstance(d, Mapping)]
        if meta:
            found = [d for d in found if all(d.meta.get(k) == v for k, v in meta.items())]
        return sorted(found, key=lambda d: d.created_ms or 0, reverse=True)

    def production_deployment_id(self) -> str | None:
        """The deployment serving production, as Vercel defines it: the project's
        ``targets.production`` (getProject, ``GET /v9/projects/{id}``), else what the CLI asks
        (``GET /projects/{id}/production-deployment``, undocumented; ``vercel logs``). None when
        neither endpoint knows (404): the caller falls back to the deployments list."""
        for path, what in ((f"/v9/projects/{self.project_id}", "project get"),
                           (f"/projects/{self.project_id}/production-deployment", "production deployment")):
            try:
                body = self._send("GET", self._api(path), what)
            except VercelError as exc:
                if exc.status == 404:
                    continue
                raise
            if not isinstance(body, Mapping):
                continue
            found = ((body.get("targets") or {}).get("production") if "targets" in body
                     else body.get("deployment"))
            if isinstance(found, Mapping) and found.get("id"):
                return str(found["id"])
        return None

    def get_deployment(self, id_or_url: str) -> Deployment:
        return parse_deployment(
            self._send("GET", self._api(f"/v13/deployments/{id_or_url}"), f"deployment get {id_or_url}")
        )

    def create_deployment(
        self,
        *,
        name: str,
        deployment_id: str,
        target: str = "production",
        meta: Mapping[str, str] | None = None,
        auto_assign: bool = True,
    ) -> Deployment:
        """Redeploy ``deployment_id``. With a ``meta`` marker, a retry first looks for a deployment
        carrying it (created by an attempt that timed out) and returns that one instead.
        ``auto_assign=False`` builds it without giving it the production domains (what ``vercel
        deploy --prod --skip-domain`` sends: ``autoAssignCustomDomains: false``): a canary."""
        marker = dict(meta or {})

        def landed() -> Mapping[str, Any] | None:
            if not marker:
                return None
            found = self.list_deployments(target=target, state=None, meta=marker)
            if not found:
                return None
            d = found[0]
            return {"id": d.id, "url": d.url, "name": d.name, "readyState": d.state, "target": d.target,
                    "createdAt": d.created_ms, "ready": d.ready_ms, "meta": dict(d.meta)}

        body = self._send(
            "POST", self._api("/v13/deployments"), f"redeploy of {deployment_id}",
            params={"forceNew": "1"},
            body={"name": name, "deploymentId": deployment_id, "project": self.project_id,
                  "target": target, "meta": marker,
                  **({} if auto_assign else {"autoAssignCustomDomains": False})},
            recover=landed if marker else None,
        )
        return parse_deployment(body)

    # -- logs --------------------------------------------------------------------------------

    def iter_request_logs(
        self,
        *,
        since_ms: int,
        until_ms: int,
        environment: str = "production",
        deployment_id: str | None = None,
        status_code: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every request row of the window, paging ``page=0,1,...`` until ``hasMoreRows`` is false."""
        if not self.owner_id:
            raise InputError("Request logs need the owner (team or user) id: set VERCEL_ORG_ID or link "
                             "the project with 'vercel link' (.vercel/project.json 'orgId').")
        for page in range(_MAX_LOG_PAGES):
            body = self._send(
                "GET", f"{self.logs_api_base}/api/logs/request-logs", f"request logs page {page}",
                params={"projectId": self.project_id, "ownerId": self.owner_id, "page": page,
                        "startDate": since_ms, "endDate": until_ms, "environment": environment,
                        "deploymentId": deployment_id, "statusCode": status_code},
            )
            rows = (body.get("rows") or []) if isinstance(body, Mapping) else []
            yield from (r for r in rows if isinstance(r, dict))
            if not rows or not body.get("hasMoreRows"):
                return
        raise VercelError(f"Vercel request logs: still more rows after {_MAX_LOG_PAGES} pages; "
                          "narrow the window.")

    def stream_runtime_logs(
        self, deployment_id: str, *, max_lines: int | None = None, timeout_s: float = 300.0
    ) -> Iterator[dict[str, Any]]:
        """Live NDJSON lines of a deployment until ``max_lines``, ``timeout_s`` or the server's
        end marker (``source == "delimiter"`` with an empty ``rowId``)."""
        response = self._send(
            "GET", self._api(f"/v1/projects/{self.project_id}/deployments/{deployment_id}/runtime-logs"),
            f"runtime logs of {deployment_id}", params={"format": "lines"}, stream=True,
            timeout=httpx.Timeout(self._http.timeout.connect, read=timeout_s),
        )
        deadline = self._monotonic() + timeout_s
        seen = 0
        try:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(item, dict):
                    continue
                if item.get("source") == "delimiter" and not item.get("rowId"):
                    return
                yield item
                seen += 1
                if (max_lines is not None and seen >= max_lines) or self._monotonic() >= deadline:
                    return
        except httpx.ReadTimeout:
            return  # nothing more arrived within timeout_s: the tail is over
        except httpx.TransportError as exc:
            raise VercelError(
                f"Vercel runtime logs of {deployment_id}: the stream broke after {seen} line(s) "
                f"({type(exc).__name__})."
            ) from None
        finally:
            response.close()
