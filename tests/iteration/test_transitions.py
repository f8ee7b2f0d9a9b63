"""The transition table: every move of status, step and verdict, and the doc drawn from it."""

from pathlib import Path

import pytest

from reversal.errors import InputError
from reversal.iteration import transitions as t
from reversal.iteration.state import FORWARD_STEPS, ROLLBACK_STEPS, IterationState, journaled

DOC = Path(__file__).parents[2] / "docs" / "state-machine.md"


def _state(**kw):
    return IterationState(iteration="rt-1", slice="response-timing", route="/api/cron/response-timing",
                          created_ms=0, window_s=1800, **kw)


def _flipped(**kw):
    return journaled(_state(**kw), "flag:on", "intent", 1, key="K", value="true")


def test_advance_walks_the_forward_path_and_ends_with_the_verdict():
    state = _state()
    for step in FORWARD_STEPS:
        assert state.step == step
        if step == "compare":
            state = t.decide(state, "PASS", ["dropped"])
        state = t.advance(state, step, 1, f"{step} done")
    assert state.step == "" and state.status == "passed" and state.completed == list(FORWARD_STEPS)


def test_inconclusive_then_accept_or_extend():
    state = _state(step="verdict", verdict="INCONCLUSIVE",
                   facts={"post": {"window": {"since_ms": 0, "until_ms": 1000}}})
    state = t.advance(state, "verdict", 1, "inconclusive")
    assert state.status == "inconclusive"
    accepted = t.accept(state, 2, "barometer noise\n## injected")
    assert accepted.status == "passed" and accepted.verdict == "PASS"
    extended = t.extend_post(state, 2, 600, "10m")
    assert extended.status == "running" and extended.step == "soak" and extended.verdict is None
    assert extended.facts["post"]["window"]["until_ms"] == 601_000
    with pytest.raises(InputError, match="'accept' is not allowed"):
        t.accept(accepted, 3, "again")


def test_gate_failure_after_a_flip_rolls_back_and_ends_fail_rolled_back():
    state = t.gate_failed(_flipped(step="probe"), "probe", 2, "probe failed: 500", rollback=True)
    assert state.step == ROLLBACK_STEPS[0] and state.status == "running" and state.verdict == "FAIL"
    for step in ROLLBACK_STEPS:
        state = t.advance(state, step, 3, "ok")
    assert state.status == "rolled-back" and state.verdict == "FAIL"
    assert state.reasons == ["probe failed: 500"]  # once, not twice


def test_gate_failure_of_the_rollback_probe_is_recorded_for_a_human():
    state = t.gate_failed(_flipped(step="rollback-probe"), "rollback-probe", 2, "inline 500", rollback=True)
    assert state.status == "failed" and "rollback could not be verified" in state.reasons[-1]


def test_platform_error_stops_at_the_step_without_a_verdict_and_resumes():
    state = t.stopped_on_error(_flipped(step="deploy"), "deploy", 5, "Vercel answered 503 five times")
    assert state.status == "error" and state.step == "deploy" and state.verdict is None
    assert state.error["resume"] == "reversal resume rt-1"
    again = t.resume(state)
    assert again.status == "running" and again.step == "deploy" and again.error is None


def test_refuse_before_any_change_is_terminal_and_not_a_fail():
    state = t.refuse(_state(), "preflight", 1, "CRON_SECRET is not set locally")
    assert state.status == "stopped" and state.verdict is None and state.terminal


def test_abandon_rolls_back_first_when_flipped_and_ends_abandoned():
    state = t.abandon(_flipped(step="soak"), 1, "wrong window")
    assert state.status == "running" and state.step == "rollback-flip"
    for step in ROLLBACK_STEPS:
        state = t.advance(state, step, 2, "ok")
    assert state.status == "abandoned"
    plain = t.abandon(_state(status="error", step="baseline"), 1, "no longer needed")
    assert plain.status == "abandoned" and plain.step == ""


def test_transitions_never_mutate_their_input():
    state = _flipped(step="probe")
    before = state.to_json()
    t.gate_failed(state, "probe", 2, "x", rollback=True)
    t.stopped_on_error(state, "probe", 2, "y")
    assert state.to_json() == before


@pytest.mark.parametrize("status", ["passed", "failed", "rolled-back", "stopped", "abandoned"])
def test_terminal_states_cannot_be_resumed(status):
    with pytest.raises(InputError, match="not allowed"):
        t.resume(_state(status=status))


def test_bad_state_values_name_the_field():
    good = _state().to_json()
    with pytest.raises(InputError, match="field 'status' is 5"):
        IterationState.from_json({**good, "status": 5}, "state.json")
    with pytest.raises(InputError, match="field 'step'"):
        IterationState.from_json({**good, "step": "teleport"}, "state.json")
    with pytest.raises(InputError, match="field 'verdict'"):
        IterationState.from_json({**good, "verdict": "MAYBE"}, "state.json")
    with pytest.raises(InputError, match="not a reversal state file"):
        IterationState.from_json({"version": 99}, "state.json")


def test_the_state_machine_doc_shows_the_current_table():
    text = DOC.read_text(encoding="utf-8")
    assert t.render_mermaid() in text, (
        "docs/state-machine.md drifted from reversal/iteration/transitions.py: paste the output "
        "of `python -c 'from reversal.iteration.transitions import render_mermaid; "
        "print(render_mermaid())'` into it"
    )
