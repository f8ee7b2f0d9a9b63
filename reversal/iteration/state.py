"""Iteration state: what has happened, what comes next. Pure data; ``transitions.py`` moves it.

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
    "preflight", "gates", "baseline", "attribute", "flip", "deploy", "probe", "durable", "soak", "post",
    "compare", "verdict",
)
ROLLBACK_STEPS = ("rollback-flip", "rollback-deploy", "rollback-probe", "rollback-capture")
CANARY_STEPS = (
    "preflight", "baseline", "attribute", "flip", "canary-deploy", "canary-start", "canary-probe",
    "canary-soak", "canary-capture", "canary-compare", "canary-verdict",
)
"""Canary mode (docs/canary.md): the flagged build serves a share of production next to the
current one, and both are judged over the same minutes."""
INSTANT_STEPS = ("instant-rollback", "instant-flag-off", "instant-verify")
"""Instant Rollback to the last known-good deployment, then the flag off in settings (no build)."""
INSTANT_STANDARD_STEPS = (*INSTANT_STEPS, "rollback-capture")
"""Standard mode's Instant Rollback: the same steps, then the rollback window (the report compares
it with the post window); the window starts when the rollback is verified."""
ALL_STEPS = tuple(dict.fromkeys(FORWARD_STEPS + ROLLBACK_STEPS + CANARY_STEPS + INSTANT_STEPS))
SOURCES = ("api", "export", "drain")  # the request-logs API, a dashboard export, a Log Drain file

Status = Literal["running", "waiting", "error", "passed", "failed", "inconclusive", "rolled-back",
                 "stopped", "abandoned"]
STATUSES = ("running", "waiting", "error", "passed", "failed", "inconclusive", "rolled-back", "stopped",
            "abandoned")
TERMINAL = ("passed", "failed", "inconclusive", "rolled-back", "stopped", "abandoned")
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass
class Event:
    """One line of the operator timeline."""

    at_ms: int
    step: str
    kind: str  # "done" | "waiting" | "failed" | "error" | "note" | "look"
    message: str
    artifacts: list[str] = field(default_factory=list)


@dataclass
class IterationState:
    iteration: str
    slice: str
    route: str
    created_ms: int
    window_s: float
    source: Literal["api", "export", "drain"] = "api"  # how windows are captured (SOURCES); resume may switch
    platform: dict[str, str] = field(default_factory=dict)  # identity: api base, team, project
    yes: bool = False  # the operator confirmed production changes for the whole iteration
    early_stop: bool = True  # looks during the soak may end the post window early (--no-early-stop)
    step: str = "preflight"  # next step to run; "" when terminal
    status: Status = "running"
    completed: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # per-step results: windows, ids, paths
    journal: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    waiting: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # status "error": {step, cause, resume}
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
        data = {k: v for k, v in data.items() if k != "sandbox"}  # files written before identity scoping
        try:
            events = [Event(**e) for e in data.get("events", [])]
            state = cls(**{**data, "events": events})
        except TypeError as exc:
            raise InputError(f"{origin}: state file has unexpected fields ({exc}).") from None
        for name, allowed in (("step", ("", *ALL_STEPS)), ("status", STATUSES),
                              ("verdict", (None, *VERDICTS)), ("source", SOURCES)):
            if getattr(state, name) not in allowed:
                raise InputError(
                    f"{origin}: field {name!r} is {getattr(state, name)!r}; expected one of "
                    f"{', '.join(repr(a) for a in allowed)}."
                )
        for name, kind in (("iteration", str), ("slice", str), ("created_ms", int),
                           ("window_s", (int, float)), ("completed", list), ("reasons", list),
                           ("facts", dict), ("journal", list), ("platform", dict)):
            if not isinstance(getattr(state, name), kind):
                raise InputError(f"{origin}: field {name!r} has the wrong type; expected {kind}.")
        return state


def is_canary(state: IterationState) -> bool:
    """The iteration runs in canary mode (chosen when it started: ``facts["canary"]``)."""
    return bool(state.facts.get("canary"))


def journal_entry(state: IterationState, effect: str) -> dict[str, Any] | None:
    """The latest journal entry of ``effect`` (e.g. ``flag:on``), or ``None``."""
    for entry in reversed(state.journal):
        if entry["effect"] == effect:
            return entry
    return None


def journaled(state: IterationState, effect: str, phase: str, at_ms: int, **data: Any) -> IterationState:
    """Append to the effect journal: ``intent`` before a side effect, ``done`` or ``failed`` after."""
    new = copy.deepcopy(state)
    new.journal.append({"effect": effect, "phase": phase, "at_ms": at_ms, **data})
    return new
