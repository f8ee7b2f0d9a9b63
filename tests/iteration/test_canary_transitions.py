"""Canary mode and Instant Rollback paths in the transition table."""

from reversal.iteration import transitions as t
from reversal.iteration.state import CANARY_STEPS, INSTANT_STEPS, IterationState, is_canary, journaled


def _state(canary=True, **kw):
    facts = {"canary": {"share": 10.0}} if canary else {}
    return IterationState(iteration="we-1", slice="webhooks-email", route="/api/webhooks/email",
                          created_ms=0, window_s=1800, facts=facts, **kw)


def test_a_canary_iteration_walks_the_canary_path_and_passes():
    state = _state()
    assert is_canary(state) and not is_canary(_state(canary=False))
    for step in CANARY_STEPS:
        assert state.step == step
        if step == "canary-compare":
            state = t.decide(state, "PASS", ["dropped"])
        state = t.advance(state, step, 1, f"{step} done")
    assert state.status == "passed" and state.completed == list(CANARY_STEPS)


def test_a_canary_fail_aborts_through_instant_rollback_and_ends_rolled_back():
    state = journaled(_state(step="canary-verdict"), "flag:on", "intent", 1, key="K", value="true")
    failed = t.gate_failed(state, "canary-verdict", 2, "canary verdict FAIL", rollback=True)
    assert failed.status == "running" and failed.step == INSTANT_STEPS[0] and failed.verdict == "FAIL"
    assert "Instant Rollback" in failed.events[-1].message
    assert t.needs_rollback(failed)
    for step in INSTANT_STEPS:
        failed = t.advance(failed, step, 3, f"{step} done")
    assert failed.status == "rolled-back" and failed.verdict == "FAIL" and not t.needs_rollback(failed)


def test_an_unverified_instant_rollback_fails_for_a_human():
    state = _state(step="instant-verify")
    ended = t.gate_failed(state, "instant-verify", 2, "production serves dpl_x", rollback=False)
    assert ended.status == "failed" and ended.step == ""
    assert "rollback could not be verified" in ended.reasons[-1]


def test_begin_rollback_instant_or_rebuild():
    passed = _state(canary=False, step="", status="passed", verdict="PASS")
    assert t.begin_rollback(passed, 1, "operator", instant=True).step == "instant-rollback"
    assert t.begin_rollback(passed, 1, "operator").step == "rollback-flip"
