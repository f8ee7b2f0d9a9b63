"""Does an evidence packet still say what the run recorded?

``manifest.json`` holds the sha256 of every file when the state was last saved; a file
edited afterwards (``sed -i s/PASS/FAIL/ verdict-*.json``) no longer matches. The packet must
also agree with itself: ``state.json`` is the source of truth, ``timeline.md`` is rendered
from it, and each ``verdict-*.json`` must carry a verdict the state recorded. Pure reads; every
problem names its file, so ``reversal verify`` and ``reversal status`` can show it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STATE = "state.json"
TIMELINE = "timeline.md"
UNHASHED = {MANIFEST, "run.log", "report.html"}  # the manifest; the append-only log; derived page


@dataclass(frozen=True)
class Problem:
    file: str  # the file's name inside the packet
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def _json(path: Path) -> tuple[Any, Problem | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, Problem(path.name, "missing")
    except (OSError, ValueError) as exc:
        return None, Problem(path.name, f"unreadable or not valid JSON ({exc})")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _manifest(folder: Path) -> list[Problem]:
    manifest, problem = _json(folder / MANIFEST)
    if problem:
        return [problem]
    hashes = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(hashes, dict):
        return [Problem(MANIFEST, "expected {\"iteration\": …, \"sha256\": {file: digest}}")]
    problems = []
    for name, digest in sorted(hashes.items()):
        path = folder / str(name)
        if "/" in str(name) or not path.is_file():
            problems.append(Problem(str(name), "listed in manifest.json but missing"))
        elif _sha256(path) != digest:
            problems.append(Problem(str(name), "sha256 does not match manifest.json (edited after the run)"))
    unlisted = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in hashes
                      and p.name not in UNHASHED and not p.name.startswith("."))
    problems += [Problem(name, "not listed in manifest.json (added after the run)") for name in unlisted]
    if isinstance(manifest, dict) and manifest.get("iteration") != folder.name:
        problems.append(Problem(MANIFEST, f"names iteration {manifest.get('iteration')!r}, "
                                          f"not {folder.name!r}"))
    return problems


def _verdicts_recorded(state: dict[str, Any]) -> set[str]:
    """Every verdict the state recorded: its field, and the verdict step's events (an operator's
    ``--accept`` turns INCONCLUSIVE into PASS after the verdict file was written)."""
    found = {str(state.get("verdict"))} if state.get("verdict") else set()
    for event in state.get("events") or []:
        if isinstance(event, dict) and event.get("step") == "verdict":
            found |= set(re.findall(r"\b(PASS|FAIL|INCONCLUSIVE)\b", str(event.get("message", ""))))
    return found


def _agreement(folder: Path, state: dict[str, Any]) -> list[Problem]:
    problems = []
    if state.get("iteration") != folder.name:
        problems.append(Problem(STATE, f"names iteration {state.get('iteration')!r}, not {folder.name!r}"))
    recorded = _verdicts_recorded(state)
    for path in sorted(folder.glob("verdict-*.json")):
        verdict, problem = _json(path)
        if problem:
            problems.append(problem)
        elif not isinstance(verdict, dict) or verdict.get("verdict") not in recorded:
            said = verdict.get("verdict") if isinstance(verdict, dict) else None
            problems.append(Problem(path.name, f"says verdict {said!r} but state.json recorded "
                                               f"{', '.join(sorted(recorded)) or 'no verdict'}"))
        elif verdict.get("iteration") not in (None, state.get("iteration")):
            problems.append(Problem(path.name, f"belongs to iteration {verdict.get('iteration')!r}"))
    timeline = folder / TIMELINE
    if timeline.is_file():
        text = timeline.read_text(encoding="utf-8", errors="replace")
        status = re.search(r"^- Status: \*\*([^*]+)\*\*(?: — verdict \*\*([A-Z]+)\*\*)?", text, re.MULTILINE)
        if status is None:
            problems.append(Problem(TIMELINE, "has no '- Status: **…**' line"))
        else:
            if status.group(1) != state.get("status"):
                problems.append(Problem(TIMELINE, f"says status {status.group(1)!r} but state.json says "
                                                  f"{state.get('status')!r}"))
            if (status.group(2) or None) != state.get("verdict"):
                problems.append(Problem(TIMELINE, f"says verdict {status.group(2)!r} but state.json says "
                                                  f"{state.get('verdict')!r}"))
        if f"`{state.get('iteration')}`" not in text:
            problems.append(Problem(TIMELINE, f"does not name iteration {state.get('iteration')!r}"))
    else:
        problems.append(Problem(TIMELINE, "missing"))
    return problems


def verify_packet(folder: Path) -> list[Problem]:
    """Every problem of the evidence packet in ``folder``; empty when it verifies."""
    if not folder.is_dir():
        return [Problem(folder.name, "no such iteration folder")]
    state, problem = _json(folder / STATE)
    problems = _manifest(folder)
    if problem:
        problems.append(problem)
    elif not isinstance(state, dict):
        problems.append(Problem(STATE, "expected a JSON object"))
    else:
        problems += _agreement(folder, state)
    return problems
