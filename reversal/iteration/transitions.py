"""Every change of an iteration's status, step or verdict: named pure functions over one table.

The steps and the allowed moves between statuses are data (``FORWARD_STEPS``,
``ROLLBACK_STEPS``, ``TABLE``); each transition checks its move against the table and returns
a new state. Step handlers and commands call these and never assign ``status``, ``step`` or
``verdict`` themselves, so this module is the one place that says how an iteration can move.

Two kinds of trouble are kept apart (as Argo Rollouts keeps ``Error`` apart from ``Failed``):
a *gate failure* (probe contract broken, durable run FAILED, deployment ERROR, verdict FAIL)
is a finding about the change and goes down the rollback path the playbook names; a *platform
error* (the API gone, retries spent, a build past its deadline) says nothing about the change
and stops the iteration at its step with status ``error``, for ``reversal resume`` to retry.
"""

from __future__ import annotations

import copy
from typing import Any

from reversal.errors import InputError
from reversal.iteration.state import (
    CANARY_STEPS,
    FORWARD_STEPS,
    INSTANT_STANDARD_STEPS,
    INSTANT_STEPS,
    ROLLBACK_STEPS,
    STATUSES,
    Event,
    IterationState,
    is_canary,
    journal_entry,
)

UNDO_STEPS = ROLLBACK_STEPS + INSTANT_STEPS  # the two ways back: rebuild, or Instant Rollback

# name -> (statuses it may start from, statuses it may end in)
TABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "advance": (("running",), ("running", "passed", "inconclusive", "rolled-back", "abandoned")),
    "decide": (("running",), ("running",)),
    "gate_failed": (("running",), ("running", "failed")),
    "refuse": (("running",), ("stopped",)),
    "stopped_on_error": (("running",), ("error",)),
    "wait": (("running",), ("waiting",)),
    "resume": (("running", "waiting", "error"), ("running",)),
    "accept": (("inconclusive",), ("passed",)),
    "extend_post": (("inconclusive",), ("running",)),
    "extend_canary": (("inconclusive",), ("running",)),
    "fall_back_to_rebuild": (("running",), ("running",)),
    "begin_rollback": (("running", "waiting", "error", "passed", "failed", "inconclusive",
                        "rolled-back", "stopped"), ("running",)),
    "abandon": (("running", "waiting", "error", "inconclusive", "failed", "stopped"), ("abandoned",)),
}
TERMINAL_STATUSES = ("passed", "failed", "rolled-back", "stopped", "abandoned")
RESUMABLE_STATUSES = ("running", "waiting", "error", "inconclusive")
assert set(TERMINAL_STATUSES) | set(RESUMABLE_STATUSES) == set(STATUSES)


def _move(state: IterationState, name: str, to: str) -> IterationState:
    sources, targets = TABLE[name]
    if state.status not in sources or to not in targets:
        raise InputError(
            f"iteration {state.iteration} is {state.status}: '{name}' is not allowed from there "
            f"(allowed from {', '.join(sources)})."
        )
    new = copy.deepcopy(state)
    new.status = to
    return new


def _event(new: IterationState, at_ms: int, step: str, kind: str, message: str,
           artifacts: Any = ()) -> None:
    new.events.append(Event(at_ms, step, kind, message, list(artifacts)))


def _next(state: IterationState, step: str) -> str:
    if step in INSTANT_STEPS:  # a canary's abort has no post window to compare a rollback window with
        path = INSTANT_STEPS if is_canary(state) else INSTANT_STANDARD_STEPS
    else:
        path = (ROLLBACK_STEPS if step in ROLLBACK_STEPS else CANARY_STEPS if is_canary(state)
                else FORWARD_STEPS)
    index = path.index(step)
    return path[index + 1] if index + 1 < len(path) else ""


def flipped(state: IterationState) -> bool:
    """Whether the flag may have been written to its on value (intent journaled)."""
    return journal_entry(state, "flag:on") is not None


def instant_by_default(state: IterationState) -> bool:
    """The automatic rollback is an Instant Rollback: always in canary mode, and in standard mode
    when preflight chose it (``facts["preflight"]["rollback"]``; iterations older than that
    choice rebuild)."""
    chosen = state.facts.get("preflight", {}).get("rollback", {}).get("mode")
    return is_canary(state) or chosen == "instant"


def needs_rollback(state: IterationState) -> bool:
    """The flag may be on in production and no rollback (redeploy, or Instant Rollback and the
    flag off) has finished."""
    return flipped(state) and not {"rollback-deploy", "instant-flag-off"} & set(state.completed)


def advance(state: IterationState, step: str, at_ms: int, message: str, artifacts: Any = (),
            **facts: Any) -> IterationState:
    """``step`` is done: record it and point at the next step (or the end of its path)."""
    following = _next(state, step)
    if following:
        to = "running"
    elif step in UNDO_STEPS:
        to = "abandoned" if state.facts.get("abandon") else "rolled-back"
    else:  # the verdict step: FAIL never gets here (gate_failed)
        to = "passed" if state.verdict == "PASS" else "inconclusive"
    new = _move(state, "advance", to)
    new.completed.append(step)
    new.facts.setdefault(step, {}).update(facts)
    _event(new, at_ms, step, "done", message, artifacts)
    new.step = following
    return new


def decide(state: IterationState, verdict: str, reasons: list[str]) -> IterationState:
    """The compare step's verdict and its reasons (acted on by the verdict step)."""
    new = _move(state, "decide", "running")
    new.verdict, new.reasons = verdict, list(reasons)  # type: ignore[assignment]
    return new


def gate_failed(state: IterationState, step: str, at_ms: int, reason: str, *, rollback: bool,
                artifacts: Any = ()) -> IterationState:
    """A gate found the change does not hold: FAIL, and roll back when the playbook says so."""
    if step in UNDO_STEPS:  # the rollback's own check: the flag is off, recorded for a human
        new = _move(state, "gate_failed", "failed")
        new.reasons += [reason, "rollback could not be verified; check the route by hand"]
        _event(new, at_ms, step, "failed", reason, artifacts)
        new.step = ""
        return new
    to = "running" if rollback and flipped(state) else "failed"
    new = _move(state, "gate_failed", to)
    new.verdict = "FAIL" if flipped(state) else new.verdict
    if reason not in new.reasons:
        new.reasons.append(reason)
    _event(new, at_ms, step, "failed", reason, artifacts)
    instant = instant_by_default(state)
    new.step = (INSTANT_STEPS[0] if instant else ROLLBACK_STEPS[0]) if to == "running" else ""
    if to == "running":
        target = state.facts.get("preflight", {}).get("rollback", {}).get("target")
        _event(new, at_ms, step, "note", "Aborting the canary: Instant Rollback to the control, then "
               "the flag to its off value." if is_canary(state)
               else f"Rolling back by Instant Rollback to {target} (no build), then the flag to its off "
               "value." if instant else "Rolling back: the flag goes to its off value.")
    return new


def refuse(state: IterationState, step: str, at_ms: int, reason: str, artifacts: Any = ()
           ) -> IterationState:
    """Stop before any production change (preflight refused, nothing to migrate)."""
    new = _move(state, "refuse", "stopped")
    new.reasons.append(reason)
    _event(new, at_ms, step, "failed", reason, artifacts)
    new.step = ""
    return new


def stopped_on_error(state: IterationState, step: str, at_ms: int, cause: str) -> IterationState:
    """The platform did not answer: stay at ``step``, nothing decided, for a resume to retry."""
    new = _move(state, "stopped_on_error", "error")
    resume = f"reversal resume {state.iteration}"
    new.error = {"step": step, "cause": cause, "resume": resume}
    _event(new, at_ms, step, "error", f"{step} stopped: {cause} (run '{resume}' to retry it)")
    return new


def wait(state: IterationState, step: str, at_ms: int, reason: str, **details: Any) -> IterationState:
    """Nothing is wrong; the step needs time to pass or the operator to act."""
    new = _move(state, "wait", "waiting")
    new.waiting = {"step": step, "reason": reason, **details}
    _event(new, at_ms, step, "waiting", reason)
    return new


def resume(state: IterationState) -> IterationState:
    """Pick the iteration up again at its step (after a wait, an error or a crash)."""
    new = _move(state, "resume", "running")
    new.waiting = new.error = None
    return new


def accept(state: IterationState, at_ms: int, reason: str) -> IterationState:
    """The operator accepts an INCONCLUSIVE verdict as PASS, with a reason on record."""
    new = _move(state, "accept", "passed")
    new.verdict = "PASS"
    new.reasons.append(f"accepted by the operator: {reason}")
    _event(new, at_ms, "verdict", "note", f"Operator accepted: {reason}")
    return new


def extend_post(state: IterationState, at_ms: int, seconds: float, label: str) -> IterationState:
    """Lengthen the post window of an INCONCLUSIVE iteration and soak again."""
    new = _move(state, "extend_post", "running")
    new.facts["post"]["window"]["until_ms"] += int(seconds * 1000)
    new.verdict, new.step = None, "soak"
    new.completed = [s for s in new.completed if s not in ("soak", "post", "compare", "verdict")]
    _event(new, at_ms, "verdict", "note", f"Operator extended the post window by {label}.")
    return new


CANARY_RERUN = ("canary-soak", "canary-capture", "canary-compare", "canary-verdict")


def extend_canary(state: IterationState, at_ms: int, seconds: float, label: str) -> IterationState:
    """Lengthen the window of an INCONCLUSIVE canary (its rolling release still ACTIVE at the same
    share, checked by the caller) and soak, capture, compare and judge again; a new closing
    liveness probe marks the new end."""
    if not is_canary(state):
        raise InputError(f"iteration {state.iteration} is not a canary iteration: extend its post window.")
    new = _move(state, "extend_canary", "running")
    new.facts["canary-start"]["window"]["until_ms"] += int(seconds * 1000)
    new.facts.setdefault("liveness", {})["closing"] = False
    new.verdict, new.step = None, CANARY_RERUN[0]
    new.completed = [s for s in new.completed if s not in CANARY_RERUN]
    _event(new, at_ms, "canary-verdict", "note", f"Operator extended the canary window by {label}; the "
           "rolling release is still serving the canary at the same share.")
    return new


def begin_rollback(state: IterationState, at_ms: int, reason: str, *, instant: bool = False
                   ) -> IterationState:
    """Take the rollback path from wherever the iteration is (the operator asked); ``instant``:
    Instant Rollback to the last known-good deployment instead of a rebuild."""
    new = _move(state, "begin_rollback", "running")
    new.waiting = new.error = None
    new.facts.setdefault("rollback", {}).update(reason=reason, requested="instant" if instant else "rebuild")
    new.reasons.append(f"rollback requested: {reason}")
    first = INSTANT_STEPS[0] if instant else ROLLBACK_STEPS[0]
    _event(new, at_ms, first, "note", f"Operator requested rollback: {reason}")
    new.step = first
    return new


def fall_back_to_rebuild(state: IterationState, at_ms: int, reason: str) -> IterationState:
    """The automatic Instant Rollback of a standard iteration is not possible (Vercel refused it):
    roll back by rebuild instead (flag off, redeploy), and say so. Never in canary mode, whose
    control is still serving most of production under the release."""
    if state.step != INSTANT_STEPS[0] or is_canary(state):
        raise InputError(f"iteration {state.iteration}: only a standard iteration's automatic Instant "
                         "Rollback falls back to the rebuild.")
    new = _move(state, "fall_back_to_rebuild", "running")
    new.facts.setdefault("rollback", {})["fallback"] = reason
    _event(new, at_ms, INSTANT_STEPS[0], "note",
           f"Instant Rollback not possible ({reason}): rolling back by rebuild instead (flag off, redeploy).")
    new.step = ROLLBACK_STEPS[0]
    return new


def abandon(state: IterationState, at_ms: int, reason: str) -> IterationState:
    """Give the iteration up. If the flag may be on, roll back first and end abandoned."""
    if needs_rollback(state):
        new = begin_rollback(state, at_ms, f"abandoned: {reason}")
        new.facts["abandon"] = reason
        return new
    new = _move(state, "abandon", "abandoned")
    new.waiting = new.error = None
    new.reasons.append(f"abandoned by the operator: {reason}")
    _event(new, at_ms, state.step or "verdict", "note", f"Operator abandoned the iteration: {reason}")
    new.step = ""
    return new


def looked(state: IterationState, at_ms: int, look: dict[str, Any], message: str) -> IterationState:
    """One look at the post window during the soak (the sequential verdict), kept with its
    statistics; the status does not move (the soak step advances when a look decides)."""
    new = copy.deepcopy(state)
    new.facts.setdefault("soak", {}).setdefault("looks", []).append(look)
    _event(new, at_ms, "soak", "look", message)
    return new


def switch_source(state: IterationState, at_ms: int, source: str) -> IterationState:
    """Capture the windows still to come from another source (the request-logs API refused, or
    an export is at hand); windows already captured stay as they are."""
    new = copy.deepcopy(state)
    _event(new, at_ms, state.step or "verdict", "note",
           f"Operator switched the capture source from {state.source} to {source}.")
    new.source = source  # type: ignore[assignment]
    return new


def note(state: IterationState, step: str, at_ms: int, message: str, kind: str = "note",
         artifacts: Any = ()) -> IterationState:
    """A timeline line; changes nothing else."""
    new = copy.deepcopy(state)
    _event(new, at_ms, step, kind, message, artifacts)
    return new


def render_mermaid() -> str:
    """The state diagram of ``TABLE`` and the step paths, as Mermaid text for the docs."""
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> running"]
    for name, (sources, targets) in TABLE.items():
        for source in sources:
            for target in targets:
                lines.append(f"    {_id(source)} --> {_id(target)} : {name}")
    lines += [f"    {_id(s)} --> [*]" for s in TERMINAL_STATUSES]
    lines += ["```", "", "```mermaid", "flowchart LR"]
    for path in (FORWARD_STEPS, ROLLBACK_STEPS, CANARY_STEPS[CANARY_STEPS.index("flip"):],
                 INSTANT_STANDARD_STEPS):
        lines.append("    " + " --> ".join(_id(s) for s in path))
    lines.append(f"    {_id(INSTANT_STEPS[0])} -. refused .-> {_id(ROLLBACK_STEPS[0])}")  # the fallback
    lines.append("```")
    return "\n".join(lines) + "\n"


def _id(name: str) -> str:
    return name.replace("-", "_")
