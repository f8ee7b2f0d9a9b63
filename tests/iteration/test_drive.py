"""``drive()`` through every branch on a fake platform: each step × {ok, gate failure,
platform error, crash before its side effect, crash after it}."""

from __future__ import annotations

import dataclasses

import pytest

from reversal.iteration.state import FORWARD_STEPS, INSTANT_STANDARD_STEPS, ROLLBACK_STEPS, IterationState
from tests.iteration.fake import KINDS, Harness

FORWARD_GATES = {"preflight": "stopped", "gates": "stopped", "attribute": "stopped", "deploy": "rolled-back",
                 "probe": "rolled-back", "durable": "rolled-back", "compare": "rolled-back"}
CALLS_PLATFORM = {"preflight", "baseline", "flip", "deploy", "probe", "durable", "post",
                  *ROLLBACK_STEPS}
BRANCHES = [(step, kind) for step in FORWARD_STEPS for kind in KINDS
            if (kind != "gate" or step in FORWARD_GATES) and (kind != "error" or step in CALLS_PLATFORM)]
ROLLBACK_BRANCHES = [(step, kind) for step in ROLLBACK_STEPS for kind in KINDS
                     if kind != "gate" or step in ("rollback-deploy", "rollback-probe")]
INSTANT_BRANCHES = [(step, kind) for step in INSTANT_STANDARD_STEPS for kind in KINDS
                    if kind != "gate" or step == "instant-verify"]


def _exactly_once(h: Harness) -> None:
    assert h.world.flag_writes.count("true") <= 1 and h.world.flag_writes.count("false") <= 1
    assert all(n == 1 for n in h.deployments_by_intent().values()), h.deployments_by_intent()


def test_the_happy_path_passes_with_one_write_and_one_deployment(fast_tmp):
    h = Harness(fast_tmp)
    state = h.run_to_end()
    assert state.status == "passed" and state.verdict == "PASS" and h.processes == 1
    assert h.world.flag_writes == ["true"] and len(h.world.deployments) == 1
    assert state.completed == list(FORWARD_STEPS)


def test_a_decisive_look_ends_the_post_window_early_and_the_post_capture_matches_it(fast_tmp):
    h = Harness(fast_tmp, decide_at_look=3)
    state = h.run_to_end()
    assert state.status == "passed" and state.verdict == "PASS"
    soak = state.facts["soak"]
    assert [look["decision"] for look in soak["looks"]] == ["continue", "continue", "PASS"]
    ready = state.facts["deploy"]["ready_ms"]
    # min soak 10 min, then one look a minute: the third look is at 12 min of the 30-min window
    assert soak["window"] == {"since_ms": ready, "until_ms": ready + 12 * 60_000}
    assert state.facts["post"]["window"] == soak["window"]
    assert [e.kind for e in state.events].count("look") == 3
    assert "Early stop (PASS) after 12 of 30 minutes" in " ".join(e.message for e in state.events)


def test_without_a_decisive_look_the_full_window_is_kept(fast_tmp):
    h = Harness(fast_tmp, decide_at_look=None)
    state = h.run_to_end()
    assert state.status == "passed"
    ready = state.facts["deploy"]["ready_ms"]
    assert len(state.facts["soak"]["looks"]) == 20  # minutes 10..29; minute 30 is the window's end
    assert state.facts["post"]["window"] == {"since_ms": ready, "until_ms": ready + 30 * 60_000}


def test_early_stop_off_keeps_the_full_window_without_looks(fast_tmp):
    h = Harness(fast_tmp)
    h.store.save(dataclasses.replace(h.state(), early_stop=False))
    state = h.run_to_end()
    assert state.status == "passed" and not state.facts.get("soak", {}).get("looks")
    assert "--no-early-stop" in " ".join(e.message for e in state.events)


def test_a_drain_sourced_iteration_waits_for_the_file_and_can_switch_to_the_api(fast_tmp):
    from reversal.iteration.transitions import switch_source

    h = Harness(fast_tmp)
    h.store.save(dataclasses.replace(h.state(), source="drain"))
    first = h.drive()
    assert first.status == "waiting" and first.step == "baseline"
    assert "Log Drain file" in first.waiting["reason"] and "--source api" in first.waiting["reason"]
    h.attached = fast_tmp / "drain.ndjson"
    h.attached.write_text("")
    second = h.drive()
    assert h.world.captures == [("drain", "drain.ndjson")]
    assert second.status == "waiting" and second.step == "post"  # the post window needs its file too
    h.store.save(switch_source(second, h.clock.now_ms(), "api"))
    state = h.run_to_end()
    assert state.status == "passed" and h.world.captures[-1] == ("api", None)
    assert "switched the capture source from drain to api" in " ".join(e.message for e in state.events)


@pytest.mark.parametrize(("step", "kind"), BRANCHES)
def test_forward_branch(fast_tmp, step, kind):
    h = Harness(fast_tmp, {step: kind})
    first = h.drive()
    assert h.faults.fired == [(step, kind)]
    if kind == "error":  # stops at the step, no verdict, nothing rolled back
        assert first.status == "error" and first.step == step and first.verdict is None
        assert first.error["resume"] == f"reversal resume {h.iteration}"
        assert "rollback-flip" not in [e.step for e in first.events]
        after_flip = FORWARD_STEPS.index(step) > FORWARD_STEPS.index("flip")
        assert h.world.flag == ("true" if after_flip else "false")
    state = h.run_to_end()
    _exactly_once(h)
    if kind == "gate":
        expected = FORWARD_GATES[step]
        assert state.status == expected
        if expected == "stopped":  # refused before any change
            assert state.verdict is None and h.world.flag_writes == [] and not h.world.deployments
        else:  # FAIL, and rolled back as the playbook says: by Instant Rollback, without a build
            path = list(INSTANT_STANDARD_STEPS)
            assert state.verdict == "FAIL" and state.completed[-len(path):] == path
            assert h.world.flag == "false" and h.world.flag_writes == ["true", "false"]
            assert len(h.world.deployments) == 1
            assert h.state().facts["instant-verify"]["served"] == "dpl_initial"
            # a flagged build that ended ERROR never served production: nothing to ask Vercel
            assert h.world.rollbacks == ([] if step == "deploy" else ["dpl_initial"])
            assert len(state.reasons) == len(set(state.reasons))
    else:
        assert state.status == "passed" and state.verdict == "PASS"
        assert h.world.flag_writes == ["true"] and len(h.world.deployments) == 1


@pytest.mark.parametrize(("step", "kind"), ROLLBACK_BRANCHES)
def test_rollback_branch(fast_tmp, step, kind):
    h = Harness(fast_tmp, {"probe": "gate", step: kind}, instant=False)
    first = h.drive()
    if kind == "error":
        assert first.status == "error" and first.step == step and first.verdict == "FAIL"
    state = h.run_to_end()
    assert state.verdict == "FAIL" and h.world.flag == "false"
    assert state.status == "rolled-back"  # one inline failure is retried (the route fails sometimes)
    if kind == "gate" and step == "rollback-deploy":  # the ERROR deployment, then a new intent
        assert sorted(d["state"] for d in h.world.deployments.values()) == ["ERROR", "READY", "READY"]
    _exactly_once(h)


@pytest.mark.parametrize(("step", "kind"), INSTANT_BRANCHES)
def test_instant_rollback_branch(fast_tmp, step, kind):
    """Each step of the automatic Instant Rollback survives an error, a crash before or after its
    effect, and (the verification) one failed inline probe: one rollback, one flag write, no build."""
    h = Harness(fast_tmp, {"probe": "gate", step: kind})
    first = h.drive()
    if kind == "error":
        assert first.status == "error" and first.step == step and first.verdict == "FAIL"
    state = h.run_to_end()
    assert state.status == "rolled-back" and state.verdict == "FAIL" and h.world.flag == "false"
    assert state.completed[-len(INSTANT_STANDARD_STEPS):] == list(INSTANT_STANDARD_STEPS)
    assert h.world.rollbacks == ["dpl_initial"] and len(h.world.deployments) == 1
    window = state.facts["rollback-capture"]["window"]
    assert window["since_ms"] == state.facts["instant-verify"]["ready_ms"]
    _exactly_once(h)


def test_a_refused_instant_rollback_falls_back_to_the_rebuild_and_says_so(fast_tmp):
    h = Harness(fast_tmp, {"probe": "gate"})
    h.world.refuse_instant = True
    state = h.run_to_end()
    assert state.status == "rolled-back" and state.verdict == "FAIL" and h.world.flag == "false"
    assert state.completed[-len(ROLLBACK_STEPS):] == list(ROLLBACK_STEPS)
    assert "instant-flag-off" not in state.completed and h.world.rollbacks == []
    assert len(h.world.deployments) == 2  # the flip's and the rollback's
    notes = " ".join(e.message for e in state.events if e.step == "instant-rollback")
    assert "Instant Rollback not possible" in notes and "rolling back by rebuild" in notes
    assert "not_rollback_candidate" in state.facts["rollback"]["fallback"]
    _exactly_once(h)


@pytest.mark.parametrize(("candidate", "mode", "expected"), [
    (True, "instant", "instant"), (None, "instant", "instant"), (False, "instant", "rebuild"),
    (True, "rebuild", "rebuild")])
def test_preflight_decides_the_automatic_rollback_and_records_why(fast_tmp, candidate, mode, expected):
    h = Harness(fast_tmp, {"probe": "gate"}, instant=candidate)
    h.book = dataclasses.replace(h.book, rollback_mode=mode)
    state = h.run_to_end()
    choice = state.facts["preflight"]["rollback"]
    assert choice["mode"] == expected and state.status == "rolled-back"
    assert ("rollback-deploy" in state.completed) == (expected == "rebuild")
    assert len(h.world.deployments) == (2 if expected == "rebuild" else 1)
    assert f"A FAIL rolls back by {expected}" in state.events[0].message


def test_a_rollback_whose_inline_probe_keeps_failing_is_failed_for_a_human(fast_tmp):
    h = Harness(fast_tmp, {"probe": "gate"}, always_gate=frozenset({"rollback-probe"}), instant=False)
    state = h.run_to_end()
    assert state.status == "failed" and state.verdict == "FAIL" and h.world.flag == "false"
    assert "rollback could not be verified" in state.reasons[-1]
    _exactly_once(h)


def test_a_platform_error_never_rolls_back_and_resume_reaches_pass(fast_tmp):
    h = Harness(fast_tmp, {"deploy": "error"})
    stopped = h.drive()
    assert stopped.status == "error" and stopped.step == "deploy" and stopped.verdict is None
    assert h.world.flag == "true" and h.world.flag_writes == ["true"]
    timeline = (fast_tmp / h.iteration / "timeline.md").read_text()
    assert "Resume with: `reversal resume " in timeline and "Rolling back" not in timeline
    assert h.drive().status == "passed" and len(h.world.deployments) == 1


def test_an_unconfirmed_flip_waits_and_a_stored_yes_is_not_asked_again(fast_tmp):
    h = Harness(fast_tmp)
    h.store.save(IterationState(**{**h.state().__dict__, "yes": False}))
    h.answers = [False]
    waiting = h.drive()
    assert waiting.status == "waiting" and waiting.step == "flip" and h.world.flag_writes == []
    assert f"reversal resume {h.iteration} --yes" in waiting.waiting["reason"]
    h.store.save(IterationState(**{**waiting.__dict__, "yes": True}))  # what 'resume --yes' stores
    h.answers = [False]  # would refuse again if it were asked
    assert h.drive().status == "passed" and h.answers == [False]
