"""``reversal sandbox serve``: run the embedded platform until SIGINT/SIGTERM.

With ``--json`` it prints exactly one JSON object on one stdout line once ready (URLs, the
throwaway token, ``env`` for other processes); scripts read that line and export ``env``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from reversal.errors import EXIT_OK


@contextmanager
def _stop_on_signal() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, installed before the sandbox is announced (a script
    may signal as soon as it reads the JSON line); the previous handlers come back after."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _human(info: Any, factor: float) -> str:
    return "\n".join([
        "reversal sandbox: serving on loopback (Ctrl-C to stop)",
        f"  Vercel API     {info.api}",
        f"  request logs   {info.logs_api}",
        f"  app            {info.app}",
        f"  Inngest API    {info.inngest_api}",
        f"  project        {info.project_id} (team {info.team_id})",
        f"  token          {info.token}   (throwaway, valid only for this sandbox)",
        f"  ledger         {info.database_url}",
        f"  clock          x{factor:g} (REVERSAL_CLOCK={info.env['REVERSAL_CLOCK']})",
        "Export these to point another reversal process at it:",
        *(f"  export {k}={v}" for k, v in info.env.items()
          if k not in ("CRON_SECRET", "INNGEST_SIGNING_KEY")),
        "  (CRON_SECRET and INNGEST_SIGNING_KEY are in the --json output's env)",
    ])


def _check_dsn(dsn: str) -> None:
    """A ``database_url`` knob must be a PostgreSQL URL the driver can parse; the error shows
    the DSN without its password."""
    from reversal.config import url_problem
    from reversal.errors import InputError
    from reversal.redact import describe_dsn

    problem = url_problem(dsn, ("postgresql", "postgres"))
    if problem:
        raise InputError(
            f"sandbox knob database_url ({describe_dsn(dsn)}): expected a PostgreSQL URL "
            f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE with a valid host, but {problem}."
        )


def serve(*, as_json: bool, factor: float | None, knobs: tuple[str, ...],
          wait: Callable[[], None] | None = None) -> int:
    """Start a sandbox, announce it, serve until ``wait`` returns; 0 on a clean stop."""
    from reversal.sandbox import Sandbox, parse_knobs

    settings = parse_knobs(knobs)
    if factor is not None:
        from reversal.durations import check_seconds

        settings = parse_knobs([f"factor={check_seconds(factor, '--factor', maximum=1e6)}"], settings)
    if settings.database_url:
        _check_dsn(settings.database_url)
    with _stop_on_signal() as stop, Sandbox(settings) as info:
        if as_json:
            click.echo(json.dumps(info.as_json(), separators=(",", ":")))
        else:
            click.echo(_human(info, settings.factor))
        if wait is not None:
            wait()
        while wait is None and not stop.wait(0.5):
            pass
    return EXIT_OK


@click.group("sandbox")
def command() -> None:
    """The embedded Vercel-like platform for demos and tests."""


@command.command("serve")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (URLs, token, env) on one line.")
@click.option("--factor", type=float, default=None, help="Simulated seconds per real second (default 120).")
@click.option("--knob", "knobs", multiple=True, metavar="KEY=VALUE",
              help="A SandboxSettings field, e.g. api_429_rate=0.2, deploy_error=true, "
                   "failure_rates=response-timing:0.8, offload_does_not_help=followups. Repeatable.")
def serve_command(as_json: bool, factor: float | None, knobs: tuple[str, ...]) -> int:
    """Serve the sandbox until SIGINT/SIGTERM."""
    return serve(as_json=as_json, factor=factor, knobs=knobs)
