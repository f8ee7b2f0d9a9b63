"""What a sandbox is told (``SandboxSettings``, every fault knob) and what it hands back (``SandboxInfo``).

Knobs also arrive as ``KEY=VALUE`` strings from the command line (``--knob``); ``parse_knobs``
turns them into typed settings and names the knob and the expected form on any mistake.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reversal.errors import InputError

TRAFFIC_MODELS = ("stationary", "bursty", "decay")  # see reversal.sandbox.traffic.TrafficModel
CHOICES: dict[str, tuple[str, ...]] = {
    "flag_targets": ("production", "all"),
    "request_logs": ("ok", "forbidden", "not_found", "gone"),
    "inngest_server": ("cloud", "oss"),
    "traffic_model": TRAFFIC_MODELS,
}


@dataclass(frozen=True)
class SandboxSettings:
    """How the embedded platform behaves. Rates are probabilities in [0, 1]."""

    factor: float = 120.0  # simulated seconds per real second (30 min pass in 15 s)
    history_s: float = 45 * 60  # simulated traffic generated instantly before "now" at start
    page_size: int = 100  # request-logs rows per page
    seed: int | None = None  # fixes every random choice (traffic, failures, ids)
    database_url: str | None = None  # PostgreSQL DSN; SQLite in the sandbox temp dir when None
    traffic: bool = True  # keep generating cron/webhook/inbox traffic as simulated time passes
    build_s: float = 20.0  # simulated seconds from deployment creation to READY
    # fault knobs
    api_429_rate: float = 0.0  # Vercel API/logs answers 429 rate_limited (+ Retry-After)
    api_5xx_rate: float = 0.0  # Vercel API/logs answers 500 internal_server_error
    deploy_error: bool = False  # the next created deployment ends in ERROR
    secret_trailing_newline: bool = False  # CRON_SECRET stored as "<secret>\n" in the project env
    flag_trailing_newline: bool = False  # every flag written through the API is stored with "\n"
    app_url_trailing_slash: bool = False  # app URL (printed, REVERSAL_APP_URL, NEXT_PUBLIC_APP_URL) ends "/"
    bad_signing_key: bool = False  # INNGEST_SIGNING_KEY stored with "\n": every durable run FAILs
    offload_does_not_help: tuple[str, ...] = ()  # routes (or slices) still failing once dispatched
    failure_rates: Mapping[str, float] = field(default_factory=dict)  # route (or slice) -> inline rate
    traffic_model: str = "stationary"  # stationary | bursty | decay (an incident that ends on its own)
    # real-world project shapes (docs/sandbox.md gives the Vercel/Inngest source of each)
    sensitive_secrets: bool = False  # CRON_SECRET, INNGEST_SIGNING_KEY are `sensitive`: never readable
    enforce_sensitive: bool = False  # team policy on: new encrypted production/preview vars become sensitive
    flag_targets: str = "production"  # "all": one flag record shared by production, preview, development
    staged_production: bool = False  # a newer READY production deployment is STAGED, not serving
    blocked_deploy: bool = False  # the next created deployment ends BLOCKED
    cron_change_on_deploy: bool = False  # the next API deployment runs a changed cron schedule
    request_logs: str = "ok"  # forbidden | not_found | gone: the request-logs endpoint refuses (403/404/410)
    inngest_server: str = "cloud"  # "oss": Dev Server / self-hosted, inngest/* events never listed
    rolling_releases: bool = True  # false: the plan has no Rolling Releases (billing plan_not_supported)
    cron_split: bool = True  # false: Vercel Cron invocations all go to production during a release
    instant_rollback: bool = True  # false: no deployment is a rollback candidate; a rollback answers 422
    request_logs_lag_s: float = 0.0  # simulated seconds before a request reaches the request-logs API

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise InputError(f"sandbox knob {name}={getattr(self, name)!r}: expected one of "
                                 f"{', '.join(allowed)}.")
        if self.factor <= 0:
            raise InputError(f"sandbox knob factor={self.factor!r} must be a positive number.")
        for name in ("api_429_rate", "api_5xx_rate"):
            _rate(name, getattr(self, name))
        for route, rate in self.failure_rates.items():
            _rate(f"failure_rates[{route}]", rate)
        if self.page_size < 1:
            raise InputError(f"sandbox knob page_size={self.page_size!r} must be at least 1.")
        if self.history_s < 0 or self.build_s < 0 or self.request_logs_lag_s < 0:
            raise InputError("sandbox knobs history_s, build_s and request_logs_lag_s must not be negative.")


@dataclass(frozen=True)
class SandboxInfo:
    """Where a running sandbox listens and the throwaway credentials it accepts."""

    api: str
    logs_api: str
    app: str
    inngest_api: str
    token: str
    project_id: str
    team_id: str
    cron_secret: str
    database_url: str
    env: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"sandbox knob {name}={value!r} must be a probability between 0 and 1.")


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InputError(f"sandbox knob {name}={raw!r}: expected true or false.")


def _number(name: str, raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise InputError(f"sandbox knob {name}={raw!r}: expected a number.") from None


def _rates(name: str, raw: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        route, sep, value = item.rpartition(":")
        if not sep or not route:
            raise InputError(
                f"sandbox knob {name}={raw!r}: expected ROUTE:RATE pairs separated by commas, "
                "e.g. /api/cron/followups:0.3,availability:0.9."
            )
        out[route] = _number(f"{name}[{route}]", value, float)
    return out


def parse_knobs(pairs: Iterable[str], base: SandboxSettings | None = None) -> SandboxSettings:
    """``["api_429_rate=0.2", "deploy_error=true", ...]`` applied over ``base`` (defaults)."""
    fields = {f.name: f for f in dataclasses.fields(SandboxSettings)}
    base = base or SandboxSettings()
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise InputError(
                f"sandbox knob {pair!r}: expected KEY=VALUE with KEY one of "
                f"{', '.join(sorted(fields))}."
            )
        default = getattr(base, name)
        if name == "failure_rates":
            changes[name] = {**base.failure_rates, **_rates(name, raw)}
        elif name == "offload_does_not_help":
            changes[name] = tuple(filter(None, (p.strip() for p in raw.split(","))))
        elif name in ("seed", "database_url"):
            changes[name] = (_number(name, raw, int) if name == "seed" else raw) if raw else None
        elif name in CHOICES:
            changes[name] = raw.strip()
        elif isinstance(default, bool):
            changes[name] = _bool(name, raw)
        elif isinstance(default, int):
            changes[name] = _number(name, raw, int)
        else:
            changes[name] = _number(name, raw, float)
    return dataclasses.replace(base, **changes)
