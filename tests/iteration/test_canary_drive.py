"""A canary iteration on the fake platform: INCONCLUSIVE while the canary arm is too small, then
``resume --extend``: the rolling release still ACTIVE at the same share, the window lengthened,
the window soaked, captured, compared and judged again."""

from __future__ import annotations

import pytest

from reversal.errors import InputError
from reversal.iteration import transitions
from reversal.iteration.canary import extend_window, release_refusal
from reversal.iteration.state import CANARY_STEPS, IterationState
from tests.iteration.fake import Harness

MINUTE = 60_000
CONTROL_EVERY_MS = MINUTE // 9  # nine control requests a minute, a third of them failing (504)
CANARY_EVERY_MS = 2 * MINUTE  # while the release is ACTIVE, one canary request every two minutes


def traffic(since_ms: int, until_ms: int, release: dict | None) -> list[dict]:
    """The route's production traffic in a window, by serving deployment (export rows)."""
    def row(at: int, arm: str, deployment: str, status: int) -> dict:
        return {"timestampInMs": at, "requestPath": "app.test/api/webhooks/email", "message": "",
                "responseStatusCode": status, "requestId": f"{arm}-{at}", "deploymentId": deployment}

    control = release["controlId"] if release else "dpl_initial"
    rows = [row(at, "k", control, 504 if at // CONTROL_EVERY_MS % 3 == 0 else 200)
            for at in range(since_ms - since_ms % CONTROL_EVERY_MS + CONTROL_EVERY_MS, until_ms + 1,
                            CONTROL_EVERY_MS)]
    if release and release["state"] == "ACTIVE":
        rows += [row(at, "c", release["canaryId"], 200)
                 for at in range(since_ms - since_ms % CANARY_EVERY_MS + CANARY_EVERY_MS, until_ms + 1,
                                 CANARY_EVERY_MS)]
    return rows


def _canary_harness(root) -> Harness:
    h = Harness(root)
    h.book = h.books["webhooks-email"]
    h.world.traffic = traffic
    h.store.save(IterationState(iteration=h.iteration, slice=h.book.slice, route=h.book.route,
                                created_ms=h.clock.now_ms(), window_s=1800, yes=True,
                                facts={"canary": {"share": 10.0}}))
    return h


def _inconclusive(h: Harness) -> IterationState:
    state = h.run_to_end()
    assert state.status == "inconclusive" and state.completed == list(CANARY_STEPS)
    arms = state.facts["canary-compare"]["arms"]
    assert arms["canary"]["requests"] == 15 and arms["control"]["failures"] > 20  # the canary arm too small
    assert "resume --extend" in state.events[-1].message and h.world.release["state"] == "ACTIVE"
    return state


def test_an_inconclusive_canary_extended_while_its_release_runs_is_judged_again_and_passes(fast_tmp):
    h = _canary_harness(fast_tmp)
    first = _inconclusive(h)
    window = dict(first.facts["canary-start"]["window"])
    h.store.save(extend_window(h.context(), first, 1800, "30m"))
    state = h.run_to_end()
    assert state.status == "passed" and state.verdict == "PASS"
    assert state.facts["canary-compare"]["arms"]["canary"]["requests"] == 30
    extended = state.facts["canary-capture"]["window"]
    assert extended["since_ms"] == window["since_ms"]
    assert extended["until_ms"] >= window["until_ms"] + 30 * MINUTE
    assert [p["which"] for p in state.facts["liveness"]["sent"]] == ["opening", "closing", "closing"]
    assert h.world.release["state"] == "COMPLETE" and h.world.serving == state.facts["canary-deploy"]["id"]
    assert state.completed[-4:] == list(transitions.CANARY_RERUN)
    assert len(h.world.deployments) == 1  # the one canary build, no other
    assert "Operator extended the canary window by 30m" in " ".join(e.message for e in state.events)


@pytest.mark.parametrize(("change", "why"), [
    ({"state": "COMPLETE"}, "is COMPLETE (completed or aborted since)"),
    ({"state": "ABORTED", "percentage": None}, "is ABORTED"),
    ({"canaryId": "dpl_other"}, "is of dpl_other, not of dpl_1"),
    ({"percentage": 100.0}, "serves 100.0% now, not 10%"),
])
def test_an_inconclusive_canary_whose_release_no_longer_runs_refuses_the_extension(fast_tmp, change, why):
    h = _canary_harness(fast_tmp)
    first = _inconclusive(h)
    h.world.release = {**h.world.release, **change}
    with pytest.raises(InputError, match="the canary window cannot be extended") as refused:
        extend_window(h.context(), first, 1800, "30m")
    message = str(refused.value)
    assert why in message and "reversal run --route webhooks-email --canary 10%" in message
    assert h.state().status == "inconclusive"  # nothing changed


def test_release_refusal_without_any_release_and_extend_canary_only_for_canaries():
    state = IterationState(iteration="we-1", slice="webhooks-email", route="/api/webhooks/email",
                           created_ms=0, window_s=1800, status="inconclusive",
                           facts={"canary": {"share": 10.0}, "canary-start": {"canary_id": "dpl_c",
                                                                              "window": {"until_ms": 5}}})
    assert "no rolling release any more" in release_refusal(state, None)
    assert release_refusal(state, {"canaryId": "dpl_c", "state": "ACTIVE", "percentage": 10}) is None
    extended = transitions.extend_canary(state, 1, 60, "1m")
    assert extended.status == "running" and extended.step == "canary-soak" and extended.verdict is None
    assert extended.facts["canary-start"]["window"]["until_ms"] == 60_005
    assert extended.facts["liveness"]["closing"] is False
    with pytest.raises(InputError, match="not a canary iteration"):
        transitions.extend_canary(IterationState(**{**state.__dict__, "facts": {}}), 1, 60, "1m")
    with pytest.raises(InputError, match="'extend_canary' is not allowed"):
        transitions.extend_canary(extended, 2, 60, "1m")
