"""The cron guard: "do not change Vercel cron schedules" (the protocol's constraint), enforced.

Production runs the cron definitions of the deployment that serves it (the deployment's
``crons: [{path, schedule}]``, as Vercel's deployment API returns them); the app's checkout
declares them in ``vercel.json``. Both are recorded at preflight and after every deploy; any
difference between the before and after sets is a gate failure unless the playbook declares
``break_glass_cron_change: <reason>``. Pure functions over the two lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reversal.errors import InputError

Schedules = dict[str, tuple[str, ...]]  # path -> sorted schedules (a path may run on several)


def schedules(crons: Iterable[Mapping[str, Any]] | None) -> Schedules:
    """``[{path, schedule}]`` (deployment or vercel.json) as path → schedules; a path's query
    string is part of its identity, as in Vercel's definitions."""
    found: dict[str, list[str]] = {}
    for entry in crons or ():
        path, schedule = entry.get("path"), entry.get("schedule")
        if isinstance(path, str) and isinstance(schedule, str):
            found.setdefault(path, []).append(" ".join(schedule.split()))
    return {path: tuple(sorted(values)) for path, values in sorted(found.items())}


def changes(before: Schedules, after: Schedules) -> list[str]:
    """One sentence per path whose schedules differ, naming both sides."""
    out = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            out.append(f"{path}: added with schedule {', '.join(new)}")
        elif new is None:
            out.append(f"{path}: removed (was {', '.join(old)})")
        else:
            out.append(f"{path}: schedule {', '.join(old)} -> {', '.join(new)}")
    return out


def read_vercel_json(root: Path | None) -> dict[str, Any]:
    """The checkout's ``vercel.json`` crons: ``{file, crons}`` (``file`` None when absent)."""
    path = (root or Path.cwd()) / "vercel.json"
    if not path.is_file():
        return {"file": None, "crons": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise InputError(
            f"{path}: not readable as JSON ({exc}); the cron guard records its 'crons'."
        ) from None
    crons = data.get("crons", []) if isinstance(data, dict) else []
    if not isinstance(crons, list):
        raise InputError(f"{path}: field 'crons' must be a list of {{path, schedule}}.")
    return {"file": str(path), "crons": crons}


def guard(before: Mapping[str, Any], after: Mapping[str, Any], break_glass: str | None
          ) -> dict[str, Any]:
    """Compare what production ran before the change with what it runs after (deployment
    crons and, where there is a checkout, vercel.json). ``ok`` unless a schedule changed
    without a declared break-glass reason."""
    found = {
        source: changes(schedules(before.get(source)), schedules(after.get(source)))
        for source in ("deployment", "vercel_json") if source in before and source in after
    }
    differences = [f"{source}: {line}" for source, lines in found.items() for line in lines]
    return {"ok": not differences or bool(break_glass), "differences": differences,
            "break_glass": break_glass if differences else None,
            "before": {k: schedules(v) for k, v in before.items()},
            "after": {k: schedules(v) for k, v in after.items()}}
