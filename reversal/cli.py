"""The `reversal` command group.

Commands live one per module in ``reversal.commands``; each module exposes a click
``command`` object and imports its heavy dependencies inside the function body, so
``reversal --help`` loads nothing but click. Errors raised as ``ReversalError`` end the
process with their exit code and a one-paragraph message on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import signal
import sys

import click

from reversal import __version__
from reversal.errors import EXIT_BAD_INPUT, ReversalError

# name -> (module under reversal.commands, one-line help shown by `reversal --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "attribute": ("attribute", "Migration matrix of log exports: routes x statuses x signatures."),
    "compare": ("compare", "Compare a baseline and a post window; PASS / FAIL / INCONCLUSIVE."),
    "capture": ("capture", "Capture a request-log window from Vercel as an export + meta file."),
    "env": ("env", "Environment hygiene: audit flags and secrets without showing values."),
    "probe": ("probe", "Probe a route: dispatch-only or inline contract, auth preserved."),
    "durable": ("durable", "Durable-execution health: run ledger, queue, Inngest failures."),
    "sandbox": ("sandbox", "The embedded Vercel-like platform for demos and tests."),
    "playbooks": ("playbooks", "List slices, their order and status; rank the next one."),
    "init": ("init", "Scaffold reversal.yaml and the built-in playbooks."),
    "run": ("run", "Run (or resume) the strict reversal loop for one slice."),
    "resume": ("resume", "Continue an interrupted, waiting or stopped iteration."),
    "status": ("status", "Show an iteration's step, verdict so far and what it waits for."),
    "rollback": ("rollback", "Flip a slice's flag off, redeploy, verify inline, record it."),
    "abandon": ("abandon", "Give an iteration up; rolls the flag back first if it may be on."),
    "unlock": ("unlock", "Break the project lease of a dead holder (--force)."),
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"reversal.commands.{COMMANDS[name][0]}") is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"reversal.commands.{COMMANDS[cmd_name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reversal")
def cli() -> None:
    """Move failing webhook and cron routes off the synchronous path, one slice at a time,
    advancing only when matched log windows show the failure signature dropped."""


_received: list[int] = []


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C (locks released, state already saved) and exits 143."""
    _received.append(signum)
    raise KeyboardInterrupt


def _interrupted() -> None:
    code = 128 + (_received[-1] if _received else signal.SIGINT)
    click.echo("reversal: interrupted; the iteration's state is saved after every step: "
               "'reversal resume' continues it.", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="reversal", standalone_mode=False)
    except KeyboardInterrupt:
        _interrupted()
    except ReversalError as exc:
        click.echo(f"reversal: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted()
        click.echo("reversal: aborted.", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
