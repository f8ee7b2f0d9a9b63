import pytest

from reversal.errors import InputError
from reversal.iteration.state import (
    FORWARD_STEPS,
    ROLLBACK_STEPS,
    IterationState,
    advance,
    fail,
    journal_entry,
    with_done,
    with_intent,
)


def _state(**kw):
    return IterationState(iteration="rt-1", slice="response-timing", route="/api/cron/response-timing",
                          created_ms=0, window_s=1800, **kw)


def test_advance_walks_the_forward_path_and_ends_with_the_verdict():
    state = _state()
    for step in FORWARD_STEPS:
        assert state.step == step
        if step == "compare":
            state.verdict = "PASS"
        state = advance(state, step, 1, f"{step} done", [])
    assert state.step == "" and state.status == "passed"
    assert state.completed == list(FORWARD_STEPS)


def test_failure_after_a_flip_goes_down_the_rollback_path():
    state = with_intent(_state(step="probe"), "flag:on", 1, key="K", value="true")
    state = fail(state, "probe", 2, "probe failed: 500", rollback=True)
    assert state.step == ROLLBACK_STEPS[0] and state.status == "running"
    for step in ROLLBACK_STEPS:
        state = advance(state, step, 3, "ok", [])
    assert state.status == "rolled-back" and state.verdict == "FAIL"


def test_failure_before_any_flip_stops_without_rollback():
    state = fail(_state(), "preflight", 1, "CRON_SECRET has whitespace", rollback=True)
    assert state.status == "failed" and state.step == ""
    assert state.reasons == ["CRON_SECRET has whitespace"]


def test_journal_keeps_intent_and_done_apart():
    state = with_intent(_state(), "deploy:on", 1, intent_id="x")
    assert journal_entry(state, "deploy:on")["phase"] == "intent"
    state = with_done(state, "deploy:on", 2, deployment_id="dpl_1")
    assert journal_entry(state, "deploy:on")["deployment_id"] == "dpl_1"
    assert journal_entry(state, "flag:on") is None


def test_round_trip_and_bad_state_file():
    state = advance(_state(), "preflight", 5, "ok", ["a.json"])
    again = IterationState.from_json(state.to_json(), "state.json")
    assert again == state
    with pytest.raises(InputError, match=r"state\.json: not a reversal state file"):
        IterationState.from_json({"version": 99}, "state.json")
    with pytest.raises(InputError, match="unknown step"):
        IterationState.from_json({**state.to_json(), "step": "teleport"}, "state.json")
