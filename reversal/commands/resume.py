"""``reversal resume``: continue an interrupted, waiting, stopped or INCONCLUSIVE iteration."""

from __future__ import annotations

import os
from pathlib import Path

import click


def pick(store, iteration: str | None, platform: dict[str, str], *, open_only: bool = True):
    """The named iteration (on this platform), or the latest one still open on it."""
    from reversal.errors import InputError

    if iteration:
        state = store.load(iteration)
        if state.platform != platform:
            raise InputError(
                f"{state.iteration} ran on project {state.platform.get('project') or '?'} at "
                f"{state.platform.get('api') or '?'}; the configuration points at project "
                f"{platform['project'] or '?'} at {platform['api']}. Point it at that project first."
            )
        return state
    live = [s for s in store.all() if s.platform == platform
            and (not open_only or not s.terminal or s.status == "inconclusive")]
    if not live:
        raise InputError(f"{store.root}: no open iteration on this project to resume; "
                         "'reversal run' starts one.")
    return live[-1]


def resume(config_path: Path | None, iteration: str | None, *, export: Path | None,
           extend: str | None, accept: str | None, yes: bool, no_wait: bool,
           as_json: bool, source: str | None = None) -> int:
    from reversal.durations import format_duration
    from reversal.errors import InputError
    from reversal.iteration import transitions
    from reversal.iteration.canary import extend_window
    from reversal.iteration.machine import drive, persist
    from reversal.iteration.session import (
        EXIT_BY_STATUS,
        bounded_duration,
        build_context,
        open_session,
        report,
    )
    from reversal.iteration.state import is_canary
    from reversal.ui import UI

    if accept is not None and extend is not None:
        raise InputError("resume: give --accept REASON or --extend DURATION, not both.")
    if accept is not None and not accept.strip():
        raise InputError("--accept: give the reason for accepting (it goes in the timeline).")
    seconds = bounded_duration("--extend", extend)
    if export is not None and not export.is_file():
        raise InputError(f"--export {export}: file not found.")
    ui = UI(quiet=as_json)
    with open_session(config_path) as session:
        store = session.store
        state = pick(store, iteration, session.identity)
        holder = f"reversal resume {state.iteration} (pid {os.getpid()})"
        # accepting changes nothing on the platform: the folder lock is enough (no lease, no API)
        lock = store.exclusive_lock(holder) if accept and state.status == "inconclusive" else \
            session.exclusive(holder, state.iteration)
        with lock:
            state = store.load(state.iteration)  # as it is now that the lock is ours
            books = session.config.load_playbooks()
            if state.slice not in books:
                raise InputError(f"{state.iteration}: its slice {state.slice!r} has no playbook any more.")
            book = books[state.slice]
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait, export=export)
            now = session.clock.now_ms()
            if state.status == "inconclusive":
                if accept:
                    state = transitions.accept(state, now, accept)
                elif seconds and is_canary(state):  # the release must still run at the same share
                    state = extend_window(ctx, state, seconds, format_duration(seconds))
                elif seconds:
                    state = transitions.extend_post(state, now, seconds, format_duration(seconds))
                else:
                    raise InputError(
                        f"{state.iteration} is INCONCLUSIVE: resume it with --extend DURATION "
                        "(longer post window) or --accept REASON (recorded in the timeline)."
                    )
                persist(ctx, state)
            elif accept or seconds:
                raise InputError(f"{state.iteration} is {state.status}: --accept and --extend apply "
                                 "to an INCONCLUSIVE iteration only.")
            if source is not None and source != state.source:
                state = transitions.switch_source(state, now, source)
            if yes and not state.yes:
                state.yes = True
            ui.say(f"resuming iteration {state.iteration} at step {state.step or 'end'}")
            state = drive(ctx, state)
        report(state, store.folder(state.iteration), as_json=as_json)
        return EXIT_BY_STATUS[state.status]


@click.command("resume")
@click.argument("iteration", required=False)
@click.option("--export", type=click.Path(path_type=Path),
              help="Attach the dashboard export (or Log Drain file) the iteration waits for.")
@click.option("--extend", help="INCONCLUSIVE: extend the post window (or the canary window, its rolling "
              "release still active) by this duration.")
@click.option("--accept", help="INCONCLUSIVE: accept with this reason (goes in the timeline).")
@click.option("--yes", is_flag=True, help="Do not ask before production changes.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--source", type=click.Choice(["api", "export", "drain"]),
              help="Capture the windows still to come from this source from now on.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, export, extend, accept, yes, no_wait, source, as_json, config_path) -> int:
    """Continue an interrupted, waiting or stopped iteration (the latest open one by default)."""
    return resume(config_path, iteration, export=export, extend=extend, accept=accept, yes=yes,
                  no_wait=no_wait, as_json=as_json, source=source)
