"""Issue 17 end to end, against a served sandbox: safety gates, env fix, --all, the cron guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reversal.iteration.store import verify_manifest
from tests.e2e.conftest import cli, iteration_dirs, state_of

FAILING_GATE = """\
gates:
  - {name: lint, run: "echo 'src/app.ts:12 error no-unused-vars'; echo '1 problem'; exit 1"}
"""
PASSING_GATES = """\
gates:
  - {name: lint, run: "echo lint ok"}
  - {name: test, run: "echo '12 passed'", timeout: 2m}
"""


def _changes(served) -> list[dict]:
    """Env writes and deployments, leaving out the project lease every command takes."""
    return [e for e in served.audit() if e["action"] == "deployment.create"
            or (e["action"].startswith("env.") and e.get("key") != "REVERSAL_LOCK")]


def test_a_failing_gate_stops_before_any_env_write(tmp_path: Path, serve):
    served = serve()
    (tmp_path / "reversal.yaml").write_text(FAILING_GATE)
    result = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert result.returncode == 1, result.stderr
    assert "gate lint exited 1" in result.stdout and "1 problem" in result.stdout
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    assert state["status"] == "stopped" and state["journal"] == []
    assert state["completed"] == ["preflight"]
    assert _changes(served) == []  # the sandbox audit log shows no env write, no deployment
    assert "src/app.ts:12" in next(folder.glob("gates-response-timing-lint-output-*.log")).read_text()


def test_env_fix_cleans_the_audit_then_the_slice_passes_with_its_gates_in_the_packet(tmp_path, serve):
    served = serve("secret_trailing_newline=true")
    assert cli(["env", "audit"], tmp_path, served.env).returncode == 1
    fixed = cli(["env", "fix", "--yes", "--json"], tmp_path, served.env)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["written"] == ["CRON_SECRET"]
    audit = cli(["env", "audit"], tmp_path, served.env)
    assert audit.returncode == 0, audit.stdout
    (tmp_path / "reversal.yaml").write_text(PASSING_GATES)
    result = cli(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "passed"
    [folder] = iteration_dirs(tmp_path)
    assert verify_manifest(folder) == []
    manifest = json.loads((folder / "manifest.json").read_text())["sha256"]
    for gate in ("lint", "test"):
        [artifact] = folder.glob(f"gates-response-timing-{gate}-2*.json")
        assert artifact.name in manifest and json.loads(artifact.read_text())["passed"]
    timeline = (folder / "timeline.md").read_text()
    assert "Gate lint passed" in timeline and "Gate test passed" in timeline
    assert "Cron schedules unchanged" in timeline
    secret = served.info["cron_secret"]
    text = "\n".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert secret not in text and secret not in fixed.stdout + result.stdout + result.stderr


def test_run_all_passes_the_p0_slices_then_the_p1_slices_in_order(tmp_path, serve):
    # x200, not the x600 of the other tests: on a loaded machine the sandbox's durable worker falls
    # behind a faster clock once several slices dispatch, and late slices find no ledger row in time
    served = serve(factor=200)
    passed: list[str] = []
    for _ in range(3):  # a platform error (the sandbox's SQLite ledger locked) stops --all: resume
        result = cli(["run", "--all", "--yes", "--json"], tmp_path, served.env, timeout=900)
        ran = json.loads(result.stdout)["ran"]
        passed += [r["slice"] for r in ran if r["status"] == "passed"]
        last = ran[-1]
        if last["status"] != "error":
            break
        resumed = cli(["resume", last["iteration"], "--yes", "--json"], tmp_path, served.env, timeout=300)
        if json.loads(resumed.stdout)["status"] == "passed":
            passed.append(last["slice"])
    assert result.returncode == 0 and last["status"] == "passed", result.stdout[-3000:] + result.stderr
    assert len(passed) == 7
    assert set(passed[:3]) == {"webhooks-email", "background-jobs", "response-timing"}
    listed = json.loads(cli(["playbooks", "--json"], tmp_path, served.env).stdout)["slices"]
    assert passed == [row["slice"] for row in listed]  # playbook order
    assert all(row["status"] == "PASS" for row in listed)
    again = cli(["run", "--next"], tmp_path, served.env)
    assert again.returncode == 0 and "nothing to run" in again.stdout


@pytest.mark.parametrize("instant", [True, False])
def test_a_changed_cron_schedule_after_deploy_stops_the_slice(tmp_path, serve, instant):
    """Rolled back to what production ran before: by Instant Rollback to preflight's deployment
    (its crons come back with it), or (no Instant Rollback) by a rebuild of that deployment."""
    served = serve("cron_change_on_deploy=true", *(() if instant else ("instant_rollback=false",)))
    result = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert result.returncode == 1, result.stdout + result.stderr
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    assert state["status"] == "rolled-back" and state["verdict"] == "FAIL"
    [reason] = [r for r in state["reasons"] if "cron guard" in r]
    assert "deployment: /api/cron/background-jobs: schedule * * * * * -> */15 * * * *" in reason
    assert "probe" not in state["completed"]  # stopped right after the deploy
    preflight_id = state["facts"]["preflight"]["production"]["id"]
    audit = served.audit()
    rollbacks = [e for e in audit if e["action"] == "deployment.create"
                 and e["meta"].get("reversalIntent", "").endswith(":deploy:off")]
    if instant:
        assert rollbacks == [] and state["facts"]["instant-verify"]["served"] == preflight_id
        assert [e["id"] for e in audit if e["action"] == "deployment.rollback"] == [preflight_id]
    else:
        assert [e["redeployOf"] for e in rollbacks] == [preflight_id]
        assert state["facts"]["rollback_cron_guard"]["differences"] == []
