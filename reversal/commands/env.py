"""``reversal env audit``: shapes of production secrets and flags, never their values.

The team shipped an ``INNGEST_SIGNING_KEY`` with a trailing newline (every Inngest callback
then failed with ``Invalid signature``) and booleans like ``true\\n``. The audit reads the
decrypted production values and reports presence, length, surrounding whitespace and whether
a flag holds one of its allowed values, in the shape of the team's hand-made
``post-fix-env-whitespace-check-*.json``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from reversal.errors import EXIT_FAIL, EXIT_OK
from reversal.secrets import describe

DEFAULT_OFF = "false"


@dataclass(frozen=True)
class AuditCheck:
    key: str
    kind: str  # secret | flag | must_be_off | other
    present: bool
    length: int
    whitespace: bool
    allowed: tuple[str, ...] | None  # flags only
    state: str | None  # flags only: on / off / absent / invalid (derived, never the raw value)
    ok: bool
    reason: str

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "key": self.key,
            "present": self.present,
            "hasLeadingOrTrailingWhitespace": self.whitespace,
            "length": self.length,
            "kind": self.kind,
        }
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
            out["state"] = self.state
        out["ok"] = self.ok
        out["reason"] = self.reason
        return out


def _rules(playbooks: Iterable, secrets: Iterable[str]) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """key -> (kind, allowed values): a flag allows (on, off), a must-be-off flag only its off
    value (a slice's own off value, else "false"); flags win over a same-named secret."""
    books = list(playbooks)
    flags = {b.flag.name: b.flag for b in books}
    rules: dict[str, tuple[str, tuple[str, ...] | None]] = {s: ("secret", None) for s in secrets}
    for name, flag in flags.items():
        rules[name] = ("flag", (flag.on, flag.off))
    for book in books:
        for name in book.must_be_off:
            rules[name] = ("must_be_off", (flags[name].off if name in flags else DEFAULT_OFF,))
    return rules


def _check(key: str, kind: str, allowed: tuple[str, ...] | None, value: str | None,
           readable: bool) -> AuditCheck:
    shape = describe(key, value)
    present = value is not None or not readable

    def done(ok: bool, reason: str, state: str | None = None) -> AuditCheck:
        return AuditCheck(key, kind, present, shape.length, shape.leading_or_trailing_whitespace,
                          allowed, state, ok, reason)

    if not readable:
        return done(False, "present but not readable decrypted (sensitive type): cannot verify its shape")
    if value is None:
        if kind in ("secret", "other"):
            return done(False, "absent")
        return done(True, "absent (the app's default applies)", "absent")
    if shape.leading_or_trailing_whitespace:
        return done(False, "leading or trailing whitespace", "invalid" if allowed else None)
    if allowed is None:
        return done(shape.length > 0, "ok" if shape.length else "empty")
    if kind == "must_be_off":
        if value == allowed[0]:
            return done(True, "off", "off")
        return done(False, f"must be absent or {allowed[0]!r} before this slice runs", "on")
    on, off = allowed
    if value == on:
        return done(True, "on", "on")
    if value == off:
        return done(True, "off", "off")
    return done(False, f"not one of the allowed values {on!r} / {off!r}", "invalid")


def audit(
    values: Mapping[str, str | None],
    playbooks: Iterable,
    secrets: Iterable[str],
    *,
    keys: Iterable[str] | None = None,
    unreadable: Collection[str] = (),
) -> list[AuditCheck]:
    """Pure: one check per key (default: the secrets, then every flag and must-be-off flag).

    ``values`` maps a key to its decrypted value or None when absent; ``unreadable`` names keys
    that exist but cannot be decrypted (sensitive vars)."""
    rules = _rules(playbooks, secrets)
    return [
        _check(key, *rules.get(key, ("other", None)), values.get(key), key not in unreadable)
        for key in (list(dict.fromkeys(keys)) if keys else list(rules))
    ]


def _read_values(client, keys: Iterable[str], target: str) -> tuple[dict[str, str | None], set[str]]:
    """Decrypted values of ``keys`` for ``target``: one list call, then one get per present key."""
    wanted = set(keys)
    values: dict[str, str | None] = {}
    unreadable: set[str] = set()
    for env in client.list_env():
        if env.key in wanted and target in env.target and env.key not in values:
            value = client.get_env(env.id).value
            values[env.key] = value
            if value is None:
                unreadable.add(env.key)
    return values, unreadable


def _table(checks: list[AuditCheck]) -> str:
    header = ("KEY", "KIND", "PRESENT", "LENGTH", "WHITESPACE", "STATE", "OK", "REASON")
    rows = [header] + [
        (c.key, c.kind, "yes" if c.present else "no", str(c.length), "yes" if c.whitespace else "no",
         c.state or "-", "ok" if c.ok else "FAIL", c.reason)
        for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    )


def run_audit(*, keys: tuple[str, ...], as_json: bool, out: Path | None, config_path: Path | None) -> int:
    from reversal.clock import clock_from_env
    from reversal.config import load_config
    from reversal.evidence.files import utc_iso, utc_stamp, write_json
    from reversal.platform.vercel import VercelClient
    from reversal.playbooks import order

    config = load_config(config_path)
    books = config.load_playbooks()
    playbooks = [books[s] for s in order(books)]
    wanted = list(keys) or list(_rules(playbooks, config.secrets))
    with VercelClient.from_config(config) as client:
        values, unreadable = _read_values(client, wanted, config.environment)
    checks = audit(values, playbooks, config.secrets, keys=wanted, unreadable=unreadable)
    now = clock_from_env(config.environ).now_ms()
    document = {"capturedAtUtc": utc_iso(now), "environment": config.environment,
                "checks": [c.as_json() for c in checks]}
    path = write_json(out or config.artifacts / f"env-audit-{utc_stamp(now)}.json", document)
    failed = [c.key for c in checks if not c.ok]
    if as_json:
        click.echo(json.dumps({**document, "artifact": str(path), "ok": not failed}))
    else:
        click.echo(_table(checks))
        click.echo(f"\n{len(checks) - len(failed)}/{len(checks)} checks ok"
                   + (f"; failing: {', '.join(failed)}" if failed else "") + f". Artifact: {path}")
    return EXIT_FAIL if failed else EXIT_OK


@click.group("env")
def command() -> None:
    """Environment hygiene: audit flags and secrets without showing values."""


@command.command("audit")
@click.argument("keys", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Artifact path (default: artifacts/env-audit-<UTC>.json).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def audit_command(keys, as_json, out, config_path) -> int:
    """Presence, length, surrounding whitespace and allowed value of production env vars.

    KEYS default to the configured secrets plus every playbook flag. Exits 1 if any check fails.
    """
    return run_audit(keys=keys, as_json=as_json, out=out, config_path=config_path)
