"""``reversal status``: where an iteration stands, without touching anything."""

from __future__ import annotations

from pathlib import Path

import click


def status(config_path: Path | None, iteration: str | None, *, as_json: bool) -> int:
    from reversal.config import load_config
    from reversal.iteration.machine import dumps, state_summary
    from reversal.iteration.store import IterationStore

    store = IterationStore(load_config(config_path).artifacts)
    states = [store.load(iteration)] if iteration else store.all()
    summaries = [state_summary(s, store.folder(s.iteration)) for s in states]
    if as_json:
        click.echo(dumps(summaries[0] if iteration else summaries))
        return 0
    if not summaries:
        click.echo(f"no iterations under {store.root}")
    for s in summaries:
        line = f"{s['iteration']}: {s['status']}"
        if s["step"]:
            line += f", next step {s['step']}"
        if s["verdict"]:
            line += f", verdict {s['verdict']}"
        click.echo(line)
        if s["waiting"]:
            click.echo(f"  waiting for: {s['waiting']['reason']}")
        for reason in s["reasons"] if iteration else s["reasons"][-1:]:
            click.echo(f"  - {reason}")
    return 0


@click.command("status")
@click.argument("iteration", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, as_json, config_path) -> int:
    """Show an iteration's step, verdict so far and what it waits for (all by default)."""
    return status(config_path, iteration, as_json=as_json)
