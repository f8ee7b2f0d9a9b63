"""``reversal abandon``: give an iteration up, rolling the flag back first if it may be on."""

from __future__ import annotations

import os
from pathlib import Path

import click


def abandon(config_path: Path | None, iteration: str | None, *, reason: str, yes: bool,
            no_wait: bool, as_json: bool) -> int:
    from reversal.commands.resume import pick
    from reversal.errors import InputError
    from reversal.iteration import transitions
    from reversal.iteration.machine import drive, persist
    from reversal.iteration.session import EXIT_BY_STATUS, build_context, open_session, report
    from reversal.ui import UI

    reason = " ".join(reason.split())
    if not reason:
        raise InputError("abandon: --reason must say why (it goes in the timeline).")
    ui = UI(quiet=as_json)
    with open_session(config_path) as session:
        store = session.store
        state = pick(store, iteration, session.identity)
        with session.exclusive(f"reversal abandon {state.iteration} (pid {os.getpid()})", state.iteration):
            state = store.load(state.iteration)
            books = session.config.load_playbooks()
            if state.slice not in books:
                raise InputError(f"{state.iteration}: its slice {state.slice!r} has no playbook any more.")
            book = books[state.slice]
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait)
            if transitions.needs_rollback(state) and not (yes or state.yes) and not ctx.confirm(
                    f"{state.iteration} may have {book.flag.name}={book.flag.on} in production: "
                    f"set {book.flag.off} and redeploy before abandoning?"):
                raise InputError("abandon not confirmed; nothing changed (use --yes).")
            state = transitions.abandon(state, session.clock.now_ms(), reason)
            state.yes = state.yes or yes
            persist(ctx, state)
            state = drive(ctx, state)
        report(state, store.folder(state.iteration), as_json=as_json)
        return 0 if state.status == "abandoned" else EXIT_BY_STATUS[state.status]


@click.command("abandon")
@click.argument("iteration", required=False)
@click.option("--reason", required=True, help="Why (recorded in the timeline).")
@click.option("--yes", is_flag=True, help="Do not ask before rolling the flag back.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, reason, yes, no_wait, as_json, config_path) -> int:
    """Give up an iteration (the latest open one by default); rolls back first if flipped."""
    return abandon(config_path, iteration, reason=reason, yes=yes, no_wait=no_wait, as_json=as_json)
