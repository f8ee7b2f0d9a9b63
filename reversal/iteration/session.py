"""Shared setup of the iteration commands: config, platform identity, the locks, the report.

``--sandbox`` starts the embedded platform in-process and overlays its environment, so the
rest of the code cannot tell it from Vercel except by base URLs and credentials. Iterations
are scoped by *platform identity* (API base, team, project): slice history, ``after:`` gates
and open iterations belong to the project they ran on, whatever folder they are stored in.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from reversal.clock import Clock, clock_from_env
from reversal.config import Config, load_config
from reversal.errors import EXIT_FAIL, EXIT_OK, EXIT_WAITING
from reversal.iteration.state import IterationState
from reversal.iteration.store import IterationStore

EXIT_BY_STATUS = {"passed": EXIT_OK, "failed": EXIT_FAIL, "rolled-back": EXIT_FAIL,
                  "stopped": EXIT_FAIL, "abandoned": EXIT_FAIL, "inconclusive": EXIT_WAITING,
                  "waiting": EXIT_WAITING, "error": EXIT_WAITING, "running": EXIT_FAIL}
SLICE_STATUS = {"passed": "PASS", "failed": "FAIL", "rolled-back": "rolled back",
                "inconclusive": "INCONCLUSIVE", "stopped": "stopped", "running": "in progress",
                "waiting": "in progress", "error": "stopped on error", "abandoned": "abandoned"}


def identity(config: Config) -> dict[str, str]:
    """Which platform project an iteration runs against."""
    return {"api": config.vercel_api.rstrip("/"), "team": config.team_id or config.org_id or "",
            "project": config.project_id or ""}


@dataclass
class Session:
    config: Config
    clock: Clock
    store: IterationStore

    @property
    def identity(self) -> dict[str, str]:
        return identity(self.config)

    @cached_property
    def client(self):
        """One Vercel client for the command: the lease and the platform share it."""
        from reversal.platform.vercel import VercelClient

        return VercelClient.from_config(self.config)

    @contextmanager
    def exclusive(self, holder: str, iteration: str | None = None) -> Iterator[None]:
        """The folder lock, then the project lease: one iteration per project at a time."""
        from reversal.iteration.lease import ProjectLease, held

        with self.store.exclusive_lock(holder), held(ProjectLease(self.client, holder, iteration=iteration)):
            name_unreadable(self.store.scan()[1])
            yield


def name_unreadable(broken: list[str]) -> None:
    """One bad iteration folder is named on stderr, never allowed to block the others."""
    for problem in broken:
        click.echo(f"reversal: skipped an unreadable iteration: {problem}", err=True)


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
        session = Session(config, clock_from_env(environ), IterationStore(config.artifacts))
        yield session
        if "client" in session.__dict__:
            session.client.close()


def latest_by_slice(store: IterationStore, platform: dict[str, str]) -> dict[str, IterationState]:
    """The newest iteration of each slice on ``platform``."""
    return {s.slice: s for s in store.all() if s.platform == platform}


def passed_slices(store: IterationStore, platform: dict[str, str]) -> set[str]:
    return {s for s, state in latest_by_slice(store, platform).items() if state.status == "passed"}


def open_for(store: IterationStore, slice_name: str, platform: dict[str, str]) -> IterationState | None:
    """The unfinished iteration of a slice on ``platform``, if any."""
    state = latest_by_slice(store, platform).get(slice_name)
    return state if state is not None and not state.terminal else None


MAX_DURATION_S = 7 * 24 * 3600.0


def bounded_duration(option: str, text: str | None) -> float | None:
    """A window or extension given on the command line: positive, finite, at most 7 days."""
    from reversal.durations import parse_duration
    from reversal.errors import InputError

    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except (ValueError, OverflowError, InputError):
        seconds = None
    if not seconds or not 0 < seconds <= MAX_DURATION_S:
        raise InputError(f"{option} {text!r}: expected a positive duration of at most 7 days, "
                         "like 30m or 1h.")
    return seconds


def resolve_playbook(config: Config, slice_name: str):
    from reversal.playbooks import find_playbook

    books = config.load_playbooks()
    return find_playbook(books, slice_name), books


def confirm_prompt(yes: bool):
    """Ask before a production change, unless --yes; never without a terminal."""
    def confirm(question: str) -> bool:
        if yes:
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
        # the lease's client when the command took the lease (one pool); else made when needed
        platform=LivePlatform(config, session.clock, ui, vars(session).get("client")),
        store=session.store, clock=session.clock, catalogue=config.catalogue(), ui=ui,
        secrets=config.secrets, confirm=confirm_prompt(yes),
        no_wait=no_wait, project_root=config.root, export=export,
        passed_slices=passed_slices(session.store, session.identity),
    )


def next_action(state: IterationState) -> str:
    """What the operator does next, as a command where there is one."""
    it = state.iteration
    return {
        "running": f"'reversal resume {it}' (the process stopped mid-step; resume redoes it safely)",
        "waiting": f"'reversal resume {it}' once the wait above is over",
        "error": (state.error or {}).get("resume", f"reversal resume {it}")
        + " once the platform answers again (nothing was rolled back)",
        "inconclusive": f"'reversal resume {it} --extend 30m' or 'reversal resume {it} --accept REASON'",
        "passed": "run the next slice ('reversal playbooks' shows the order)",
        "failed": "read the reasons and the evidence; fix the route before running the slice again",
        "rolled-back": "the flag is off again; read the evidence before running the slice again",
        "stopped": "nothing was changed; fix what the reasons name, then run the slice again",
        "abandoned": "nothing to do; run the slice again when ready",
    }[state.status]


def summary(state: IterationState, folder: Path) -> dict[str, Any]:
    return {
        "iteration": state.iteration, "slice": state.slice, "route": state.route,
        "status": state.status, "step": state.step or None, "verdict": state.verdict,
        "reasons": state.reasons, "waiting": state.waiting, "error": state.error,
        "folder": str(folder), "completed": state.completed, "platform": state.platform,
        "next": next_action(state),
    }


def status_line(state: IterationState) -> str:
    """``<iteration>: <status>[, next step][, verdict]`` — a verdict a rollback undid is said so."""
    line = f"{state.iteration}: {state.status}"
    if state.step and not state.terminal:
        line += f", at step {state.step}"
    if state.verdict and state.status in ("rolled-back", "abandoned") and state.verdict != "FAIL":
        line += f" (verdict {state.verdict} before the rollback)"
    elif state.verdict:
        line += f", verdict {state.verdict}"
    return line


def report(state: IterationState, folder: Path, *, as_json: bool) -> None:
    """The result of a command on stdout, the same for run, resume, rollback and abandon."""
    from reversal.iteration.machine import dumps

    if as_json:
        click.echo(dumps(summary(state, folder)))
        return
    click.echo(status_line(state))
    for reason in state.reasons:
        click.echo(f"  - {reason}")
    if state.waiting:
        click.echo(f"  waiting: {state.waiting['reason']}")
    if state.error:
        click.echo(f"  stopped on a platform error at {state.error['step']}: {state.error['cause']}")
    click.echo(f"  evidence: {folder}")
    click.echo(f"  next: {next_action(state)}")
