"""Durations and instants as operators write them: ``90s``, ``30m``, ``1h30m``; ``now``,
``-30m``, ``now-1h``, or an ISO-8601 time.

Every duration is bounded (positive, finite, at most ``MAX_DURATION_S``) at the moment it is
parsed: a value like ``99999999999d`` used to overflow ``datetime`` only later, inside a
step, and leave an iteration that no command could load again.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from reversal.errors import InputError

MAX_DURATION_S = 7 * 86400.0
"""The longest window, extension, wait or look-back any option or playbook may ask for."""

EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: no log, window or deployment is older
LATEST_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FORMS = "a positive duration like 90s, 30m or 1h30m (at most 7d)"


def _seconds(text: str | int | float) -> float | None:
    """Seconds as written, unchecked; ``None`` when ``text`` is not a duration at all."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text)
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or _PART.sub("", text):
        return None
    return sum(float(n) * _SECONDS[u] for n, u in _PART.findall(text))


def check_seconds(seconds: float, option: str, shown: object = None, *,
                  maximum: float = MAX_DURATION_S) -> float:
    """``seconds`` if positive, finite and at most ``maximum``; else an ``InputError`` naming
    ``option`` (for numeric options such as ``--poll`` and ``--timeout`` too)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) \
            or not 0 < seconds <= maximum:
        got = seconds if shown is None else shown
        raise InputError(
            f"{option} {got!r}: expected a positive, finite duration of at most "
            f"{_limit(maximum)} (like 90s, 30m or 1h30m; bare numbers are seconds)."
        )
    return float(seconds)


def parse_duration(text: str | int | float, option: str = "duration", *,
                   maximum: float = MAX_DURATION_S) -> float:
    """Seconds of a duration; bare numbers are seconds. Refuses (``InputError`` naming
    ``option``) anything that is not a positive, finite duration of at most ``maximum``."""
    seconds = _seconds(text)
    if seconds is None:
        raise InputError(f"{option} {text!r}: expected {_FORMS}.")
    return check_seconds(seconds, option, text, maximum=maximum)


def _limit(seconds: float) -> str:
    return f"{seconds / 86400:g}d" if seconds >= 86400 else format_duration(seconds)


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


def parse_instant(text: str, now_ms: int, option: str) -> int:
    """Epoch ms of ``now``, a time ago (``-30m``, ``now-30m``, or a bare ``30m``, at most 7
    days) or ISO-8601 (UTC when no offset is given, between 2000 and 2100). ``option`` names
    the flag in the error."""
    spec = text.strip()
    if spec == "now":
        return now_ms
    relative = re.fullmatch(r"(?:now)?\s*-?\s*(\S+)", spec)
    if relative and _seconds(relative.group(1)) is not None:
        return now_ms - int(parse_duration(relative.group(1), option) * 1000)
    try:
        moment = dt.datetime.fromisoformat(spec.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        at_ms = int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise InputError(
            f"{option} {text!r}: expected an ISO-8601 UTC time (2026-02-18T03:00:00Z), 'now', "
            "or a time ago like -30m, 30m or now-1h30m."
        ) from None
    if not EARLIEST_MS <= at_ms < LATEST_MS:
        raise InputError(f"{option} {text!r}: expected a time between 2000 and 2100 (UTC).")
    return at_ms
