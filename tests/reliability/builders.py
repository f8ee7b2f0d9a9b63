"""Setups for reliability cases: files as an operator (or an accident) leaves them."""

from __future__ import annotations

import copy
import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from reversal.playbooks import BUILTIN_DIR
from tests.zrg import EXPORT

ITERATION = "response-timing-2026-02-18T03-15-00Z"
DELETE = object()


def files(**contents: str | bytes) -> Callable[[Path], None]:
    """Write ``name=content`` files (``__`` in a name is a ``/``)."""
    def setup(tmp: Path) -> None:
        for name, content in contents.items():
            path = tmp / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    return setup


def export_rows(*rows: dict[str, Any]) -> str:
    base = {"requestPath": "app.example.com/api/cron/response-timing", "timestampInMs": 1771384000000,
            "responseStatusCode": 500, "requestId": "r1", "message": "x"}
    return json.dumps([{**base, **r} for r in rows])


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text if isinstance(text, bytes) else text.encode())


def real_export_head(n: int = 50) -> str:
    rows = json.loads(EXPORT.read_text(encoding="utf-8"))
    return json.dumps(rows[:n])


def config(text: str) -> Callable[[Path], None]:
    return files(**{"reversal.yaml": text})


def _book() -> dict[str, Any]:
    return yaml.safe_load((BUILTIN_DIR / "response-timing.yaml").read_text(encoding="utf-8"))


def playbook(raw: str | None = None, **changes: Any) -> Callable[[Path], None]:
    """The project's only playbook: response-timing with dotted ``changes`` (``gate__alpha``),
    or ``raw`` YAML text; plus a reversal.yaml pointing at it."""
    def setup(tmp: Path) -> None:
        (tmp / "playbooks").mkdir(exist_ok=True)
        (tmp / "reversal.yaml").write_text("playbooks_dir: playbooks\n", encoding="utf-8")
        if raw is not None:
            (tmp / "playbooks" / "response-timing.yaml").write_text(raw, encoding="utf-8")
            return
        book = copy.deepcopy(_book())
        for dotted, value in changes.items():
            keys = dotted.split("__")
            node = book
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            if value is DELETE:
                node.pop(keys[-1], None)
            else:
                node[keys[-1]] = value
        text = yaml.safe_dump(book, sort_keys=False)
        (tmp / "playbooks" / "response-timing.yaml").write_text(text, encoding="utf-8")
    return setup


def book_text(**replace: str) -> str:
    """The built-in response-timing playbook text with literal replacements."""
    text = (BUILTIN_DIR / "response-timing.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def packet(*, verdict: str = "PASS", status: str = "passed", iteration: str = ITERATION,
           root: str = "artifacts") -> Callable[[Path], Path]:
    """A finished iteration's evidence packet, written by the real store and timeline code."""
    def setup(tmp: Path) -> Path:
        from reversal.evidence.files import write_json, write_text
        from reversal.evidence.timeline import render_timeline
        from reversal.iteration.state import Event, IterationState
        from reversal.iteration.store import IterationStore
        from reversal.playbooks import load_playbook_file

        book = load_playbook_file(BUILTIN_DIR / "response-timing.yaml")
        store = IterationStore(tmp / root)
        folder = store.folder(iteration)
        folder.mkdir(parents=True, exist_ok=True)
        at = 1771384500000
        state = IterationState(
            iteration=iteration, slice="response-timing", route=book.route, created_ms=at,
            window_s=1800, step="", status=status, verdict=verdict,  # type: ignore[arg-type]
            platform={"api": "http://127.0.0.1:1", "team": "", "project": "prj_reliability"},  # BASE_ENV's
            completed=["preflight", "baseline", "compare", "verdict"],
            events=[Event(at, "preflight", "done", "Preflight passed."),
                    Event(at + 1000, "verdict", "done", f"Verdict {verdict}: recorded.",
                          [f"verdict-response-timing-{iteration}.json"])],
        )
        write_json(folder / f"verdict-response-timing-{iteration}.json",
                   {"iteration": iteration, "slice": "response-timing", "verdict": verdict, "reasons": []})
        store.save(state)
        write_text(folder / "timeline.md", render_timeline(state, book.flag))
        store.write_manifest(iteration)
        (folder / "run.log").write_text('{"event": "step.start"}\n', encoding="utf-8")
        os.chmod(folder / "run.log", 0o600)
        return folder
    return setup


def then(*steps: Callable[[Path], object]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for step in steps:
            step(tmp)
    return setup


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / rel.replace("{it}", ITERATION)
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return setup


def truncate(rel: str, keep: int) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / rel.replace("{it}", ITERATION)
        path.write_bytes(path.read_bytes()[:keep])
    return setup


def state_field(**changes: Any) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / "artifacts" / ITERATION / "state.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update(changes)
        path.write_text(json.dumps(data), encoding="utf-8")
    return setup
