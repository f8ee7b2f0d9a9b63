"""``reversal resume``: continue an interrupted or waiting iteration."""

from __future__ import annotations

import os
from pathlib import Path

import click


def _pick(store, iteration: str | None):
    from reversal.errors import InputError

    if iteration:
        return store.load(iteration)
    live = [s for s in store.all() if not s.terminal or s.status == "inconclusive"]
    if not live:
        raise InputError(f"{store.root}: no open iteration to resume; 'reversal run' starts one.")
    return live[-1]


def resume(config_path: Path | None, iteration: str | None, *, export: Path | None,
           extend: str | None, accept: str | None, yes: bool, no_wait: bool,
           as_json: bool) -> int:
    from reversal.durations import format_duration, parse_duration
    from reversal.errors import InputError
    from reversal.iteration.machine import drive, dumps, persist, state_summary
    from reversal.iteration.session import EXIT_BY_STATUS, build_context, open_session
    from reversal.iteration.state import note
    from reversal.ui import UI

    if export is not None and not export.is_file():
        raise InputError(f"--export {export}: file not found.")
    ui = UI(quiet=as_json)
    with open_session(config_path) as session:
        store = session.store
        with store.exclusive_lock(f"reversal resume (pid {os.getpid()})"):
            state = _pick(store, iteration)
            if state.sandbox:
                raise InputError(
                    f"{state.iteration} ran on an in-process sandbox that ended with its process; "
                    "it cannot be resumed. Start again with 'reversal run --sandbox'."
                )
            books = session.config.load_playbooks()
            book = books[state.slice]
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait,
                                export=export)
            now = session.clock.now_ms()
            if state.status == "inconclusive":
                if accept:
                    state = note(state, "verdict", now, f"Operator accepted: {accept}")
                    state.status, state.verdict = "passed", "PASS"
                    state.reasons.append(f"accepted by the operator: {accept}")
                elif extend:
                    seconds = parse_duration(extend)
                    if not seconds:
                        raise InputError(f"--extend {extend!r}: expected a duration like 15m.")
                    window = state.facts["post"]["window"]
                    window["until_ms"] += int(seconds * 1000)
                    state = note(state, "verdict", now,
                                 f"Operator extended the post window by {format_duration(seconds)}.")
                    state.status, state.step, state.verdict = "running", "soak", None
                    state.completed = [s for s in state.completed
                                       if s not in ("soak", "post", "compare", "verdict")]
                else:
                    raise InputError(
                        f"{state.iteration} is INCONCLUSIVE: resume it with --extend DURATION "
                        "(longer post window) or --accept REASON (recorded in the timeline)."
                    )
                persist(ctx, state)
            state = drive(ctx, state)
        summary = state_summary(state, store.folder(state.iteration))
        click.echo(dumps(summary) if as_json else f"{state.iteration}: {state.status}"
                   + (f" — verdict {state.verdict}" if state.verdict else ""))
        return EXIT_BY_STATUS[state.status]


@click.command("resume")
@click.argument("iteration", required=False)
@click.option("--export", type=click.Path(path_type=Path), help="Attach a dashboard export.")
@click.option("--extend", help="INCONCLUSIVE: extend the post window by this duration.")
@click.option("--accept", help="INCONCLUSIVE: accept with this reason (goes in the timeline).")
@click.option("--yes", is_flag=True, help="Do not ask before production changes.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, export, extend, accept, yes, no_wait, as_json, config_path) -> int:
    """Continue an interrupted or waiting iteration (the latest open one by default)."""
    return resume(config_path, iteration, export=export, extend=extend, accept=accept, yes=yes,
                  no_wait=no_wait, as_json=as_json)
