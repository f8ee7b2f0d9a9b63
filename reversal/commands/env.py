"""``reversal env audit``: shapes of production secrets and flags, never their values.

The team shipped an ``INNGEST_SIGNING_KEY`` with a trailing newline (every Inngest callback
then failed with ``Invalid signature``) and booleans like ``true\\n``. The audit reads the
decrypted production values and reports presence, length, surrounding whitespace and whether
a flag holds one of its allowed values, in the shape of the team's hand-made
``post-fix-env-whitespace-check-*.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reversal.errors import EXIT_FAIL, EXIT_OK
from reversal.evidence.files import check_target
from reversal.platform.envaudit import AuditCheck, audit, rules_for
from reversal.platform.flags import read_values


def _table(checks: list[AuditCheck]) -> str:
    header = ("KEY", "KIND", "PRESENT", "LENGTH", "WHITESPACE", "STATE", "OK", "REASON")
    rows = [header] + [
        (c.key, c.kind if c.type is None else f"{c.kind} ({c.type})", "yes" if c.present else "no",
         str(c.length), "yes" if c.whitespace else "no",
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

    check_target(out)
    config = load_config(config_path)
    books = config.load_playbooks()
    playbooks = [books[s] for s in order(books)]
    wanted = list(keys) or list(rules_for(playbooks, config.secrets))
    from reversal.platform.envfile import local_copy

    def local(key: str):
        return local_copy(key, environ=config.environ, env_file=config.env_file)

    with VercelClient.from_config(config) as client:
        values, unreadable = read_values(client, wanted, config.environment, local)
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
    """Environment hygiene: audit and fix flags and secrets without showing values."""


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


@command.command("fix")
@click.argument("keys", nargs=-1)
@click.option("--yes", is_flag=True, help="Do not ask before changing production.")
@click.option("--redeploy", is_flag=True,
              help="Redeploy even when nothing is trimmed (after re-entering a sensitive value).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def fix_command(keys, yes, redeploy, as_json, config_path) -> int:
    """Trim whitespace-tainted production values, redeploy once, re-audit.

    Readable flags and secrets are trimmed with a journaled write and an exact read-back;
    sensitive ones get the exact steps to re-enter them. Exits 0 when the re-audit is clean.
    """
    from reversal.commands.envfix import run_fix

    return run_fix(keys=keys, yes=yes, redeploy=redeploy, as_json=as_json, config_path=config_path)
