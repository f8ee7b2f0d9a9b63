"""``reversal rollback``: flag off, redeploy, verify inline and auth, capture, timeline.

A rollback continues the slice's latest iteration (a PASS rolled back says so in its record).
It works from the playbook and the platform alone: when that iteration was already rolled back,
abandoned, unreadable or missing, the rollback gets an iteration folder of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def rollback(config_path: Path | None, *, slice_name: str | None, iteration: str | None,
             reason: str | None, yes: bool, no_wait: bool, sandbox: bool, knobs: tuple[str, ...],
             as_json: bool, instant: bool = False) -> int:
    from reversal.commands.resume import pick
    from reversal.errors import InputError
    from reversal.iteration import transitions
    from reversal.iteration.canary import known_good
    from reversal.iteration.machine import drive, persist
    from reversal.iteration.session import (
        EXIT_BY_STATUS,
        build_context,
        latest_by_slice,
        open_session,
        report,
        resolve_playbook,
    )
    from reversal.iteration.state import INSTANT_STEPS, ROLLBACK_STEPS, IterationState
    from reversal.ui import UI

    if bool(slice_name) == bool(iteration):
        raise InputError("rollback: give exactly one of --route SLICE or an ITERATION name.")
    reason = " ".join((reason or "operator request").split())
    ui = UI(quiet=as_json)
    with open_session(config_path, sandbox=sandbox, knobs=knobs) as session:
        store, platform = session.store, session.identity
        state = (pick(store, iteration, platform) if iteration
                 else latest_by_slice(store, platform).get(slice_name))
        book, books = resolve_playbook(session.config, state.slice if state else slice_name)
        with session.exclusive(f"reversal rollback {book.slice} (pid {os.getpid()})"):
            now = session.clock.now_ms()
            if state is not None:
                state = store.load(state.iteration)
            if state is None or state.status == "abandoned" or (  # a fresh record
                    state.terminal and {"rollback-deploy", "instant-flag-off"} & set(state.completed)):
                folder = store.new_folder(book.slice, now)
                state = IterationState(iteration=folder.name, slice=book.slice, route=book.route,
                                       created_ms=now, window_s=book.window_s, platform=platform)
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait)
            path = INSTANT_STEPS if instant else ROLLBACK_STEPS
            resuming = state.step in path and state.status in ("running", "error", "waiting")
            question = (f"Point production back at {known_good(state)} (Instant Rollback, no build) and "
                        f"set {book.flag.name}={book.flag.off}?" if instant else
                        f"Set {book.flag.name}={book.flag.off} in production and redeploy?")
            if not (yes or sandbox or (resuming and state.yes)) and not ctx.confirm(question):
                raise InputError("rollback not confirmed; nothing changed (use --yes).")
            if not resuming:
                state = transitions.begin_rollback(state, now, reason, instant=instant)
            state.yes = True  # confirmed: the rollback's own resume does not ask again
            persist(ctx, state)
            state = drive(ctx, state)
        report(state, store.folder(state.iteration), as_json=as_json)
        return 0 if state.status in ("rolled-back", "abandoned") else EXIT_BY_STATUS[state.status]


@click.command("rollback")
@click.argument("iteration", required=False)
@click.option("--route", "slice_name", help="Roll back this slice (its latest iteration).")
@click.option("--reason", help="Why (recorded in the timeline).")
@click.option("--instant", is_flag=True,
              help="Instant Rollback to the iteration's last known-good deployment (no build), then "
                   "the flag off in settings.")
@click.option("--yes", is_flag=True, help="Do not ask before the production change.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--sandbox", is_flag=True, help="Run against the embedded sandbox platform.")
@click.option("--sandbox-knob", "knobs", multiple=True, metavar="KEY=VALUE")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, slice_name, reason, instant, yes, no_wait, sandbox, knobs, as_json,
            config_path) -> int:
    """Flip a slice's flag off, redeploy, verify inline 200 and 401, record the rollback."""
    return rollback(config_path, slice_name=slice_name, iteration=iteration, reason=reason, yes=yes,
                    no_wait=no_wait, sandbox=sandbox, knobs=knobs, as_json=as_json, instant=instant)
