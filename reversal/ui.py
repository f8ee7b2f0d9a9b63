"""Operator-facing output: status lines, waits with progress, colours only where wanted.

Progress goes to stderr so ``--json`` output on stdout stays one clean document. Colours
honour ``NO_COLOR`` and are off when the stream is not a terminal.
"""

from __future__ import annotations

import os
import sys
import time
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
        """Sleep (on ``clock``) until ``until_ms``, showing a bar on a terminal. When clock time
        runs faster than real time (a compressed clock), the real duration is said after."""
        total = max(0.0, (until_ms - clock.now_ms()) / 1000)
        if total <= 0:
            return
        started = time.monotonic()
        if self.quiet or not self.stream.isatty():
            self.say(f"{label}: waiting {total:.0f}s of clock time ...")
            while (left := (until_ms - clock.now_ms()) / 1000) > 0:
                clock.sleep(min(tick_s, left))
        else:
            with click.progressbar(length=int(total), label=label, file=self.stream) as bar:
                done = 0
                while (left := (until_ms - clock.now_ms()) / 1000) > 0:
                    clock.sleep(min(tick_s, left))
                    elapsed = int(total - max(0.0, (until_ms - clock.now_ms()) / 1000))
                    bar.update(elapsed - done)
                    done = elapsed
        real = time.monotonic() - started
        if real < total / 2:
            self.say(f"{label}: {total:.0f}s of clock time passed in {real:.1f}s real time")
