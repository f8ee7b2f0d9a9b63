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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reversal.clock import Clock
from reversal.durations import format_duration
from reversal.errors import InputError, StepFailed
from reversal.evidence.files import utc_iso, utc_stamp, write_json, write_text
from reversal.evidence.runlog import RunLog
from reversal.evidence.timeline import render_timeline
from reversal.iteration import checks
from reversal.iteration.ports import Deployed, Platform
from reversal.iteration.state import IterationState, is_canary, journal_entry, journaled
from reversal.iteration.store import IterationStore
from reversal.iteration.transitions import (
    advance,
    decide,
    gate_failed,
    looked,
    note,
    refuse,
    resume,
    stopped_on_error,
    wait,
)
from reversal.logs.signatures import Catalogue
from reversal.playbooks import Playbook
from reversal.ui import UI, LiveLine, duration_label

ROLLBACK_WINDOW_S = 300.0
LOOK_EVERY_MS = 60_000  # one look at the post window per minute of platform time
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
    gates: tuple = ()  # reversal.gates.Gate: the project's and the slice's, merged
    run_gate: Callable[..., Any] = field(default=None)  # type: ignore[assignment]  # tests pass a fake
    export: Path | None = None  # operator-attached dashboard export (source=export)
    passed_slices: set[str] = field(default_factory=set)
    analysis: Any = checks  # attribute_baseline / compare_windows over the window files

    def __post_init__(self) -> None:
        if self.run_gate is None:
            from reversal.gates import run_gate

            self.run_gate = run_gate

    def folder(self, state: IterationState) -> Path:
        return self.store.folder(state.iteration)

    def artifact(self, state: IterationState, step: str, kind: str | None, ext: str) -> Path:
        """``<step>-<slice>[-<kind>]-<UTC ts>.<ext>`` in the iteration folder."""
        parts = [step, state.slice, *([kind] if kind else []), utc_stamp(self.clock.now_ms())]
        return self.folder(state) / f"{'-'.join(parts)}.{ext}"


# -- steps ----------------------------------------------------------------------------------

def _preflight(ctx: Context, state: IterationState) -> IterationState:
    book = ctx.playbook
    keys = list(dict.fromkeys([*ctx.secrets, book.flag.name, *book.must_be_off]))
    values, unreadable = ctx.platform.env_values(keys)
    production = asdict(ctx.platform.production())
    result = checks.preflight(
        book, values, unreadable, secrets=ctx.secrets, passed=ctx.passed_slices,
        production=production, vercel_json=checks.read_vercel_crons(ctx.project_root),
        readiness=ctx.platform.readiness(book, state.source) + _canary_readiness(ctx, state),
    )
    rollback = None if is_canary(state) or not result["ok"] else checks.rollback_choice(
        book.rollback_mode, production["id"], ctx.platform.rollback_candidate(production["id"]))
    path = write_json(ctx.artifact(state, "preflight", "checks", "json"),
                      {**result, **({"rollback": rollback} if rollback else {})})
    if not result["ok"]:
        reason = "preflight refused (nothing changed): " + "; ".join(result["problems"])
        return refuse(state, "preflight", ctx.clock.now_ms(), reason, artifacts=[path.name])
    how = f" A FAIL rolls back by {rollback['mode']}: {rollback['why']}." if rollback else ""
    return advance(state, "preflight", ctx.clock.now_ms(),
                   f"Preflight passed: {len(result['checks'])} env checks clean; production "
                   f"deployment {production['id']} READY.{how}", [path.name],
                   production=production, crons=result["crons"],
                   cron_sources=_cron_sources(production, result["crons"]),
                   **({"rollback": rollback} if rollback else {}))


def _cron_sources(production: dict[str, Any], vercel_json: dict[str, Any]) -> dict[str, Any]:
    """What the cron guard compares: the crons production runs, and vercel.json where there is
    a checkout."""
    sources: dict[str, Any] = {"deployment": list(production.get("crons") or ())}
    if vercel_json.get("file"):
        sources["vercel_json"] = list(vercel_json.get("crons") or ())
    return sources


def _gates(ctx: Context, state: IterationState) -> IterationState:
    """The app's own checks before the first production change, in the app's checkout. A gate
    passed for the same app commit (an interrupted run resumed) is not run again."""
    from reversal.gates import app_commit, plan_gates
    from reversal.iteration.transitions import note
    from reversal.redact import scrub

    root = ctx.project_root or Path.cwd()
    facts = state.facts.get("gates", {})
    commit = app_commit(root)
    decisions = plan_gates(ctx.gates, facts.get("passed", {}), commit, facts.get("skips", {}))
    ran = []
    for decision in decisions:
        gate = decision.gate
        if decision.action != "run":
            state = note(state, "gates", ctx.clock.now_ms(), f"Gate {gate.name}: {decision.reason}.")
            continue
        ctx.ui.say(f"  gate {gate.name}: {gate.run}")
        result = ctx.run_gate(gate, root, commit, scrub)
        log = write_text(ctx.artifact(state, "gates", f"{gate.name}-output", "log"), result.output_tail)
        path = write_json(ctx.artifact(state, "gates", gate.name, "json"),
                          {**result.as_json(), "gate": gate.as_json(), "output": log.name})
        ran.append(result.as_json())
        files = [path.name, log.name]
        if not result.passed:
            how = "timed out" if result.exit_code is None else f"exited {result.exit_code}"
            reason = (f"gate {gate.name} {how} after {result.duration_s:.1f}s "
                      f"('{gate.run}'); nothing was changed in production. Last lines: "
                      + " | ".join(result.last_lines or ["(no output)"]))
            return refuse(state, "gates", ctx.clock.now_ms(), reason, artifacts=files)
        state = note(state, "gates", ctx.clock.now_ms(),
                     f"Gate {gate.name} passed in {result.duration_s:.1f}s ('{gate.run}').",
                     kind="done", artifacts=files)
        state.facts.setdefault("gates", {}).setdefault("passed", {})[gate.name] = commit
        ctx.store.save(state)
    skipped = [d.gate.name for d in decisions if d.action != "run"]
    summary = (f"{len(ran)} gate(s) passed" + (f", {len(skipped)} skipped ({', '.join(skipped)})"
                                               if skipped else "")
               + (f" on app commit {commit[:12]}" if commit else "")) if decisions else \
        "No gates configured ('gates:' in reversal.yaml or the playbook)."
    return advance(state, "gates", ctx.clock.now_ms(), summary + ".", [], commit=commit, results=ran)


def _canary_readiness(ctx: Context, state: IterationState) -> list[str]:
    if not is_canary(state):
        return []
    from reversal.iteration.canary import canary_readiness

    return canary_readiness(ctx)


class _Wait(Exception):
    """The step cannot go on until time passes or the operator acts; the details say which."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details["reason"])
        self.details = details


def _capture(ctx: Context, state: IterationState, step: str, since_ms: int, until_ms: int
             ) -> list[str]:
    """Capture a window through the API, or take the operator's attached dashboard export or
    Log Drain file; the names of the window file and its meta file."""
    out = ctx.artifact(state, step, "logs", "json")
    if state.source == "api":
        return [out.name, ctx.platform.capture(since_ms, until_ms, out).meta_file]
    if ctx.export is None:
        raise _Wait(checks.export_request(state, step, since_ms, until_ms))
    if state.source == "drain":  # kept to the window and the environment, written like a capture
        attached, ctx.export = ctx.export, None
        captured = ctx.platform.capture(since_ms, until_ms, out, source="drain", source_file=attached)
        return [out.name, captured.meta_file]
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
    summary = ctx.analysis.attribute_baseline(logs, ctx.playbook, ctx.catalogue)
    json_path = write_json(ctx.artifact(state, "attribution", "matrix", "json"), summary["matrix"])
    md_path = write_text(ctx.artifact(state, "attribution", "matrix", "md"), summary["markdown"])
    files = [json_path.name, md_path.name]
    if summary["target_failures"] == 0:
        return refuse(state, "attribute", ctx.clock.now_ms(),
                      f"baseline shows no target failures on {ctx.playbook.route}: nothing to "
                      "migrate, no change made", artifacts=files)
    return advance(state, "attribute", ctx.clock.now_ms(),
                   f"{ctx.playbook.route}: {summary['target_failures']} target failure "
                   f"{summary['unit']} in the baseline (rank {summary['rank']} of failing "
                   "routes).", files, **{k: summary[k] for k in ("target_failures", "unit", "rank")})


def _flip(ctx: Context, state: IterationState, *, on: bool) -> IterationState:
    flag = ctx.playbook.flag
    value, effect = (flag.on, "flag:on") if on else (flag.off, "flag:off")
    step = "flip" if on else "rollback-flip"
    if journal_entry(state, effect) is None:
        if on and not state.yes and not ctx.confirm(
            f"Set {flag.name}={value} in production for {ctx.playbook.route} and redeploy?"
        ):
            raise _Wait({"reason": "no production change made: the flag flip was not confirmed; "
                         f"run 'reversal resume {state.iteration} --yes' to continue."})
        state = journaled(state, effect, "intent", ctx.clock.now_ms(), key=flag.name, value=value)
        ctx.store.save(state)
    steps: list[str] = []

    def on_step(phase: str, detail: Any) -> None:
        """Each write of the flip (detaching production from a shared record, then the edit or
        create) journaled as it happens, so a resume can tell what reached Vercel."""
        nonlocal state
        steps.append(str(detail.get("step")))
        state = journaled(state, f"{effect}:write", phase, ctx.clock.now_ms(), **dict(detail))
        ctx.store.save(state)

    written = ctx.platform.write_flag(flag.name, value, flag.allowed, on_step=on_step)
    result = {k: v for k, v in asdict(written).items() if k != "record"}
    state = journaled(state, effect, "done", ctx.clock.now_ms(), key=flag.name, value=value, **result)
    path = write_json(ctx.artifact(state, step, "flag", "json"),
                      {"key": flag.name, "value": value, "capturedAtUtc": utc_iso(ctx.clock.now_ms()),
                       **written.record, **result})
    verb = "Set" if written.changed else "Already at"
    how = (f"read back exactly, {written.length} chars, no surrounding whitespace"
           if written.verification == "read-back" else
           f"sensitive: written {written.length} chars with no surrounding whitespace; the probe's "
           "answer proves it took effect")
    split = " after splitting production off a shared record" if "detach-production" in steps else ""
    return advance(state, step, ctx.clock.now_ms(), f"{verb} {flag.name}={value}{split} ({how}).",
                   [path.name], key=flag.name, value=value)


def _deploy(ctx: Context, state: IterationState, *, on: bool) -> IterationState:
    """Create one deployment per intent, and follow it. A crash or a platform error after the
    intent is journaled finds the deployment by its intent tag instead of creating another."""
    step, effect = ("deploy", "deploy:on") if on else ("rollback-deploy", "deploy:off")

    line = LiveLine(ctx.ui, step)

    def on_state(deploy_state: str, elapsed: float) -> None:
        line.update(f"deployment {deploy_state} after {duration_label(ctx.clock, elapsed)}")

    try:
        # a changed cron schedule is undone by rebuilding what production ran before
        before = on or state.facts.get("cron_guard", {}).get("ok") is False
        state, found, entry = intended_deployment(
            ctx, state, effect,
            lambda: state.facts["preflight"]["production"]["id"] if before else ctx.platform.production().id)
        if found is not None:
            return _deployed(ctx, state, step, effect, ctx.platform.wait_deployment(found, on_state), on=on)
        record = ctx.platform.redeploy(entry["source_id"], entry["intent_id"], on_state)
        return _deployed(ctx, state, step, effect, record, on=on)
    finally:
        line.close()


def intended_deployment(ctx: Context, state: IterationState, effect: str, source: Callable[[], str]
                        ) -> tuple[IterationState, str | None, dict[str, Any]]:
    """The deployment an earlier attempt of ``effect`` made (found by its intent tag after a crash
    or an error), or, when there is none to follow, a new intent journaled and saved."""
    entry = journal_entry(state, effect)
    phase = entry["phase"] if entry else None
    found = entry.get("deployment_id") if phase == "done" else \
        ctx.platform.find_deployment(entry["intent_id"]) if phase == "intent" else None
    if found is None and phase != "intent":  # a first attempt, or a new one after one ended ERROR
        attempt = 1 + sum(1 for e in state.journal if e["effect"] == effect and e["phase"] == "failed")
        intent_id = f"{state.iteration}:{effect}" + (f"#{attempt}" if attempt > 1 else "")
        state = journaled(state, effect, "intent", ctx.clock.now_ms(), source_id=source(),
                          intent_id=intent_id)
        ctx.store.save(state)
        entry = journal_entry(state, effect)
    return state, found, entry  # type: ignore[return-value]


def _deployed(ctx: Context, state: IterationState, step: str, effect: str, record: Deployed, *,
              on: bool) -> IterationState:
    path = write_json(ctx.artifact(state, step, "deployment", "json"), record.record)
    intent = journal_entry(state, effect)["intent_id"]  # type: ignore[index]
    if not record.ready:
        state = journaled(state, effect, "failed", ctx.clock.now_ms(), intent_id=intent,
                          deployment_id=record.id, final_state=record.state)
        reason = f"deployment {record.id} ended {record.state}; production still serves the previous one"
        if on:
            return gate_failed(state, step, ctx.clock.now_ms(), reason,
                               rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
        return stopped_on_error(state, step, ctx.clock.now_ms(),
                                f"the rollback {reason}; resume creates a new rollback deployment")
    state = journaled(state, effect, "done", ctx.clock.now_ms(), intent_id=intent,
                      deployment_id=record.id)
    guard, guard_path = _cron_guard(ctx, state, step)
    state.facts["cron_guard" if on else "rollback_cron_guard"] = guard
    files = [path.name, guard_path.name]
    if on and not guard["ok"]:
        return gate_failed(state, step, ctx.clock.now_ms(),
                           "cron guard: production's cron schedules changed with the deploy (do not "
                           "change Vercel cron schedules): " + "; ".join(guard["differences"]),
                           rollback=ctx.playbook.on_fail == "rollback", artifacts=files)
    return advance(state, step, ctx.clock.now_ms(),
                   f"Deployment {record.id} READY ({record.url}). {_guard_line(guard)}",
                   files, id=record.id, url=record.url, ready_ms=record.ready_ms)


def _cron_guard(ctx: Context, state: IterationState, step: str) -> tuple[dict[str, Any], Path]:
    """Production's crons now against preflight's, as an artifact; ``ok`` unless a schedule
    changed without the playbook's ``break_glass_cron_change``."""
    from reversal.crons import guard

    before = state.facts.get("preflight", {}).get("cron_sources") or {}  # none: a rollback by route
    after = _cron_sources(asdict(ctx.platform.production()), checks.read_vercel_crons(ctx.project_root))
    result = guard(before, after, ctx.playbook.break_glass_cron_change)
    return result, write_json(ctx.artifact(state, step, "crons", "json"), result)


def _guard_line(guard: dict[str, Any]) -> str:
    if not guard["differences"]:
        paths = len(guard["after"].get("deployment", {}))
        return f"Cron schedules unchanged ({paths} paths)."
    if guard["break_glass"]:
        return (f"Cron schedules changed under break-glass ({guard['break_glass']}): "
                + "; ".join(guard["differences"]) + ".")
    return "Cron schedules still differ from preflight: " + "; ".join(guard["differences"]) + "."


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
        attempts.append(result.artifact)
        if result.ok:
            break
    artifact = attempts[-1] if on else {**attempts[-1], "attempts": attempts}
    path = write_json(ctx.artifact(state, step, "response", "json"), artifact)
    if not result.ok:
        return gate_failed(state, step, ctx.clock.now_ms(),
                           f"probe ({expect}) failed: " + "; ".join(result.problems),
                           rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    message = (f"{ctx.playbook.route} answered the dispatch-only contract (dispatchKey "
               f"{result.dispatch_key}); unauthenticated request got 401."
               if on else f"{ctx.playbook.route} answered inline "
               f"{ctx.playbook.probe.inline_status}; unauthenticated request got 401.")
    return advance(state, step, ctx.clock.now_ms(), message, [path.name],
                   dispatch_key=result.dispatch_key, event_id=result.event_id,
                   sent_ms=artifact.get("requestedAtMs"), request_ids=artifact.get("requestIds", []))


def _durable(ctx: Context, state: IterationState) -> IterationState:
    key = state.facts.get("probe", {}).get("dispatch_key")
    result = ctx.platform.durable(ctx.playbook, key, lambda msg: ctx.ui.step("durable", msg))
    path = write_json(ctx.artifact(state, "durable", "health", "json"), result.snapshot)
    if not result.ok:
        return gate_failed(state, "durable", ctx.clock.now_ms(),
                           "durable execution unhealthy: " + "; ".join(result.problems),
                           rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    return advance(state, "durable", ctx.clock.now_ms(), result.summary, [path.name])


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


def _full_window_reason(ctx: Context, state: IterationState) -> str | None:
    """Why the soak keeps the full post window (no looks), or None when it may end early."""
    if not state.early_stop:
        return "early stop is off for this iteration (--no-early-stop)"
    if not ctx.playbook.early_stop:
        return f"the playbook of {ctx.playbook.slice} says early_stop: false"
    if state.source != "api":
        return (f"the {state.source} source cannot be read during the soak; looks need a live source "
                "(the request-logs API)")
    return None


def _min_soak_ms(ctx: Context, state: IterationState) -> int:
    """The playbook's min_soak, else 10 minutes and two periods of the route's cron schedule."""
    from reversal.logs.sequential import min_soak_s

    if ctx.playbook.min_soak_s is not None:
        return int(ctx.playbook.min_soak_s * 1000)
    crons = (state.facts.get("preflight", {}).get("crons") or {}).get("crons") or []
    schedules = [c.get("schedule", "") for c in crons if c.get("path", "").split("?")[0] == state.route]
    return int(min_soak_s(schedules) * 1000)


def _look(ctx: Context, state: IterationState, window: dict[str, int], now_ms: int) -> dict[str, Any]:
    """Capture the post window so far (outside the packet: only the statistic is evidence; the
    deciding window is captured again by the post step) and judge it."""
    import tempfile

    since = window["since_ms"]  # whole minutes of the window so far, as the full window has
    so_far = {"since_ms": since, "until_ms": since + (now_ms - since) // LOOK_EVERY_MS * LOOK_EVERY_MS}
    with tempfile.TemporaryDirectory(prefix="reversal-look-") as scratch:
        out = Path(scratch) / "post-so-far.json"
        ctx.platform.capture(so_far["since_ms"], so_far["until_ms"], out)
        return ctx.analysis.look_at(ctx.folder(state) / state.facts["baseline"]["logs"], out,
                                    ctx.playbook, ctx.catalogue, state.facts["baseline"]["window"],
                                    so_far)


def _soak(ctx: Context, state: IterationState) -> IterationState:
    """Wait for the matched post window. With a live source, look every minute of platform time
    after the minimum soak and end the window as soon as the always-valid verdict is decisive."""
    window = _post_window(state)
    state.facts.setdefault("post", {})["window"] = window
    why_full = _full_window_reason(ctx, state)
    looks = state.facts.get("soak", {}).get("looks", [])
    if why_full is None:
        next_ms = max(window["since_ms"] + _min_soak_ms(ctx, state),
                      (looks[-1]["at_ms"] + LOOK_EVERY_MS) if looks else 0)
        while next_ms < window["until_ms"]:
            _wait_until(ctx, "soak (next look)", "soaking: the next look at the post window", next_ms)
            seen = _look(ctx, state, window, ctx.clock.now_ms())
            state = looked(state, ctx.clock.now_ms(), seen,
                           f"Look {len(looks) + 1} after {seen['post_minutes']:g} min: {seen['why']}.")
            looks = state.facts["soak"]["looks"]
            ctx.store.save(state)
            ctx.ui.step("soak", state.events[-1].message)
            if seen["decision"] != "continue":
                early = {"since_ms": window["since_ms"], "until_ms": seen["at_ms"]}
                return advance(state, "soak", ctx.clock.now_ms(),
                               f"Early stop ({seen['decision']}) after {seen['post_minutes']:g} of "
                               f"{state.window_s / 60:g} minutes: post window {utc_iso(early['since_ms'])} "
                               f"→ {utc_iso(early['until_ms'])}.", [], early_stop=seen, window=early)
            next_ms = seen["at_ms"] + LOOK_EVERY_MS
    _wait_until(ctx, "soak (post window)", "soaking: the post window", window["until_ms"])
    suffix = f" (full window: {why_full})" if why_full else f" ({len(looks)} looks, none decisive)"
    return advance(state, "soak", ctx.clock.now_ms(),
                   f"Post window {utc_iso(window['since_ms'])} → {utc_iso(window['until_ms'])} "
                   f"has elapsed{suffix}.", [])


def _post(ctx: Context, state: IterationState) -> IterationState:
    window = state.facts.get("soak", {}).get("window") or _post_window(state)
    files = _capture(ctx, state, "post", window["since_ms"], window["until_ms"])
    length = format_duration((window["until_ms"] - window["since_ms"]) / 1000)
    early = " (ended early by the sequential verdict)" if "early_stop" in state.facts.get("soak", {}) else ""
    live = _post_liveness(ctx, state, ctx.folder(state) / files[0], window)
    state = note(state, "post", ctx.clock.now_ms(), f"Post window liveness: {live['requests']} requests on "
                 f"{ctx.playbook.route}; {live['summary']}.")
    return advance(state, "post", ctx.clock.now_ms(),
                   f"Captured the post window ({length}{early}, same filters).", files,
                   logs=files[0], window=window, liveness=live)


def _post_liveness(ctx: Context, state: IterationState, logs: Path, window: dict[str, int]
                   ) -> dict[str, Any]:
    """Capture liveness of the post window (docs/canary.md): the probe step's requests, sent
    inside the window, must be in the capture, else the window is not evidence and the step
    stops as a platform error. A passive slice sends none: its window is counted, not checked."""
    from reversal.logs.liveness import SentProbe, check_file, expected_ids, require_live

    probe = state.facts.get("probe", {})
    sent = [SentProbe(probe["sent_ms"], rid) for rid in probe.get("request_ids") or ()
            if probe.get("sent_ms") is not None]
    live = check_file(logs, route=ctx.playbook.route,
                      expected=expected_ids(sent, window["since_ms"], window["until_ms"]))
    if live.expected:
        require_live(live, "post")
        summary = f"the probe's {len(live.found)} request(s) found in it"
    else:
        summary = "liveness not checked (no probe request of the loop in this window)"
    flags = live.flags()
    return {**live.as_json(), "summary": "; ".join([summary, *flags])}


def _compare(ctx: Context, state: IterationState) -> IterationState:
    folder = ctx.folder(state)
    result = ctx.analysis.compare_windows(
        folder / state.facts["baseline"]["logs"], folder / state.facts["post"]["logs"],
        ctx.playbook, ctx.catalogue, state.facts["baseline"]["window"], state.facts["post"]["window"],
    )
    soak = state.facts.get("soak", {})
    if "early_stop" in soak:
        result = ctx.analysis.early_verdict(result, soak["early_stop"], len(soak.get("looks", [])),
                                            state.window_s / 60)
    json_path = write_json(ctx.artifact(state, "compare", "report", "json"), result["json"])
    md_path = write_text(ctx.artifact(state, "compare", "report", "md"), result["markdown"])
    state = decide(state, result["verdict"], result["reasons"])
    return advance(state, "compare", ctx.clock.now_ms(),
                   f"Compared baseline vs post: {result['headline']}.",
                   [json_path.name, md_path.name], verdict=result["verdict"],
                   headline=result["headline"])


def _verdict(ctx: Context, state: IterationState) -> IterationState:
    verdict = state.verdict or "INCONCLUSIVE"
    path = write_json(ctx.artifact(state, "verdict", None, "json"), {
        "iteration": state.iteration, "slice": state.slice, "route": state.route,
        "verdict": verdict, "reasons": state.reasons, "decidedAtUtc": utc_iso(ctx.clock.now_ms()),
    })
    if verdict == "FAIL":
        headline = state.facts["compare"].get("headline") or "see the compare report"
        return gate_failed(state, "verdict", ctx.clock.now_ms(),
                           f"verdict FAIL: {headline.removeprefix('FAIL: ')}",
                           rollback=ctx.playbook.on_fail == "rollback", artifacts=[path.name])
    message = {"PASS": "Verdict PASS: slice done; the slices after it are unlocked.",
               "INCONCLUSIVE": "Verdict INCONCLUSIVE: stopped. Extend the post window "
               "('reversal resume --extend 30m') or accept with a reason "
               "('reversal resume --accept \"...\"')."}[verdict]
    return advance(state, "verdict", ctx.clock.now_ms(), message, [path.name])


def _rollback_capture(ctx: Context, state: IterationState) -> IterationState:
    """The rollback window: from the rollback deployment's READY, or (Instant Rollback) from the
    moment production was verified back on the known-good deployment."""
    undo = "rollback-deploy" if "rollback-deploy" in state.completed else "instant-verify"
    start = state.facts[undo]["ready_ms"]
    window = {"since_ms": start, "until_ms": start + int(min(state.window_s, ROLLBACK_WINDOW_S) * 1000)}
    _wait_until(ctx, "rollback window", "the rollback window", window["until_ms"])
    out = ctx.artifact(state, "rollback", "logs", "json")
    captured = ctx.platform.capture(window["since_ms"], window["until_ms"], out)
    rows = "?" if captured.rows is None else captured.rows
    return advance(state, "rollback-capture", ctx.clock.now_ms(),
                   f"Captured the rollback window ({rows} rows); rollback complete.",
                   [out.name, captured.meta_file], window=window)


HANDLERS: dict[str, Callable[[Context, IterationState], IterationState]] = {
    "preflight": _preflight,
    "gates": _gates,
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


def _handler(step: str) -> Callable[[Context, IterationState], IterationState]:
    """The step's handler; canary and Instant Rollback steps live in ``iteration/canary.py``."""
    if step in HANDLERS:
        return HANDLERS[step]
    from reversal.iteration.canary import HANDLERS as MORE

    return MORE[step]


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
    """Run steps until the iteration ends, waits or stops on an error; state saved after each.

    Gate failures are decided inside the steps (``gate_failed``). A platform error
    (``PlatformError``, or any failed request below the port) stops the iteration at its step
    with status ``error`` and the command to resume it: nothing is rolled back on an error
    nobody has looked at. Bad input stops it the same way and is raised (exit 2); on a resume
    from a wait, the wait stands (the operator's attachment was wrong, not the iteration).
    """
    log = RunLog(ctx.folder(state) / "run.log", ctx.clock, iteration=state.iteration, slice=state.slice)
    before = state
    try:
        if state.status in ("waiting", "error"):
            state = resume(state)
        while state.step and state.status == "running":
            step = state.step
            ctx.ui.step(step, "starting")
            log.info("step.start", step=step)
            try:
                state = _handler(step)(ctx, state)
            except (_Wait, InputError, StepFailed) as exc:
                # A step saves its journaled intents before each effect: carry on from what is
                # saved, as a new process would, so an intent is never lost.
                state = ctx.store.load(state.iteration)
                if isinstance(exc, _Wait):
                    state = wait(state, step, ctx.clock.now_ms(), exc.details["reason"],
                                 **{k: v for k, v in exc.details.items() if k != "reason"})
                    log.info("step.waiting", step=step, reason=exc.details["reason"])
                    persist(ctx, state)
                    break
                log.error("step.error", step=step, error=str(exc), kind=type(exc).__name__)
                if isinstance(exc, InputError) and before.status == "waiting":
                    persist(ctx, before)  # the operator's attachment was wrong: still waiting
                    raise
                state = stopped_on_error(state, step, ctx.clock.now_ms(), str(exc))
                persist(ctx, state)
                if isinstance(exc, InputError):
                    raise
                break
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


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)
