"""Durations and instants as operators write them: ``90s``, ``30m``, ``1h30m``; ``now``,
``-30m``, ``now-1h``, or an ISO-8601 time."""

from __future__ import annotations

import datetime as dt
import re

from reversal.errors import InputError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> float | None:
    """Seconds, or ``None`` when ``text`` is not a duration. Bare numbers are seconds."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text) if text >= 0 else None
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or _PART.sub("", text):
        return None
    return sum(float(n) * _SECONDS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


def parse_instant(text: str, now_ms: int, option: str) -> int:
    """Epoch ms of ``now``, a time ago (``-30m``, ``now-30m``, or a bare ``30m``) or ISO-8601
    (UTC when no offset is given). ``option`` names the flag in the error."""
    spec = text.strip()
    if spec == "now":
        return now_ms
    relative = re.fullmatch(r"(?:now)?\s*-?\s*(\S+)", spec)
    seconds = parse_duration(relative.group(1)) if relative else None
    if seconds is not None:
        return now_ms - int(seconds * 1000)
    try:
        moment = dt.datetime.fromisoformat(spec.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r}: expected an ISO-8601 UTC time (2026-02-18T03:00:00Z), 'now', "
            "or a time ago like -30m, 30m or now-1h30m."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
