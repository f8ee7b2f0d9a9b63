"""The gates step and the cron guard, driven on the fake platform."""

from __future__ import annotations

import dataclasses

import pytest

from reversal.gates import Gate
from reversal.iteration.ports import Production
from tests.iteration import fake
from tests.iteration.fake import Harness, fake_run_gate

CRONS = ({"path": "/api/cron/response-timing", "schedule": "*/5 * * * *"},)


def _runs(h: Harness) -> list[str]:
    return [e.message for e in h.state().events if e.step == "gates"]


def test_a_failing_gate_stops_before_any_change_naming_the_gate_and_its_last_lines(fast_tmp):
    h = Harness(fast_tmp, {"gates": "gate"})
    state = h.run_to_end()
    assert state.status == "stopped" and state.verdict is None
    assert h.world.flag_writes == [] and not h.world.deployments
    [reason] = state.reasons
    assert "gate lint exited 1" in reason and "nothing was changed" in reason
    assert "1 problem" in reason and "no-unused-vars" in reason
    folder = h.store.folder(h.iteration)
    assert [p.suffix for p in sorted(folder.glob("gates-response-timing-lint*"))] == [".json", ".log"]
    assert "gate lint exited 1" in (folder / "timeline.md").read_text()


@pytest.fixture
def two_gates(monkeypatch):
    """lint, then build, whose first run the process dies in (SIGKILL mid-gates)."""
    runs: list[str] = []

    def factory(faults):
        inner = fake_run_gate(faults)

        def run(gate, checkout, commit, redact):
            runs.append(gate.name)
            if gate.name == "build" and runs.count("build") == 1:
                raise fake.Crash("gates")
            return inner(gate, checkout, commit, redact)
        return run

    monkeypatch.setattr(fake, "GATES", (Gate("lint", "npm run lint"), Gate("build", "npm run build")))
    monkeypatch.setattr(fake, "fake_run_gate", factory)
    return runs


@pytest.mark.parametrize(("commit", "lint_runs"), [("c0ffee" * 7, 1), (None, 2)])
def test_a_resume_reruns_only_gates_not_passed_for_the_same_commit(fast_tmp, monkeypatch, two_gates,
                                                                   commit, lint_runs):
    import reversal.gates

    monkeypatch.setattr(reversal.gates, "app_commit", lambda root: commit)  # None: dirty checkout
    h = Harness(fast_tmp)
    assert h.drive() is None
    state = h.run_to_end()
    assert state.status == "passed"
    assert two_gates == ["lint", "build"] + ["lint"] * (lint_runs - 1) + ["build"]
    if commit:
        assert "Gate lint: passed earlier for commit c0ffeec0ffee." in _runs(h)
    timeline = (h.store.folder(h.iteration) / "timeline.md").read_text()
    assert "Gate lint passed" in timeline and "Gate build passed" in timeline


def test_a_break_glass_skip_is_recorded_and_the_gate_not_run(fast_tmp):
    h = Harness(fast_tmp, {"gates": "gate"})  # the gate would fail if it ran
    state = h.state()
    state.facts["gates"] = {"skips": {"lint": "hotfix for incident 42"}}
    h.store.save(state)
    state = h.run_to_end()
    assert state.status == "passed"
    assert "Gate lint: skipped by the operator: hotfix for incident 42." in _runs(h)


@pytest.fixture
def cron_change(monkeypatch):
    """Production runs CRONS until the first redeploy, whose deployment runs another schedule."""
    def production(self) -> Production:
        ready = [d for d, v in self.world.deployments.items() if v["state"] == "READY"]
        changed = ({**CRONS[0], "schedule": "*/15 * * * *"},)
        crons = CRONS if len(ready) != 1 or self.world.serving else changed
        served = self.world.serving or (ready[-1] if ready else "dpl_initial")
        return Production(served, "app.test", "app", "READY", crons=crons)

    monkeypatch.setattr(fake.FakePlatform, "production", production)


def test_a_changed_cron_schedule_is_undone_by_the_instant_rollback_to_preflight(fast_tmp, cron_change):
    """Vercel: an Instant Rollback reverts the crons to the rolled-back deployment's."""
    h = Harness(fast_tmp)
    state = h.run_to_end()
    assert state.status == "rolled-back" and state.verdict == "FAIL"
    assert any("cron guard" in r for r in state.reasons)
    assert h.world.rollbacks == ["dpl_initial"] and len(h.world.deployments) == 1
    assert h.world.flag_writes == ["true", "false"]


def test_a_changed_cron_schedule_after_deploy_fails_and_rolls_back_from_preflight(fast_tmp, cron_change):
    h = Harness(fast_tmp, instant=False)
    state = h.run_to_end()
    assert state.status == "rolled-back" and state.verdict == "FAIL"
    reason = next(r for r in state.reasons if "cron guard" in r)
    assert "/api/cron/response-timing: schedule */5 * * * * -> */15 * * * *" in reason
    assert h.world.flag_writes == ["true", "false"]
    rollback = next(e for e in state.journal if e["effect"] == "deploy:off" and e["phase"] == "intent")
    assert rollback["source_id"] == "dpl_initial"  # what production ran before, not the changed one
    assert state.facts["rollback_cron_guard"]["differences"] == []


def test_break_glass_lets_a_declared_cron_change_through(fast_tmp, cron_change):
    h = Harness(fast_tmp)
    h.book = dataclasses.replace(h.book, break_glass_cron_change="moving the schedule to Inngest")
    state = h.run_to_end()
    assert state.status == "passed"
    deploy = next(e for e in state.events if e.step == "deploy" and e.kind == "done")
    assert "under break-glass (moving the schedule to Inngest)" in deploy.message
