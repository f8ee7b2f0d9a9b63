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
from reversal.errors import EXIT_BAD_INPUT, EXIT_FAIL, ReversalError

INTERRUPTED = ("interrupted; what was recorded is kept (state is saved after every step): "
               "'reversal resume' continues an iteration.")

# name -> (module under reversal.commands, one-line help shown by `reversal --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "attribute": ("attribute", "Migration matrix of log exports: routes x statuses x signatures."),
    "signatures": ("signatures", "Discover failure families the signature catalogue does not cover yet."),
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
    "report": ("report", "Render an iteration's report.html or the campaign's index.html again."),
    "verify": ("verify", "Check an evidence packet: manifest hashes, state, timeline, verdict agree."),
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
    """Exit 130 on SIGINT, 143 on SIGTERM (128 + the signal, as shells report it)."""
    _fail(INTERRUPTED, 128 + (_received[-1] if _received else signal.SIGINT), kind="Interrupted")


def _fail(message: str, code: int, argv: list[str] | None = None, kind: str = "Error") -> None:
    """The message on stderr, scrubbed of secrets; with ``--json`` also a JSON document on
    stdout, so a script reading stdout always gets one document."""
    from reversal.redact import scrub

    message = scrub(message)
    if "--json" in (sys.argv[1:] if argv is None else argv):
        import json

        click.echo(json.dumps({"error": {"kind": kind, "message": message, "exit_code": code}}))
    click.echo(f"reversal: {message}", err=True)
    sys.exit(code)


def _os_error(exc: OSError) -> str:
    """A filesystem failure as an operator can act on it: the path, the reason, what to do."""
    import errno

    where = exc.filename or "a file"
    hint = {
        errno.EROFS: "point 'artifacts' (or --out) at a folder on a writable file system",
        errno.EACCES: "fix the folder's permissions or choose another folder",
        errno.ENOSPC: "free space, or move 'artifacts' to another disk",
        errno.EDQUOT: "free space, or move 'artifacts' to another disk",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EEXIST: "something already exists at that path; remove it or choose another path",
    }.get(exc.errno or 0, "check the path and try again")
    return (f"cannot write or read {where}: {exc.strerror or exc}; {hint}. What was recorded "
            "before this point is kept; rerun the command once the path is usable.")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every way out is an exit code and at most one scrubbed paragraph on stderr."""
    import os

    from reversal.redact import register_environ

    register_environ(os.environ)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="reversal", standalone_mode=False)
    except KeyboardInterrupt:
        _interrupted()
    except ReversalError as exc:
        _fail(str(exc), exc.exit_code, argv, type(exc).__name__)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort too
        if isinstance(exc.__context__ or exc.__cause__, KeyboardInterrupt):
            _interrupted()
        _fail("aborted.", EXIT_BAD_INPUT)
    except click.ClickException as exc:
        message = exc.format_message() if not isinstance(exc, click.UsageError) else _usage(exc)
        _fail(message, exc.exit_code, argv, "UsageError")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        _fail(_os_error(exc), EXIT_FAIL)
    except Exception as exc:
        if os.environ.get("REVERSAL_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); nothing further was changed. "
              "Rerun with REVERSAL_DEBUG=1 to see the traceback and report it.", EXIT_FAIL)
    sys.exit(code if isinstance(code, int) else 0)


def _usage(exc: click.UsageError) -> str:
    """A usage error with the hint click would print (``Try 'reversal x -h' for help.``)."""
    hint = f" Try '{exc.ctx.command_path} -h' for help." if exc.ctx is not None else ""
    return exc.format_message() + hint
