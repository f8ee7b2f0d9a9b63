"""``timeline.md``: the operator timeline, rendered from the recorded events only.

It is never edited by hand or appended to: every render starts from ``state.json`` (and, for
the rollback check, the packet's own log windows), so the timeline and the state cannot
disagree. The header says who ran it, against what, and on which clock the times are.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING, Any

from reversal.evidence.provenance import commit_of, time_label
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


def rollback_reason(state: IterationState) -> str | None:
    """Why the iteration went down the rollback path: the operator's request (the note the
    rollback starts with), else the failure that triggered it."""
    first = next((i for i, e in enumerate(state.events) if e.step.startswith(("rollback", "instant-"))),
                 None)
    if first is None:
        return None
    if state.events[first].kind == "note":
        return state.events[first].message
    failed = [e for e in state.events[:first] if e.kind == "failed"]
    return failed[-1].message if failed else None


def render_timeline(state: IterationState, flag: Flag, rollback_check: dict[str, Any] | None = None) -> str:
    from reversal.durations import format_duration

    prov = state.facts.get("provenance") or {}
    production = state.facts.get("preflight", {}).get("production") or {}
    return _template().render(
        state=state, flag=flag, window=format_duration(state.window_s), prov=prov,
        clock=time_label(prov), commit=commit_of(production.get("meta")),
        rollback_reason=rollback_reason(state), rollback_check=rollback_check,
    )
