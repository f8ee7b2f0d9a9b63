"""``timeline.md``: the operator timeline, rendered from the recorded events only.

It is never edited by hand or appended to: every render starts from ``state.json``, so the
timeline and the state cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING

from reversal.playbooks import Flag

if TYPE_CHECKING:  # evidence renders what the iteration layer hands it; it never imports it
    from reversal.iteration.state import IterationState


def inline_md(text: object) -> str:
    """Text from the operator or the platform as one Markdown line: newlines collapse, no HTML
    tag opens and a leading ``#`` cannot open a heading, so no text can restructure the file."""
    flat = " ".join(str(text).split()).replace("<", "&lt;")
    return "\\" + flat if flat.startswith("#") else flat


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reversal", "evidence/templates"),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["utc"] = _utc
    env.filters["md"] = inline_md
    return env.get_template("timeline.md.j2")


def render_timeline(state: IterationState, flag: Flag) -> str:
    from reversal.durations import format_duration

    return _template().render(state=state, flag=flag, window=format_duration(state.window_s))
