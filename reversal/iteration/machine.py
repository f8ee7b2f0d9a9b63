"""The strict reversal loop as a state machine: one step at a time, state saved after each.

preflight → baseline → attribute → flip → deploy → probe → durable → soak → post → compare →
verdict; rollback (flip-off → deploy → probe-inline → capture) as its own path. Each step
handler takes the state and returns the next state; the loop saves it atomically, renders
the timeline and rewrites the manifest before the next step starts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reversal.clock import Clock
from reversal.durations import format_duration
from reversal.errors import ReversalError, StepFailed, Waiting
from reversal.evidence.files import utc_iso, utc_stamp, write_json, write_text
from reversal.evidence.runlog import RunLog
from reversal.evidence.timeline import render_timeline
from reversal.iteration import checks
from reversal.iteration.ports import Platform
from reversal.iteration.state import (
    IterationState,
    advance,
    fail,
    journal_entry,
    note,
    wait,
    with_done,
    with_intent,
)
from reversal.iteration.store import IterationStore
from reversal.logs.signatures import Catalogue
from reversal.playbooks import Playbook
from reversal.ui import UI, LiveLine, duration_label

ROLLBACK_WINDOW_S = 300.0
INLINE_PROBE_ATTEMPTS = 5
INLINE_PROBE_SPACING_S = 20.0
Confirm = Callable[[str], bool]


@dataclass
class Context:
    playbook: Playbook
    books: dict[str, Playbook]
    platform: Platform
    store: IterationStore
    clock: Clock
    catalogue: Catalogue
    ui: UI
    secrets: tuple[str, ...]
    confirm: Confirm
    no_wait: bool = False
    project_root: Path | None = None
    export: Path | None = None  # operator-attached dashboard export (source=export)
    passed_slices: set[str] = field(default_factory=set)

    def folder(self, state: IterationState) -> Path:
        return self.store.folder(state.iteration)

    def artifact(self, state: IterationState, step: str, kind: str, ext: str) -> Path:
        """``<step>-<slice>-<kind>-<UTC ts>.<ext>`` in the iteration folder."""
        name = f"{step}-{state.slice}-{kind}-{utc_stamp(self.clock.now_ms())}.{ext}"
        return self.folder(state) / name


# -- steps ----------------------------------------------------------------------------------

def _preflight(ctx: Context, state: IterationState) -> IterationState:
    book = ctx.playbook
    keys = list(dict.fromkeys([*ctx.secrets, book.flag.name, *book.must_be_off]))
    values, unreadable = ctx.platform.env_values(keys)
    production = ctx.platform.production()
    result = checks.preflight(
        book, values, unreadable, secrets=ctx.secrets, passed=ctx.passed_slices,
        production=production, vercel_json=checks.read_vercel_crons(ctx.project_root),
    )
    path = write_json(ctx.artifact(state, "preflight", "checks", "json"), result)
    if not result["ok"]:
        reason = "preflight failed: " + "; ".join(result["problems"])
        return fail(state, "preflight", ctx.clock.now_ms(), reason, rollback=False,
                    artifacts=[path.name])
    return advance(state, "preflight", ctx.clock.now_ms(),
                   f"Preflight passed: {len(result['checks'])} env checks clean; production "
                   f"deployment {production['id']} READY.", [path.name],
                   production=production, crons=result["crons"])


class _Wait(Exception):
    """The step cannot go on until time passes or the operator acts; the details say which."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details["reason"])
        self.details = details


def _capture(ctx: Context, state: IterationState, step: str, since_ms: int, until_ms: int
             ) -> list[str]:
    """Capture a window through the API, or take the operator's attached export; the names
    of the window file and its meta file."""
    out = ctx.artifact(state, step, "logs", "json")
    if state.source == "api":
        return [out.name, ctx.platform.capture(since_ms, until_ms, out)["meta_file"]]
    if ctx.export is None:
        raise _Wait(checks.export_request(state, step, since_ms, until_ms))
    expected_deployment = state.facts.get("deploy", {}).get("id") if step == "post" else None
    meta = checks.validate_export(ctx.export, since_ms, until_ms, expected_deployment)
    shutil.copyfile(ctx.export, out)
    ctx.export = None
    meta_path = write_json(out.with_name(f"{out.stem}.meta.json"), meta)
    return [out.name, meta_path.name]


def _baseline(ctx: Context, state: IterationState) -> IterationState:
    window = state.facts.get("baseline", {}).get("window")
    if window is None:  # fix the window before capturing, so a resume captures the same one
        now = ctx.clock.now_ms()
        window = {"since_ms": now - int(state.window_s * 1000), "until_ms": now}
        state.facts.setdefault("baseline", {})["window"] = window
        ctx.store.save(state)
    files = _capture(ctx, state, "baseline", window["since_ms"], window["until_ms"])
    return advance(state, "baseline", ctx.clock.now_ms(),
                   f"Captured baseline window {utc_iso(window['since_ms'])} → "
                   f"{utc_iso(window['until_ms'])}.", files, logs=files[0])


def _attribute(ctx: Context, state: IterationState) -> IterationState:
    logs = ctx.folder(state) / state.facts["baseline"]["logs"]
    summary = checks.attribute_baseline(logs, ctx.playbook, ctx.catalogue)
    json_path = write_json(ctx.artifact(state, "attribution", "matrix", "json"), summary["matrix"])
    md_path = write_text(ctx.artifact(state, "attribution", "matrix", "md"), summary["markdown"])
    files = [json_path.name, md_path.name]
    if summary["target_failures"] == 0:
        new = note(state, "attribute", ctx.clock.now_ms(),
                   f"{ctx.playbook.route} carries no target failures in the baseline window; "
                   "nothing to migrate, no change made.", kind="failed", artifacts=files)
        new.status, new.step = "stopped", ""
        new.reasons.append("baseline shows no target failures on the route")
        return new
    return advance(state, "attribute", ctx.clock.now_ms(),
                   f"{ctx.playbook.route}: {summary['target_failures']} target failure "
                   f"{summary['unit']} in the baseline (rank {summary['rank']} of failing "
                   "routes).", files, **{k: summary[k] for k in ("target_failures", "unit", "rank")})


def _flip(ctx: Context, state: IterationState, *, on: bool) -> IterationState:
    flag = ctx.playbook.flag
    value, effect = (flag.on, "flag:on") if on else (flag.off, "flag:off")
    step = "flip" if on else "rollback-flip"
    if journal_entry(state, effect) is None:
        if on and not ctx.confirm(
            f"Set {flag.name}={value} in production for {ctx.playbook.route} and redeploy?"
        ):
            raise Waiting(
                "no production change made: the flag flip was not confirmed. State is saved; "
                "run again with --yes (or answer yes) to continue this iteration."
            )
        state = with_intent(state, effect, ctx.clock.now_ms(), key=flag.name, value=value)
        ctx.store.save(state)
    result = ctx.platform.write_flag(flag.name, value, flag.allowed)
    state = with_done(state, effect, ctx.clock.now_ms(), key=flag.name, value=value, **result)
    path = write_json(ctx.artifact(state, step, "flag", "json"),
                      {"key": flag.name, "value": value, "capturedAtUtc": utc_iso(ctx.clock.now_ms()),
                       **result})
    verb = "Set" if result.get("changed", True) else "Already at"
    return advance(state, step, ctx.clock.now_ms(),
                   f"{verb} {flag.name}={value} (read back exactly, {result.get('length')} chars, "
                   "no surrounding whitespace).", [path.name], key=flag.name, value=value)


def _deploy(ctx: Context, state: IterationState, *, on: bool) -> IterationState:
    step, effect = ("deploy", "deploy:on") if on else ("rollback-deploy", "deploy:off")
    intent_id = f"{state.iteration}:{effect}"

    line = LiveLine(ctx.ui, step)

    def on_state(deploy_state: str, elapsed: float) -> None:
        line.update(f"deployment {deploy_state} after {duration_label(ctx.clock, elapsed)}")

    done = journal_entry(state, effect)
    try:
        if done is not None and done["phase"] == "done":
            record = ctx.platform.wait_deployment(done["deployment_id"], on_state)
        else:
            existing = ctx.platform.find_deployment(intent_id) if done else None
            if existing is not None:
                record = ctx.platform.wait_deployment(existing["id"], on_state)
            else:
                source = state.facts["preflight"]["production"]["id"] if on else \
                    ctx.platform.production()["id"]
                state = with_intent(state, effect, ctx.clock.now_ms(), intent_id=intent_id,
                                    source_id=source)
                ctx.store.save(state)
                record = ctx.platform.redeploy(source, intent_id, on_state)
    except StepFailed as exc:
        path = write_json(ctx.artifact(state, step, "deployment", "json"),
                          getattr(exc, "record", None) or {"error": str(exc)})
        return fail(state, step, ctx.clock.now_ms(), f"deploy failed: {exc}",
                    rollback=on and ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    finally:
        line.close()
    state = with_done(state, effect, ctx.clock.now_ms(), intent_id=intent_id,
                      deployment_id=record["id"])
    path = write_json(ctx.artifact(state, step, "deployment", "json"), record)
    return advance(state, step, ctx.clock.now_ms(),
                   f"Deployment {record['id']} READY ({record.get('url', '')}).", [path.name],
                   id=record["id"], url=record.get("url"), ready_ms=record["ready_ms"])


def _probe(ctx: Context, state: IterationState, *, on: bool) -> IterationState:
    step, expect = ("probe", "dispatch") if on else ("rollback-probe", "inline")
    if ctx.playbook.probe is None:
        return advance(state, step, ctx.clock.now_ms(),
                       f"Passive slice: no synthetic request sent to {ctx.playbook.route}; "
                       "verified by the log windows and the queue.", [])
    # The inline path of a failing route fails some of the time: that is why it is migrated.
    # Rollback is verified when one of a few spaced attempts gets the inline 200; all recorded.
    attempts = []
    for attempt in range(1 if on else INLINE_PROBE_ATTEMPTS):
        if attempt:
            ctx.clock.sleep(INLINE_PROBE_SPACING_S)
        result = ctx.platform.probe(ctx.playbook, expect)
        attempts.append(result["artifact"])
        if result["ok"]:
            break
    artifact = attempts[-1] if on else {**attempts[-1], "attempts": attempts}
    path = write_json(ctx.artifact(state, step, "response", "json"), artifact)
    if not result["ok"]:
        reason = f"probe ({expect}) failed: " + "; ".join(result["problems"])
        if not on:
            new = fail(state, step, ctx.clock.now_ms(), reason, rollback=False,
                       artifacts=[path.name])
            new.reasons.append("rollback could not be verified; check the route by hand")
            return new
        return fail(state, step, ctx.clock.now_ms(), reason,
                    rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    message = (f"{ctx.playbook.route} answered the dispatch-only contract (dispatchKey "
               f"{result.get('dispatch_key')}); unauthenticated request got 401."
               if on else f"{ctx.playbook.route} answered inline "
               f"{ctx.playbook.probe.inline_status}; unauthenticated request got 401.")
    return advance(state, step, ctx.clock.now_ms(), message, [path.name],
                   dispatch_key=result.get("dispatch_key"), event_id=result.get("event_id"))


def _durable(ctx: Context, state: IterationState) -> IterationState:
    key = state.facts.get("probe", {}).get("dispatch_key")
    result = ctx.platform.durable(ctx.playbook, key, lambda msg: ctx.ui.step("durable", msg))
    path = write_json(ctx.artifact(state, "durable", "health", "json"), result["snapshot"])
    if not result["ok"]:
        return fail(state, "durable", ctx.clock.now_ms(),
                    "durable execution unhealthy: " + "; ".join(result["problems"]),
                    rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    return advance(state, "durable", ctx.clock.now_ms(), result["summary"], [path.name])


def _wait_until(ctx: Context, label: str, what: str, until_ms: int) -> None:
    """Wait (with progress) for a window to end, or with --no-wait save and exit 3."""
    if ctx.clock.now_ms() >= until_ms:
        return
    if ctx.no_wait:
        raise _Wait({"reason": f"{what} ends at {utc_iso(until_ms)}; run 'reversal resume' "
                     "after that.", "until_ms": until_ms})
    ctx.ui.wait_until(label, until_ms, ctx.clock)


def _post_window(state: IterationState) -> dict[str, int]:
    window = state.facts.get("post", {}).get("window")
    if window:
        return window
    start = state.facts["deploy"]["ready_ms"]
    return {"since_ms": start, "until_ms": start + int(state.window_s * 1000)}


def _soak(ctx: Context, state: IterationState) -> IterationState:
    window = _post_window(state)
    state.facts.setdefault("post", {})["window"] = window
    _wait_until(ctx, "soak (post window)", "soaking: the post window", window["until_ms"])
    return advance(state, "soak", ctx.clock.now_ms(),
                   f"Post window {utc_iso(window['since_ms'])} → {utc_iso(window['until_ms'])} "
                   "has elapsed.", [])


def _post(ctx: Context, state: IterationState) -> IterationState:
    window = _post_window(state)
    files = _capture(ctx, state, "post", window["since_ms"], window["until_ms"])
    return advance(state, "post", ctx.clock.now_ms(),
                   f"Captured matched post window ({format_duration(state.window_s)}, same "
                   "filters).", files, logs=files[0], window=window)


def _compare(ctx: Context, state: IterationState) -> IterationState:
    folder = ctx.folder(state)
    result = checks.compare_windows(
        folder / state.facts["baseline"]["logs"], folder / state.facts["post"]["logs"],
        ctx.playbook, ctx.catalogue, state.facts["baseline"]["window"], state.facts["post"]["window"],
    )
    json_path = write_json(ctx.artifact(state, "compare", "report", "json"), result["json"])
    md_path = write_text(ctx.artifact(state, "compare", "report", "md"), result["markdown"])
    state.verdict = result["verdict"]
    state.reasons = list(result["reasons"])
    return advance(state, "compare", ctx.clock.now_ms(),
                   f"Compared baseline vs post: {result['headline']}.",
                   [json_path.name, md_path.name], verdict=result["verdict"],
                   headline=result["headline"])


def _verdict(ctx: Context, state: IterationState) -> IterationState:
    verdict = state.verdict or "INCONCLUSIVE"
    path = write_json(ctx.artifact(state, "verdict", ctx.playbook.slice, "json"), {
        "iteration": state.iteration, "slice": state.slice, "route": state.route,
        "verdict": verdict, "reasons": state.reasons, "decidedAtUtc": utc_iso(ctx.clock.now_ms()),
    })
    if verdict == "FAIL":
        return fail(state, "verdict", ctx.clock.now_ms(),
                    f"verdict FAIL: {state.facts['compare'].get('headline', 'see the compare report')}",
                    rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    message = {"PASS": "Verdict PASS: slice done; the slices after it are unlocked.",
               "INCONCLUSIVE": "Verdict INCONCLUSIVE: stopped. Extend the post window "
               "('reversal resume --extend 30m') or accept with a reason "
               "('reversal resume --accept \"...\"')."}[verdict]
    return advance(state, "verdict", ctx.clock.now_ms(), message, [path.name])


def _rollback_capture(ctx: Context, state: IterationState) -> IterationState:
    start = state.facts["rollback-deploy"]["ready_ms"]
    window = {"since_ms": start, "until_ms": start + int(min(state.window_s, ROLLBACK_WINDOW_S) * 1000)}
    _wait_until(ctx, "rollback window", "the rollback window", window["until_ms"])
    out = ctx.artifact(state, "rollback", "logs", "json")
    meta = ctx.platform.capture(window["since_ms"], window["until_ms"], out)
    return advance(state, "rollback-capture", ctx.clock.now_ms(),
                   f"Captured the rollback window ({meta.get('rows', '?')} rows); rollback "
                   "complete.", [out.name, meta["meta_file"]], window=window)


HANDLERS: dict[str, Callable[[Context, IterationState], IterationState]] = {
    "preflight": _preflight,
    "baseline": _baseline,
    "attribute": _attribute,
    "flip": lambda ctx, s: _flip(ctx, s, on=True),
    "deploy": lambda ctx, s: _deploy(ctx, s, on=True),
    "probe": lambda ctx, s: _probe(ctx, s, on=True),
    "durable": _durable,
    "soak": _soak,
    "post": _post,
    "compare": _compare,
    "verdict": _verdict,
    "rollback-flip": lambda ctx, s: _flip(ctx, s, on=False),
    "rollback-deploy": lambda ctx, s: _deploy(ctx, s, on=False),
    "rollback-probe": lambda ctx, s: _probe(ctx, s, on=False),
    "rollback-capture": _rollback_capture,
}


# -- the loop -------------------------------------------------------------------------------

def persist(ctx: Context, state: IterationState) -> None:
    """State first (the source of truth), then what is derived from it."""
    from reversal.evidence.report import rollback_check_of

    ctx.store.save(state)
    folder = ctx.folder(state)
    write_text(folder / "timeline.md", render_timeline(
        state, ctx.playbook.flag, rollback_check_of(folder, state, ctx.playbook, ctx.catalogue)))
    ctx.store.write_manifest(state.iteration)


def drive(ctx: Context, state: IterationState) -> IterationState:
    """Run steps until the iteration ends or must wait; the state is saved after each step.

    Gate failures (probe, durable, verdict, deploy ERROR) are decided inside the steps. An
    error that stops a step half-way (the platform unreachable, a flag that does not read
    back exactly, bad input) leaves the iteration at that step, recorded, for a resume to retry:
    nothing is rolled back on an error nobody has looked at.
    """
    log = RunLog(ctx.folder(state) / "run.log", ctx.clock, iteration=state.iteration, slice=state.slice)
    waiting_before = state.waiting if state.status == "waiting" else None
    try:
        if waiting_before is not None:
            state.status, state.waiting = "running", None
        while state.step and state.status == "running":
            step = state.step
            ctx.ui.step(step, "starting")
            log.info("step.start", step=step)
            try:
                state = HANDLERS[step](ctx, state)
            except _Wait as waiting:
                state = wait(state, step, ctx.clock.now_ms(), waiting.details["reason"],
                             **{k: v for k, v in waiting.details.items() if k != "reason"})
                log.info("step.waiting", step=step, reason=waiting.details["reason"])
                persist(ctx, state)
                break
            except ReversalError as exc:
                if isinstance(exc, StepFailed):
                    state = note(state, step, ctx.clock.now_ms(),
                                 f"{step} stopped: {exc} (resume retries this step)", kind="failed")
                elif waiting_before is not None:  # bad input on resume: still waiting for it
                    state.status, state.waiting = "waiting", waiting_before
                log.error("step.error", step=step, error=str(exc), kind=type(exc).__name__)
                persist(ctx, state)
                raise
            last = state.events[-1] if state.events else None
            log.info("step.end", step=step, status=state.status, next=state.step,
                     summary=last.message if last else None)
            persist(ctx, state)
            if last is not None:
                ctx.ui.step(step, last.message)
    finally:
        log.close()
        _render_pages(ctx, state)
    return state


def _render_pages(ctx: Context, state: IterationState) -> None:
    """report.html and index.html once the loop stops (ended, waiting, or an error): they read
    every log window, too slow to redo after each step; 'reversal report' renders them anytime."""
    from reversal.evidence.report import write_pages

    write_pages(ctx.folder(state), ctx.books, ctx.catalogue)


def state_summary(state: IterationState, folder: Path) -> dict[str, Any]:
    return {
        "iteration": state.iteration, "slice": state.slice, "route": state.route,
        "status": state.status, "step": state.step or None, "verdict": state.verdict,
        "reasons": state.reasons, "waiting": state.waiting, "folder": str(folder),
        "completed": state.completed,
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)
