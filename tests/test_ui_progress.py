"""Live progress: rich on a terminal, plain lines elsewhere, nothing with --json."""

from __future__ import annotations

import io

from reversal.clock import ScaledClock
from reversal.ui import UI, LiveLine, duration_label, wait_with_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


def test_live_line_prints_each_new_message_once_off_a_terminal():
    out = io.StringIO()
    line = LiveLine(UI(stream=out), "deploy")
    for message in ("deployment QUEUED", "deployment QUEUED", "deployment READY"):
        line.update(message)
    line.close()
    assert out.getvalue().splitlines() == ["[deploy] deployment QUEUED", "[deploy] deployment READY"]
    quiet = io.StringIO()
    LiveLine(UI(stream=quiet), "capture", plain=False).update("500 requests read so far")
    LiveLine(UI(stream=quiet, quiet=True), "deploy").update("x")
    assert quiet.getvalue() == ""


def test_live_line_on_a_terminal_updates_in_place_and_clears():
    term = Terminal()
    line = LiveLine(UI(stream=term), "deploy")
    line.update("deployment BUILDING after 7s")
    line.update("deployment READY after 21s")
    line.close()
    assert "[deploy] deployment" in term.getvalue()


def test_wait_with_progress_sleeps_to_the_end_and_shows_time_left_and_failures():
    term, clock = Terminal(), FakeClock()
    seen = iter(range(100))
    wait_with_progress(UI(stream=term), "soak", 60_000, clock, tick_s=10, failures=lambda: next(seen))
    assert clock.now >= 60_000
    text = term.getvalue()
    assert "soak: done (60s)." in text and "failures so far" in text and "left" in text


def test_sandbox_durations_are_labelled_simulated():
    assert duration_label(FakeClock(), 21.4) == "21s"
    assert duration_label(ScaledClock(0, 0, 300), 21.4) == "21s simulated"
