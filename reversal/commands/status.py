"""``reversal status``: where iterations stand, without touching anything."""

from __future__ import annotations

from pathlib import Path

import click


def status(config_path: Path | None, iteration: str | None, *, as_json: bool) -> int:
    from reversal.config import load_config
    from reversal.evidence.verify import verify_packet
    from reversal.iteration.machine import dumps
    from reversal.iteration.session import (
        SLICE_STATUS,
        identity,
        name_unreadable,
        next_action,
        status_line,
        summary,
    )
    from reversal.iteration.store import IterationStore

    config = load_config(config_path)
    store = IterationStore(config.artifacts)
    if iteration:
        states, broken = [store.load(iteration)], []
    else:
        states, broken = store.scan()
    here = identity(config)
    name_unreadable(broken)
    if as_json:
        docs = [{**summary(s, store.folder(s.iteration)), "slice_status": SLICE_STATUS[s.status],
                 "this_project": s.platform == here,
                 "looks": s.facts.get("soak", {}).get("looks") or [],
                 "verifies": not verify_packet(store.folder(s.iteration))} for s in states]
        click.echo(dumps(docs[0] if iteration else docs))  # unreadable ones: named on stderr
        return 0
    if not states:
        click.echo(f"no iterations under {store.root}")
    for s in states:
        other = "" if s.platform == here else \
            f" [other project: {s.platform.get('project') or 'unknown'}]"
        click.echo(f"{status_line(s)} — slice {s.slice}: {SLICE_STATUS[s.status]}{other}")
        if s.waiting:
            click.echo(f"  waiting for: {s.waiting['reason']}")
        if s.error:
            click.echo(f"  stopped on a platform error at {s.error['step']}: {s.error['cause']}")
        looks = s.facts.get("soak", {}).get("looks") or []
        if looks and s.step in ("soak", "post"):
            last = looks[-1]
            click.echo(f"  soak: look {len(looks)} after {last['post_minutes']:g} min, always-valid "
                       f"p = {last['p_drop']:.3g}: {last['why']}")
        for reason in s.reasons:
            click.echo(f"  - {reason}")
        problems = verify_packet(store.folder(s.iteration))
        if problems:
            click.echo(f"  evidence does NOT verify ({len(problems)} problem(s), first: "
                       f"{problems[0].file}: {problems[0].reason}); 'reversal verify {s.iteration}'")
        if not s.terminal or s.status == "inconclusive":
            click.echo(f"  next: {next_action(s)}")
    return 0


@click.command("status")
@click.argument("iteration", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, as_json, config_path) -> int:
    """Show an iteration's step, verdict so far and what it waits for (all by default)."""
    return status(config_path, iteration, as_json=as_json)
