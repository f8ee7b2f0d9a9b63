"""``reversal playbooks``: the slices, their order and status; with an export, what's next."""

from __future__ import annotations

from pathlib import Path

import click


def _rows(books, order, latest, passed, failures) -> list[dict]:
    from reversal.iteration.session import SLICE_STATUS

    rows = []
    for name in order:
        book = books[name]
        state = latest.get(name)
        rows.append({
            "slice": name, "route": book.route, "priority": book.priority,
            "after": list(book.after), "flag": book.flag.name, "verify": book.verify,
            "status": SLICE_STATUS.get(state.status, f"unknown ({state.status!r})") if state else "never run",
            "iteration": state.iteration if state else None,
            "eligible": name not in passed and all(a in passed for a in book.after),
            "target_failures": failures.get(name),
        })
    return rows


def playbooks(config_path: Path | None, *, export: tuple[Path, ...], as_json: bool) -> int:
    from reversal.config import load_config
    from reversal.iteration.checks import target_failures
    from reversal.iteration.machine import dumps
    from reversal.iteration.session import identity, latest_by_slice, passed_slices
    from reversal.iteration.store import IterationStore
    from reversal.playbooks import order

    config = load_config(config_path)
    books = config.load_playbooks()
    store = IterationStore(config.artifacts)
    failures = target_failures(export, books, config.catalogue()) if export else {}
    here = identity(config)
    rows = _rows(books, order(books), latest_by_slice(store, here), passed_slices(store, here), failures)
    next_slice = None
    if export:
        ranked = sorted((r for r in rows if r["eligible"] and r["target_failures"]),
                        key=lambda r: (-r["target_failures"], r["priority"]))
        next_slice = ranked[0]["slice"] if ranked else None
    if as_json:
        click.echo(dumps({"slices": rows, "next": next_slice}))
        return 0
    click.echo(f"{'slice':<30} {'prio':<4} {'status':<12} {'failures':>8}  after")
    for r in rows:
        fails = "" if r["target_failures"] is None else str(r["target_failures"])
        click.echo(f"{r['slice']:<30} {r['priority']:<4} {r['status']:<12} {fails:>8}  "
                   f"{', '.join(r['after']) or '-'}")
    if export:
        click.echo(f"\nnext: {next_slice}" if next_slice else
                   "\nnext: none (no eligible slice shows target failures in the export)")
    return 0


@click.command("playbooks")
@click.option("--export", multiple=True, type=click.Path(path_type=Path),
              help="Rank eligible slices by their failure evidence in this export.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(export, as_json, config_path) -> int:
    """List slices, their order and status; with --export, name the next slice to run."""
    return playbooks(config_path, export=export, as_json=as_json)
