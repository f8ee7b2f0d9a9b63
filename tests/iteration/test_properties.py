"""Property: under any sequence of faults and kills, the loop keeps its promises.

- at most one flag write and one deployment per intent;
- a platform error (or a kill) never yields FAIL;
- every iteration ends PASS, FAIL rolled back, rolled-back, stopped before any change or
  abandoned, or is resumable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reversal.iteration import transitions
from reversal.iteration.state import ALL_STEPS
from tests.iteration.fake import KINDS, Harness

SEQUENCES = 500
faults = st.dictionaries(st.sampled_from(ALL_STEPS), st.sampled_from(KINDS), max_size=6)
# the automatic rollback: Instant Rollback, refused by Vercel (then the rebuild), or the rebuild
rollbacks = st.sampled_from(["instant", "refused", "rebuild"])


def _root() -> Path:
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="reversal-prop-", dir=shm))


def _abandon(h: Harness, at_ms: int) -> None:
    """The operator gives up between two processes, when the table allows it."""
    state = h.state()
    allowed = transitions.TABLE["begin_rollback" if transitions.needs_rollback(state) else "abandon"][0]
    if state.status in allowed:
        h.store.save(transitions.abandon(state, at_ms, "operator gave up"))


@settings(max_examples=SEQUENCES, deadline=None, suppress_health_check=list(HealthCheck))
@given(faults=faults, abandon_after=st.one_of(st.none(), st.integers(1, 4)), rollback=rollbacks)
def test_faults_and_kills_never_break_the_promises(faults, abandon_after, rollback):
    root = _root()
    try:
        h = Harness(root, faults, instant=rollback != "rebuild")
        h.world.refuse_instant = rollback == "refused"
        for process in range(1, 40):
            if abandon_after == process:
                _abandon(h, h.clock.now_ms())
            state = h.drive()
            if state is not None and state.terminal:
                break
        state = h.state()
        fired_gates = {s for s, kind in h.faults.fired if kind == "gate"}
        # one write and one deployment per intent
        assert h.world.flag_writes.count("true") <= 1 and h.world.flag_writes.count("false") <= 1
        assert all(n == 1 for n in h.deployments_by_intent().values())
        # an error or a kill is never a FAIL
        if not fired_gates:
            assert state.verdict != "FAIL"
        # every iteration ends in a known place, or can be resumed
        assert state.status in (*transitions.TERMINAL_STATUSES, *transitions.RESUMABLE_STATUSES)
        if state.status == "passed":
            assert h.world.flag == "true" and state.verdict == "PASS"
        if state.verdict == "FAIL" and state.terminal:
            assert {"rollback-deploy", "instant-flag-off"} & set(state.completed) and h.world.flag == "false"
            assert not transitions.needs_rollback(state)
        if state.status in ("rolled-back", "abandoned"):
            assert h.world.flag == "false" or not transitions.flipped(state)
        if state.status == "stopped":
            assert not h.world.flag_writes and not h.world.deployments
    finally:
        shutil.rmtree(root, ignore_errors=True)
