"""Iteration state: what has happened, what comes next. Pure data and pure transitions.

``state.json`` is written atomically after every step, so it always names the next step to
run. Side effects are journaled *intent* before they are made and *done* after, with what
identifies them; a resumed step reads the journal and checks the world instead of repeating
the effect.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from reversal.errors import InputError

STATE_VERSION = 1

FORWARD_STEPS = (
    "preflight", "baseline", "attribute", "flip", "deploy", "probe", "durable", "soak", "post",
    "compare", "verdict",
)
ROLLBACK_STEPS = ("rollback-flip", "rollback-deploy", "rollback-probe", "rollback-capture")
ALL_STEPS = FORWARD_STEPS + ROLLBACK_STEPS

Status = Literal["running", "waiting", "passed", "failed", "inconclusive", "rolled-back", "stopped"]
TERMINAL = ("passed", "failed", "inconclusive", "rolled-back", "stopped")
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass
class Event:
    """One line of the operator timeline."""

    at_ms: int
    step: str
    kind: str  # "started" | "done" | "effect" | "waiting" | "failed" | "verdict" | "note"
    message: str
    artifacts: list[str] = field(default_factory=list)


@dataclass
class IterationState:
    iteration: str
    slice: str
    route: str
    created_ms: int
    window_s: float
    source: Literal["api", "export"] = "api"
    sandbox: bool = False
    step: str = "preflight"  # next step to run; "" when terminal
    status: Status = "running"
    completed: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # per-step results: windows, ids, paths
    journal: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    waiting: dict[str, Any] | None = None
    version: int = STATE_VERSION

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, origin: str) -> IterationState:
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise InputError(
                f"{origin}: not a reversal state file of version {STATE_VERSION}; expected the "
                "state.json that 'reversal run' writes in an iteration folder."
            )
        try:
            events = [Event(**e) for e in data.get("events", [])]
            state = cls(**{**data, "events": events})
        except TypeError as exc:
            raise InputError(f"{origin}: state file has unexpected fields ({exc}).") from None
        if state.step and state.step not in ALL_STEPS:
            raise InputError(f"{origin}: field 'step' names an unknown step {state.step!r}.")
        return state


def journal_entry(state: IterationState, effect: str) -> dict[str, Any] | None:
    """The latest journal entry of ``effect`` (e.g. ``flag:on``), or ``None``."""
    for entry in reversed(state.journal):
        if entry["effect"] == effect:
            return entry
    return None


def with_intent(state: IterationState, effect: str, at_ms: int, **data: Any) -> IterationState:
    new = copy.deepcopy(state)
    new.journal.append({"effect": effect, "phase": "intent", "at_ms": at_ms, **data})
    return new


def with_done(state: IterationState, effect: str, at_ms: int, **data: Any) -> IterationState:
    new = copy.deepcopy(state)
    new.journal.append({"effect": effect, "phase": "done", "at_ms": at_ms, **data})
    return new


def next_forward(step: str) -> str:
    index = FORWARD_STEPS.index(step)
    return FORWARD_STEPS[index + 1] if index + 1 < len(FORWARD_STEPS) else ""


def next_rollback(step: str) -> str:
    index = ROLLBACK_STEPS.index(step)
    return ROLLBACK_STEPS[index + 1] if index + 1 < len(ROLLBACK_STEPS) else ""


def advance(state: IterationState, step: str, at_ms: int, message: str, artifacts: list[str],
            **facts: Any) -> IterationState:
    """Record ``step`` as done and point at the step after it."""
    new = copy.deepcopy(state)
    new.completed.append(step)
    new.facts.setdefault(step, {}).update(facts)
    new.events.append(Event(at_ms, step, "done", message, list(artifacts)))
    new.step = next_rollback(step) if step in ROLLBACK_STEPS else next_forward(step)
    new.waiting = None
    if step in ROLLBACK_STEPS and not new.step:
        new.status = "rolled-back"
    elif step == "verdict" and not new.step:
        new.status = {"PASS": "passed", "FAIL": "failed", "INCONCLUSIVE": "inconclusive"}[
            new.verdict or "INCONCLUSIVE"
        ]
    return new


def fail(state: IterationState, step: str, at_ms: int, reason: str, *, rollback: bool,
         artifacts: list[str] = ()) -> IterationState:
    """A step failed: go down the rollback path when asked (and a flip may have happened)."""
    new = copy.deepcopy(state)
    new.reasons.append(reason)
    new.events.append(Event(at_ms, step, "failed", reason, list(artifacts)))
    flipped = journal_entry(new, "flag:on") is not None
    if flipped:  # the change was made and did not hold: that is a FAIL of the slice
        new.verdict = "FAIL"
    if rollback and flipped:
        new.step = ROLLBACK_STEPS[0]
        new.status = "running"
        new.events.append(Event(at_ms, step, "note", "Rolling back: the flag goes to its off value."))
    else:
        new.step = ""
        new.status = "failed"
    return new


def wait(state: IterationState, step: str, at_ms: int, reason: str, **details: Any) -> IterationState:
    new = copy.deepcopy(state)
    new.status = "waiting"
    new.waiting = {"step": step, "reason": reason, **details}
    new.events.append(Event(at_ms, step, "waiting", reason))
    return new


def note(state: IterationState, step: str, at_ms: int, message: str, kind: str = "note",
         artifacts: list[str] = ()) -> IterationState:
    new = copy.deepcopy(state)
    new.events.append(Event(at_ms, step, kind, message, list(artifacts)))
    return new
