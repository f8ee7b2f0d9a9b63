"""Canary mode and Instant Rollback paths in the transition table (standard mode's too)."""

import pytest

from reversal.errors import InputError
from reversal.iteration import transitions as t
from reversal.iteration.state import (
    CANARY_STEPS,
    INSTANT_STANDARD_STEPS,
    INSTANT_STEPS,
    IterationState,
    is_canary,
    journaled,
)


def _state(canary=True, **kw):
    facts = {**({"canary": {"share": 10.0}} if canary else {}), **kw.pop("facts", {})}
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


def _standard_failed(mode: str):
    facts = {"preflight": {"rollback": {"mode": mode, "target": "dpl_known", "why": "test"}}}
    state = journaled(_state(canary=False, step="verdict", facts=facts), "flag:on", "intent", 1,
                      key="K", value="true")
    return t.gate_failed(state, "verdict", 2, "verdict FAIL", rollback=True)


def test_a_standard_fail_rolls_back_by_instant_rollback_when_preflight_chose_it_then_captures():
    state = _standard_failed("instant")
    assert state.step == "instant-rollback" and "Instant Rollback to dpl_known" in state.events[-1].message
    for step in INSTANT_STANDARD_STEPS:
        assert state.step == step and t.needs_rollback(state) == (step in ("instant-rollback",
                                                                           "instant-flag-off"))
        state = t.advance(state, step, 3, f"{step} done")
    assert state.status == "rolled-back" and state.verdict == "FAIL" and state.step == ""


def test_a_standard_fail_rebuilds_when_preflight_chose_it_or_never_chose():
    assert _standard_failed("rebuild").step == "rollback-flip"
    older = journaled(_state(canary=False, step="probe"), "flag:on", "intent", 1, key="K", value="true")
    assert t.gate_failed(older, "probe", 2, "probe failed", rollback=True).step == "rollback-flip"


def test_a_refused_instant_rollback_falls_back_to_the_rebuild_path_in_standard_mode_only():
    state = t.fall_back_to_rebuild(_standard_failed("instant"), 3, "422 not_rollback_candidate")
    assert state.status == "running" and state.step == "rollback-flip" and t.needs_rollback(state)
    assert "rolling back by rebuild" in state.events[-1].message
    assert state.facts["rollback"]["fallback"] == "422 not_rollback_candidate"
    canary = t.gate_failed(journaled(_state(step="canary-verdict"), "flag:on", "intent", 1, key="K",
                                     value="true"), "canary-verdict", 2, "FAIL", rollback=True)
    with pytest.raises(InputError, match="only a standard iteration"):
        t.fall_back_to_rebuild(canary, 3, "refused")
