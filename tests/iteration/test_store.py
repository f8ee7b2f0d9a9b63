import multiprocessing
import os
import signal

import pytest

from reversal.errors import LockHeld
from reversal.iteration.session import open_for
from reversal.iteration.state import IterationState
from reversal.iteration.store import IterationStore, verify_manifest


def _hold_lock(root, ready, release):
    with IterationStore(root).exclusive_lock("holder-A run --route response-timing"):
        ready.set()
        release.wait(10)


def test_second_holder_gets_lockheld_naming_the_first(tmp_path):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(LockHeld, match="holder-A run --route response-timing") as info,
            IterationStore(tmp_path).exclusive_lock("B"),
        ):
            pass
        assert info.value.exit_code == 4
    finally:
        release.set()
        proc.join(10)
    with IterationStore(tmp_path).exclusive_lock("B"):
        pass


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    assert ready.wait(10)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    with IterationStore(tmp_path).exclusive_lock("B"):
        pass


def test_state_manifest_and_open_iteration(tmp_path):
    store = IterationStore(tmp_path)
    folder = store.new_folder("response-timing", 1771384537121)
    assert folder.name == "response-timing-2026-02-18T03-15-37Z"
    state = IterationState(iteration=folder.name, slice="response-timing", route="/r",
                           created_ms=1, window_s=60)
    store.save(state)
    (folder / "baseline-x.json").write_text("[]")
    store.write_manifest(folder.name)
    assert verify_manifest(folder) == []
    (folder / "baseline-x.json").write_text("[1]")
    assert verify_manifest(folder) == ["baseline-x.json: sha256 does not match"]
    assert open_for(store, "response-timing", {}).iteration == folder.name
    assert open_for(store, "response-timing", {"project": "prj_other"}) is None
    state.status = "passed"
    store.save(state)
    assert open_for(store, "response-timing", {}) is None


def test_a_corrupt_state_file_is_named_and_the_others_still_load(tmp_path):
    store = IterationStore(tmp_path)
    good = store.new_folder("response-timing", 1)
    store.save(IterationState(iteration=good.name, slice="response-timing", route="/r",
                              created_ms=1, window_s=60))
    bad = store.new_folder("background-jobs", 2)
    (bad / "state.json").write_text('{"version": 1, "iter')
    states, broken = store.scan()
    assert [s.iteration for s in states] == [good.name]
    assert len(broken) == 1 and str(bad / "state.json") in broken[0]
