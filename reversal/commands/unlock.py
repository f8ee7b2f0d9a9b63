"""``reversal unlock --force``: break the project lease of a holder that is known to be dead."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def unlock(config_path: Path | None, *, force: bool, yes: bool) -> int:
    from reversal.config import load_config
    from reversal.errors import InputError
    from reversal.iteration.lease import ProjectLease
    from reversal.platform.vercel import VercelClient

    if not force:
        raise InputError("unlock: breaking another holder's lease needs --force (and a confirmation).")
    with VercelClient.from_config(load_config(config_path)) as client:
        found = ProjectLease(client, "reversal unlock").current()
        if found is None:
            click.echo("no lease on the project; nothing to do.")
            return 0
        env_id, record = found
        holder = record.describe() if record else "an unreadable lease record"
        click.echo(f"lease held by {holder}", err=True)
        if not yes and not (sys.stdin.isatty() and click.confirm(
                "Break it? Only if that process is dead: two runs on one project are unsafe.",
                default=False, err=True)):
            raise InputError("unlock not confirmed; the lease stands (use --yes to confirm).")
        client.delete_env(env_id)
    click.echo(f"lease broken (was: {holder}).")
    return 0


@click.command("unlock")
@click.option("--force", is_flag=True, help="Required: break the lease whoever holds it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(force, yes, config_path) -> int:
    """Break the project lease of a dead holder (after a crash on another machine)."""
    return unlock(config_path, force=force, yes=yes)
