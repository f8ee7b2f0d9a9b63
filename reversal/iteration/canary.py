"""Step handlers of canary mode and of Instant Rollback (docs/canary.md).

Canary: after the flip, the flagged build is made without taking production, a rolling release
serves it to a share of production next to the current deployment (flag off), the loop probes
the route at the window's start and end (its own requests must be in the capture: capture
liveness), captures the one window, splits it by serving deployment and judges the canary
against the control over the same minutes (``reversal.logs.canary.assess``). PASS completes the
release; FAIL aborts it: Instant Rollback to the control, then the flag off in settings.

Instant Rollback (``reversal rollback --instant``, a canary's abort, and a standard iteration's
automatic rollback where preflight found it available): production points at the last
known-good deployment recorded by preflight at once, without a build; the flag is set off in
settings (journaled: the next build carries it); the served deployment id and the inline probe
(with its 401) verify it; a standard iteration then captures its rollback window. Every effect
is journaled intent-then-done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reversal.errors import InputError
from reversal.evidence.files import utc_iso, write_json, write_text
from reversal.iteration.machine import (
    INLINE_PROBE_ATTEMPTS,
    INLINE_PROBE_SPACING_S,
    Context,
    _capture,
    _wait_until,
    intended_deployment,
)
from reversal.iteration.ports import PlatformError, RollbackRefused
from reversal.iteration.state import IterationState, is_canary, journal_entry, journaled
from reversal.iteration.transitions import advance, decide, extend_canary, fall_back_to_rebuild, gate_failed
from reversal.ui import LiveLine, duration_label


def _journal(ctx: Context, state: IterationState, effect: str, phase: str, **data: Any) -> IterationState:
    state = journaled(state, effect, phase, ctx.clock.now_ms(), **data)
    ctx.store.save(state)
    return state


def _canary_deploy(ctx: Context, state: IterationState) -> IterationState:
    """Build the flagged deployment without promoting it (one per intent, found again after a crash)."""
    effect = "deploy:canary"
    line = LiveLine(ctx.ui, "canary-deploy")

    def on_state(deploy_state: str, elapsed: float) -> None:
        line.update(f"canary deployment {deploy_state} after {duration_label(ctx.clock, elapsed)}")

    try:
        state, found, entry = intended_deployment(ctx, state, effect,
                                                  lambda: state.facts["preflight"]["production"]["id"])
        record = (ctx.platform.wait_canary(found, on_state) if found is not None
                  else ctx.platform.build_canary(entry["source_id"], entry["intent_id"], on_state))
    finally:
        line.close()
    path = write_json(ctx.artifact(state, "canary-deploy", "deployment", "json"), record.record)
    intent = journal_entry(state, effect)["intent_id"]  # type: ignore[index]
    if not record.ready:
        state = journaled(state, effect, "failed", ctx.clock.now_ms(), intent_id=intent,
                          deployment_id=record.id, final_state=record.state)
        return gate_failed(state, "canary-deploy", ctx.clock.now_ms(),
                           f"canary deployment {record.id} ended {record.state}; production was not touched",
                           rollback=True, artifacts=[path.name])
    state = journaled(state, effect, "done", ctx.clock.now_ms(), intent_id=intent, deployment_id=record.id)
    return advance(state, "canary-deploy", ctx.clock.now_ms(),
                   f"Canary deployment {record.id} READY ({record.url}), not serving production yet.",
                   [path.name], id=record.id, url=record.url, ready_ms=record.ready_ms)


def _canary_start(ctx: Context, state: IterationState) -> IterationState:
    """Start the rolling release at the configured share; the window starts now."""
    canary, share = state.facts["canary-deploy"]["id"], float(state.facts["canary"]["share"])
    if journal_entry(state, "release:start") is None:
        state = _journal(ctx, state, "release:start", "intent", canary_id=canary, share=share)
    release = ctx.platform.start_release(canary, share)  # idempotent for the same canary
    now = ctx.clock.now_ms()
    window = {"since_ms": now, "until_ms": now + int(state.window_s * 1000)}
    state = _journal(ctx, state, "release:start", "done", canary_id=canary, control_id=release["controlId"])
    path = write_json(ctx.artifact(state, "canary-start", "release", "json"),
                      {**release, "window": window, "startedAtUtc": utc_iso(now)})
    known = state.facts["preflight"]["production"]["id"]
    drift = "" if release["controlId"] == known else \
        f" (production changed since preflight: {known} then, {release['controlId']} now)"
    return advance(state, "canary-start", now,
                   f"Rolling release started: canary {canary} serves {release['percentage']:g}% of "
                   f"production, control {release['controlId']} the rest{drift}; window "
                   f"{utc_iso(window['since_ms'])} → {utc_iso(window['until_ms'])}.", [path.name],
                   canary_id=canary, control_id=release["controlId"], window=window)


def _liveness_probe(ctx: Context, state: IterationState, which: str) -> dict[str, Any]:
    """Send one liveness request and record its id in ``facts["liveness"]`` (saved)."""
    result = ctx.platform.liveness_probe(ctx.playbook)
    if not result.get("requestId"):
        raise PlatformError(f"liveness probe of {ctx.playbook.route}: the answer (HTTP {result['status']}) "
                            "carries no x-vercel-id request id, so it cannot be found in a capture")
    liveness = state.facts.setdefault("liveness", {"sent": []})
    liveness["sent"].append({"at_ms": result["atMs"], "request_id": result["requestId"], "which": which})
    liveness[which] = True
    ctx.store.save(state)
    return result


def _canary_probe(ctx: Context, state: IterationState) -> IterationState:
    result = _liveness_probe(ctx, state, "opening")
    path = write_json(ctx.artifact(state, "canary-probe", "liveness", "json"), result)
    return advance(state, "canary-probe", ctx.clock.now_ms(),
                   f"Liveness probe {result['method']} {ctx.playbook.route} answered {result['status']} "
                   f"(request {result['requestId']}); it must be in the window's capture.", [path.name])


def _canary_soak(ctx: Context, state: IterationState) -> IterationState:
    window = state.facts["canary-start"]["window"]
    _wait_until(ctx, "soak (canary window)", "soaking: the canary window", window["until_ms"])
    return advance(state, "canary-soak", ctx.clock.now_ms(),
                   f"Canary window {utc_iso(window['since_ms'])} → {utc_iso(window['until_ms'])} "
                   "has elapsed.", [])


def _canary_capture(ctx: Context, state: IterationState) -> IterationState:
    """A closing liveness probe, the capture of both arms' window, and the liveness check: a
    window without the loop's probes stops here as a platform error (resume captures again)."""
    from reversal.logs.liveness import SentProbe, check_file, expected_ids, require_live

    window = state.facts["canary-start"]["window"]
    if not state.facts.get("liveness", {}).get("closing"):
        closing = _liveness_probe(ctx, state, "closing")
        window["until_ms"] = max(window["until_ms"], closing["doneMs"])  # the window holds it
        ctx.store.save(state)
    files = _capture(ctx, state, "canary", window["since_ms"], window["until_ms"])
    sent = [SentProbe(p["at_ms"], p["request_id"]) for p in state.facts["liveness"]["sent"]]
    live = check_file(ctx.folder(state) / files[0], route=ctx.playbook.route,
                      expected=expected_ids(sent, window["since_ms"], window["until_ms"]))
    path = write_json(ctx.artifact(state, "canary-capture", "liveness", "json"), live.as_json())
    state.facts["liveness"]["last_check"] = live.as_json()
    ctx.store.save(state)
    require_live(live, "canary")
    flags = "; ".join(live.flags())
    return advance(state, "canary-capture", ctx.clock.now_ms(),
                   f"Captured the canary window: {live.requests} requests on {ctx.playbook.route}, the "
                   f"loop's {len(live.found)} probe request(s) found in it{'; ' + flags if flags else ''}.",
                   [*files, path.name], logs=files[0], window=window, requests=live.requests)


def _canary_compare(ctx: Context, state: IterationState) -> IterationState:
    from reversal.logs.canary_window import judge, render_markdown, split_arms
    from reversal.logs.readers import read_records

    book, facts = ctx.playbook, state.facts
    statuses, signatures = book.target.statuses, set(book.target.signatures)

    def is_target(record: Any) -> bool:
        return record.status in statuses or any(n in signatures for n in ctx.catalogue.match(record.message))

    started = facts["canary-start"]
    arms = split_arms(read_records(ctx.folder(state) / facts["canary-capture"]["logs"]), route=book.route,
                      canary_id=started["canary_id"], control_id=started["control_id"],
                      is_target=is_target, exclude={p["request_id"] for p in facts["liveness"]["sent"]},
                      configured_share=float(facts["canary"]["share"]))
    verdict = judge(arms, min_drop=book.gate.min_drop, alpha=book.gate.alpha)
    doc = {"slice": book.slice, "route": book.route, "mode": "canary",
           "window": facts["canary-capture"]["window"], "arms": arms.as_json(), **verdict.as_json(),
           "gate": {"min_drop": book.gate.min_drop, "alpha": book.gate.alpha}}
    json_path = write_json(ctx.artifact(state, "canary-compare", "report", "json"), doc)
    md_path = write_text(ctx.artifact(state, "canary-compare", "report", "md"),
                         render_markdown(book.slice, book.route, arms, verdict))
    c, k = arms.canary, arms.control
    headline = (f"{verdict.verdict}: canary {c.failures}/{c.requests} vs control {k.failures}/{k.requests} "
                "target failures over the same minutes")
    state = decide(state, verdict.verdict, list(verdict.reasons))
    return advance(state, "canary-compare", ctx.clock.now_ms(), f"Compared canary vs control: {headline}.",
                   [json_path.name, md_path.name], verdict=verdict.verdict, headline=headline,
                   arms=arms.as_json())


def _canary_verdict(ctx: Context, state: IterationState) -> IterationState:
    verdict = state.verdict or "INCONCLUSIVE"
    headline = state.facts["canary-compare"]["headline"]
    path = write_json(ctx.artifact(state, "canary-verdict", None, "json"), {
        "iteration": state.iteration, "slice": state.slice, "route": state.route, "mode": "canary",
        "verdict": verdict, "reasons": state.reasons, "decidedAtUtc": utc_iso(ctx.clock.now_ms())})
    if verdict == "FAIL":
        return gate_failed(state, "canary-verdict", ctx.clock.now_ms(),
                           f"canary verdict FAIL: {headline.removeprefix('FAIL: ')}", rollback=True,
                           artifacts=[path.name])
    canary = state.facts["canary-start"]["canary_id"]
    if verdict == "PASS":
        if journal_entry(state, "release:complete") is None:
            state = _journal(ctx, state, "release:complete", "intent", canary_id=canary)
        ctx.platform.complete_release(canary)
        state = _journal(ctx, state, "release:complete", "done", canary_id=canary)
        message = (f"Verdict PASS: rolling release completed; canary {canary} (flag on) serves all of "
                   "production. The slices after it are unlocked.")
    else:
        message = (f"Verdict INCONCLUSIVE: the rolling release of {canary} is left ACTIVE at "
                   f"{float(state.facts['canary']['share']):g}%. Lengthen the window ('reversal resume "
                   f"--extend 30m'), or abort it ('reversal rollback --route {state.slice} --instant').")
    return advance(state, "canary-verdict", ctx.clock.now_ms(), message, [path.name])


def release_refusal(state: IterationState, release: dict[str, Any] | None) -> str | None:
    """Why an INCONCLUSIVE canary's window cannot be extended, or None: the rolling release that
    served it must still be ACTIVE, for the same canary, at the same share, or a longer window
    would not measure the same two arms."""
    canary, share = state.facts["canary-start"]["canary_id"], float(state.facts["canary"]["share"])
    if release is None:
        what = "the project has no rolling release any more"
    elif release["canaryId"] != canary:
        what = f"the project's rolling release is of {release['canaryId']}, not of {canary}"
    elif release["state"] != "ACTIVE":
        what = f"the rolling release of {canary} is {release['state']} (completed or aborted since)"
    elif release["percentage"] != share:
        what = f"the rolling release of {canary} serves {release['percentage']}% now, not {share:g}%"
    else:
        return None
    return (f"{state.iteration}: the canary window cannot be extended: {what}. Run a new canary iteration "
            f"('reversal run --route {state.slice} --canary {share:g}%').")


def extend_window(ctx: Context, state: IterationState, seconds: float, label: str) -> IterationState:
    """``resume --extend`` on an INCONCLUSIVE canary: the release is read first; one that is no
    longer running at the same share refuses (exit 2) and nothing changes."""
    problem = release_refusal(state, ctx.platform.release_status())
    if problem:
        raise InputError(problem)
    return extend_canary(state, ctx.clock.now_ms(), seconds, label)


def canary_readiness(ctx: Context) -> list[str]:
    """What keeps a canary iteration from running, before any change: the slice's kind (crons
    are not split between the arms) and the project's Rolling Releases (plan, slots)."""
    from reversal.playbooks import canary_refusal

    refusal = canary_refusal(ctx.playbook.kind)
    if refusal:
        return [f"canary mode refused for {ctx.playbook.slice}: {refusal}"]
    unavailable = ctx.platform.rolling_unavailable()
    return [f"canary mode needs Rolling Releases: {unavailable}"] if unavailable else []


# -- Instant Rollback -------------------------------------------------------------------------------

def known_good(state: IterationState) -> str:
    """The deployment that served production before this iteration changed anything."""
    found = state.facts.get("preflight", {}).get("production", {}).get("id")
    if not found:
        raise InputError(f"iteration {state.iteration} recorded no known-good deployment (it never passed "
                         "preflight); use 'reversal rollback' without --instant (flag off and rebuild).")
    return str(found)


def _instant_rollback(ctx: Context, state: IterationState) -> IterationState:
    """Point production back at the known-good deployment. In standard mode a production that
    already serves it (a resume after the request landed; a flagged build that never took
    production) is not asked again, and a refusal of the automatic rollback (``RollbackRefused``)
    takes the rebuild path instead. A canary's control serves production while the release is
    ACTIVE, so its abort always asks."""
    target = known_good(state)
    rollback = state.facts.get("rollback", {})
    reason = rollback.get("reason") or (state.reasons[-1] if state.reasons else "rollback")
    canary = is_canary(state)
    if not canary and ctx.platform.production().id == target:
        how = "production already serves it; nothing to ask Vercel"
    else:
        entry = journal_entry(state, "rollback:instant")
        if entry is None or entry["phase"] != "intent":
            state = _journal(ctx, state, "rollback:instant", "intent", deployment_id=target)
        try:
            ctx.platform.instant_rollback(target, reason)
        except RollbackRefused as exc:
            if canary or rollback.get("requested") == "instant":  # the operator asked for this one
                raise
            state = _journal(ctx, state, "rollback:instant", "failed", deployment_id=target, cause=str(exc))
            return fall_back_to_rebuild(state, ctx.clock.now_ms(), str(exc))
        how = "no build"
    state = _journal(ctx, state, "rollback:instant", "done", deployment_id=target)
    return advance(state, "instant-rollback", ctx.clock.now_ms(),
                   f"Instant Rollback: production points at {target} again ({how}).", [], target=target)


def _instant_flag_off(ctx: Context, state: IterationState) -> IterationState:
    flag = ctx.playbook.flag
    entry = journal_entry(state, "flag:off")
    if entry is None or entry["phase"] != "intent":  # a resume after the intent writes the same value
        state = _journal(ctx, state, "flag:off", "intent", key=flag.name, value=flag.off)
    written = ctx.platform.write_flag(flag.name, flag.off, flag.allowed)
    state = _journal(ctx, state, "flag:off", "done", key=flag.name, value=flag.off, changed=written.changed)
    path = write_json(ctx.artifact(state, "instant-flag-off", "flag", "json"),
                      {"key": flag.name, "value": flag.off, "capturedAtUtc": utc_iso(ctx.clock.now_ms()),
                       "changed": written.changed, "verification": written.verification, **written.record})
    return advance(state, "instant-flag-off", ctx.clock.now_ms(),
                   f"Set {flag.name}={flag.off} in settings (journaled; the next build carries it). "
                   f"Production already serves {state.facts['instant-rollback']['target']}, built with "
                   "it off.",
                   [path.name], key=flag.name, value=flag.off)


def _instant_verify(ctx: Context, state: IterationState) -> IterationState:
    """The served deployment id, and (active slices) the inline probe with its 401."""
    target = state.facts["instant-rollback"]["target"]
    served = ctx.platform.production().id
    problems = [] if served == target else [f"production serves {served}, not {target}"]
    attempts: list[dict[str, Any]] = []
    if ctx.playbook.probe is not None and not problems:
        for attempt in range(INLINE_PROBE_ATTEMPTS):
            if attempt:
                ctx.clock.sleep(INLINE_PROBE_SPACING_S)
            result = ctx.platform.probe(ctx.playbook, "inline")
            attempts.append(result.artifact)
            if result.ok:
                break
        if not result.ok:
            problems += list(result.problems)
    path = write_json(ctx.artifact(state, "instant-verify", "response", "json"),
                      {"servedDeploymentId": served, "expected": target, "attempts": attempts,
                       "problems": problems})
    if problems:
        return gate_failed(state, "instant-verify", ctx.clock.now_ms(),
                           "Instant Rollback not verified: " + "; ".join(problems), rollback=False,
                           artifacts=[path.name])
    inline = (f"; {ctx.playbook.route} answered inline {ctx.playbook.probe.inline_status}, "
              "unauthenticated 401" if ctx.playbook.probe is not None else "")
    then = "rollback complete" if is_canary(state) else "the rollback window starts now"
    return advance(state, "instant-verify", ctx.clock.now_ms(),
                   f"Production serves {served}, the known-good deployment{inline}; {then}.",
                   [path.name], served=served, ready_ms=ctx.clock.now_ms())


HANDLERS: dict[str, Callable[[Context, IterationState], IterationState]] = {
    "canary-deploy": _canary_deploy,
    "canary-start": _canary_start,
    "canary-probe": _canary_probe,
    "canary-soak": _canary_soak,
    "canary-capture": _canary_capture,
    "canary-compare": _canary_compare,
    "canary-verdict": _canary_verdict,
    "instant-rollback": _instant_rollback,
    "instant-flag-off": _instant_flag_off,
    "instant-verify": _instant_verify,
}
