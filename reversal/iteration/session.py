"""Shared setup of the iteration commands: config, platform (real or sandbox), context.

``--sandbox`` starts the embedded platform in-process and overlays its environment, so the
rest of the code cannot tell it from Vercel except by base URLs and credentials.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from reversal.clock import Clock, clock_from_env
from reversal.config import Config, load_config
from reversal.errors import EXIT_FAIL, EXIT_OK, EXIT_WAITING
from reversal.iteration.state import IterationState
from reversal.iteration.store import IterationStore

EXIT_BY_STATUS = {"passed": EXIT_OK, "failed": EXIT_FAIL, "rolled-back": EXIT_FAIL,
                  "stopped": EXIT_FAIL, "inconclusive": EXIT_WAITING, "waiting": EXIT_WAITING,
                  "running": EXIT_FAIL}
SLICE_STATUS = {"passed": "PASS", "failed": "FAIL", "rolled-back": "rolled back",
                "inconclusive": "INCONCLUSIVE", "stopped": "stopped", "running": "in progress",
                "waiting": "in progress"}


@dataclass
class Session:
    config: Config
    clock: Clock
    store: IterationStore
    sandbox: bool


@contextmanager
def open_session(config_path: Path | None, *, sandbox: bool = False,
                 knobs: tuple[str, ...] = ()) -> Iterator[Session]:
    with ExitStack() as stack:
        environ = dict(os.environ)
        if sandbox:
            from reversal.sandbox import Sandbox, parse_knobs

            info = stack.enter_context(Sandbox(parse_knobs(knobs)))
            environ.update(info.env)
        config = load_config(config_path, environ)
        yield Session(config, clock_from_env(environ), IterationStore(config.artifacts), sandbox)


def latest_by_slice(store: IterationStore, *, sandbox: bool = False) -> dict[str, IterationState]:
    """The newest iteration of each slice on the platform at hand. An in-process sandbox is
    a fresh platform every time: no earlier iteration happened on it."""
    if sandbox:
        return {}
    latest: dict[str, IterationState] = {}
    for state in store.all():
        if not state.sandbox:
            latest[state.slice] = state
    return latest


def passed_slices(store: IterationStore, *, sandbox: bool = False) -> set[str]:
    return {s for s, state in latest_by_slice(store, sandbox=sandbox).items()
            if state.status == "passed"}


def resolve_playbook(config: Config, slice_name: str):
    from reversal.playbooks import find_playbook

    books = config.load_playbooks()
    return find_playbook(books, slice_name), books


def confirm_prompt(yes: bool, sandbox: bool):
    """Ask before the first production change, unless --yes or the sandbox."""
    def confirm(question: str) -> bool:
        if yes or sandbox:
            return True
        if not sys.stdin.isatty():
            return False
        return click.confirm(question, default=False, err=True)

    return confirm


def build_context(session: Session, book, books, *, ui, yes: bool, no_wait: bool,
                  export: Path | None = None):
    from reversal.iteration.live import LivePlatform
    from reversal.iteration.machine import Context

    config = session.config
    return Context(
        playbook=book, books=books,
        platform=LivePlatform(config, session.clock, ui),
        store=session.store, clock=session.clock, catalogue=config.catalogue(), ui=ui,
        secrets=config.secrets, confirm=confirm_prompt(yes, session.sandbox),
        no_wait=no_wait, project_root=config.root, export=export,
        passed_slices=passed_slices(session.store, sandbox=session.sandbox),
    )
