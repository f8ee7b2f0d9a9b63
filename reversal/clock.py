"""Time as the loop sees it: the wall clock, or the sandbox's compressed clock.

The sandbox runs a 30-minute protocol window in seconds. Every process that talks to it
reads the same mapping from ``REVERSAL_CLOCK`` (``<sim_origin_ms>@<real_origin_ms>x<factor>``):
simulated now = sim_origin + (real now - real_origin) * factor. Sleeping for a simulated
duration sleeps ``duration / factor`` real seconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Protocol

from reversal.errors import InputError

CLOCK_ENV = "REVERSAL_CLOCK"


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class ScaledClock:
    sim_origin_ms: int
    real_origin_ms: int
    factor: float

    def now_ms(self) -> int:
        real = time.time_ns() // 1_000_000
        return self.sim_origin_ms + int((real - self.real_origin_ms) * self.factor)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.factor)

    def to_env(self) -> str:
        return f"{self.sim_origin_ms}@{self.real_origin_ms}x{self.factor:g}"


def parse_clock(spec: str) -> ScaledClock:
    try:
        sim, rest = spec.split("@", 1)
        real, factor = rest.split("x", 1)
        clock = ScaledClock(int(sim), int(real), float(factor))
    except ValueError:
        clock = None
    if clock is None or clock.factor <= 0:
        raise InputError(
            f"{CLOCK_ENV}={spec!r} is not a clock mapping: expected "
            "'<sim_origin_ms>@<real_origin_ms>x<factor>' with a positive factor, as "
            "'reversal sandbox serve --json' prints it in its env."
        )
    return clock


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    spec = (os.environ if environ is None else environ).get(CLOCK_ENV)
    return parse_clock(spec) if spec else SystemClock()
