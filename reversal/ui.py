"""Operator-facing output: status lines, waits with progress, colours only where wanted.

Progress goes to stderr so ``--json`` output on stdout stays one clean document. Colours
honour ``NO_COLOR`` and are off when the stream is not a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

import click

from reversal.clock import Clock


def colour_enabled(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and stream.isatty()


class UI:
    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.colour = colour_enabled(self.stream)

    def say(self, message: str, *, fg: str | None = None) -> None:
        if not self.quiet:
            click.echo(click.style(message, fg=fg) if self.colour and fg else message,
                       file=self.stream)

    def step(self, name: str, message: str) -> None:
        self.say(f"[{name}] {message}", fg="cyan")

    def wait_until(self, label: str, until_ms: int, clock: Clock, *, tick_s: float = 5.0) -> None:
        """Sleep (on ``clock``) until ``until_ms``, showing a bar on a terminal."""
        total = max(0.0, (until_ms - clock.now_ms()) / 1000)
        if total <= 0:
            return
        factor = getattr(clock, "factor", 1)
        if self.quiet or not self.stream.isatty():
            real = f" ({total / factor:.1f}s real on the sandbox clock x{factor:g})" if factor != 1 else ""
            self.say(f"{label}: waiting {total:.0f}s{real} ...")
            while (left := (until_ms - clock.now_ms()) / 1000) > 0:
                clock.sleep(min(tick_s, left))
            return
        wait_with_progress(self, label, until_ms, clock, tick_s=tick_s)


# -- live progress on a terminal (rich, imported only when a terminal shows it) ----------------

def duration_label(clock: Clock, seconds: float) -> str:
    """``22s``, or ``22s simulated`` on the sandbox's compressed clock."""
    return f"{seconds:.0f}s" + (" simulated" if getattr(clock, "factor", None) else "")


def live_enabled(ui: UI) -> bool:
    return not ui.quiet and ui.stream.isatty()


def _console(ui: UI):
    from rich.console import Console

    return Console(file=ui.stream, no_color=not ui.colour, highlight=False)


class LiveLine:
    """One line that updates in place on a terminal (deploy polling, capture pages); elsewhere
    each distinct message is a plain line (unless ``plain=False``). ``close()`` clears it before
    the next result line."""

    def __init__(self, ui: UI, label: str, *, plain: bool = True) -> None:
        self.ui, self.label, self.plain = ui, label, plain
        self._status = None
        self._last: str | None = None

    def update(self, message: str) -> None:
        if not live_enabled(self.ui):
            if self.plain and message != self._last:
                self.ui.say(f"[{self.label}] {message}")
            self._last = message
            return
        from rich.markup import escape

        text = escape(f"[{self.label}] {message}")  # "[deploy]" is text, not a style tag
        if self._status is None:
            self._status = _console(self.ui).status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def wait_with_progress(ui: UI, label: str, until_ms: int, clock: Clock, *, tick_s: float = 5.0,
                       failures: Callable[[], int | None] | None = None) -> None:
    """Sleep on ``clock`` until ``until_ms`` with a rich bar: time left (simulated on the
    sandbox clock, with the real time left beside it) and, when ``failures`` can tell, the
    failures seen so far."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn

    total = max(0.0, (until_ms - clock.now_ms()) / 1000)
    factor = getattr(clock, "factor", None)

    def left_text(left: float) -> str:
        if factor is None:
            return f"{left:,.0f}s left"
        return f"{left:,.0f}s left (simulated; {left / factor:.1f}s real at x{factor:g})"

    def failures_text() -> str:
        seen = failures() if failures else None
        return "" if seen is None else f"failures so far: {seen}"

    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[left]}"), TextColumn("{task.fields[failures]}"))
    with Progress(*columns, console=_console(ui), transient=True) as bar:
        task = bar.add_task(escape(label), total=total or 1, left=left_text(total), failures=failures_text())
        while (left := (until_ms - clock.now_ms()) / 1000) > 0:
            clock.sleep(min(tick_s, left))
            left = max(0.0, (until_ms - clock.now_ms()) / 1000)
            bar.update(task, completed=total - left, left=left_text(left), failures=failures_text())
    ui.say(f"{label}: done ({total:,.0f}s{' simulated' if factor else ''}).")
