"""``reversal rollback``: flag off, redeploy, verify inline and auth, capture, timeline."""

from __future__ import annotations

import os
from pathlib import Path

import click


def rollback(config_path: Path | None, *, slice_name: str | None, iteration: str | None,
             yes: bool, no_wait: bool, sandbox: bool, knobs: tuple[str, ...],
             as_json: bool) -> int:
    from reversal.errors import InputError
    from reversal.iteration.machine import drive, dumps, persist, state_summary
    from reversal.iteration.session import (
        EXIT_BY_STATUS,
        build_context,
        latest_by_slice,
        open_session,
        resolve_playbook,
    )
    from reversal.iteration.state import ROLLBACK_STEPS, IterationState, note
    from reversal.ui import UI

    if bool(slice_name) == bool(iteration):
        raise InputError("rollback: give exactly one of --route SLICE or an ITERATION name.")
    ui = UI(quiet=as_json)
    with open_session(config_path, sandbox=sandbox, knobs=knobs) as session:
        store = session.store
        with store.exclusive_lock(f"reversal rollback (pid {os.getpid()})"):
            state = (store.load(iteration) if iteration
                     else latest_by_slice(store, sandbox=sandbox).get(slice_name))
            book, books = resolve_playbook(session.config, state.slice if state else slice_name)
            now = session.clock.now_ms()
            if state is not None and state.sandbox and not sandbox:
                raise InputError(
                    f"{state.iteration} ran on an in-process sandbox that ended with its process; "
                    "there is nothing to roll back on the platform you are configured for."
                )
            if state is None:
                folder = store.new_folder(book.slice, now)
                state = IterationState(iteration=folder.name, slice=book.slice, route=book.route,
                                       created_ms=now, window_s=book.window_s, sandbox=sandbox)
            if state.step not in ROLLBACK_STEPS:
                state = note(state, "rollback-flip", now,
                             f"Operator requested rollback of {book.slice}.")
                state.status, state.step = "running", ROLLBACK_STEPS[0]
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait)
            if not ctx.confirm(f"Set {book.flag.name}={book.flag.off} in production and redeploy?"):
                raise InputError("rollback not confirmed; nothing changed (use --yes).")
            persist(ctx, state)
            state = drive(ctx, state)
        summary = state_summary(state, store.folder(state.iteration))
        click.echo(dumps(summary) if as_json else f"{state.iteration}: {state.status}")
        return 0 if state.status == "rolled-back" else EXIT_BY_STATUS[state.status]


@click.command("rollback")
@click.argument("iteration", required=False)
@click.option("--route", "slice_name", help="Roll back this slice (its latest iteration).")
@click.option("--yes", is_flag=True, help="Do not ask before the production change.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--sandbox", is_flag=True, help="Run against the embedded sandbox platform.")
@click.option("--sandbox-knob", "knobs", multiple=True, metavar="KEY=VALUE")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, slice_name, yes, no_wait, sandbox, knobs, as_json, config_path) -> int:
    """Flip a slice's flag off, redeploy, verify inline 200 and 401, record the rollback."""
    return rollback(config_path, slice_name=slice_name, iteration=iteration, yes=yes,
                    no_wait=no_wait, sandbox=sandbox, knobs=knobs, as_json=as_json)
