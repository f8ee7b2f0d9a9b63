"""Errors are not failures, end to end: a served sandbox breaks mid-run, the iteration stops
resumably (no FAIL, no rollback), the fault heals, and ``resume`` reaches PASS."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.e2e.conftest import cli, deployments, iteration_dirs, set_faults, start, state_of, wait_for


def _no_rollback(folder: Path) -> None:
    state = state_of(folder)
    assert state["verdict"] != "FAIL" and "rollback-flip" not in state["completed"]
    assert not any(e["effect"] == "flag:off" for e in state["journal"])


def test_a_build_past_the_deploy_deadline_stops_resumably_then_passes(tmp_path, serve):
    served = serve("build_s=1500")  # the deploy deadline is 900 s (simulated)
    first = cli(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served.env)
    assert first.returncode == 3, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "error" and summary["step"] == "deploy" and summary["verdict"] is None
    assert "still BUILDING" in summary["error"]["cause"] or "deadline" in summary["error"]["cause"]
    assert summary["error"]["resume"] == f"reversal resume {summary['iteration']}"
    [folder] = iteration_dirs(tmp_path)
    _no_rollback(folder)
    set_faults(served, build_s=20)
    done = cli(["resume", "--json"], tmp_path, served.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "PASS"
    assert len(deployments(served)) == 1  # the resume waited for the same deployment


def test_the_api_disappearing_during_deploy_stops_resumably_then_passes(tmp_path, serve):
    served = serve("build_s=600")
    proc = start(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served)
    wait_for(lambda: deployments(served))
    set_faults(served, api_5xx_rate=1)  # every API call answers 500 from now on
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    summary = json.loads(out)
    assert summary["status"] == "error" and summary["step"] == "deploy" and summary["verdict"] is None
    assert "retry budget" in summary["error"]["cause"]
    [folder] = iteration_dirs(tmp_path)
    _no_rollback(folder)
    set_faults(served, api_5xx_rate=0)
    done = cli(["resume", summary["iteration"], "--json"], tmp_path, served.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "PASS"
    assert len(deployments(served)) == 1


def test_two_checkouts_on_one_project_the_second_exits_4_naming_the_holder(tmp_path, serve):
    served = serve(factor=300)
    first_dir, second_dir = tmp_path / "checkout-a", tmp_path / "checkout-b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = start(["run", "--route", "response-timing", "--yes", "--json"], first_dir, served)
    wait_for(lambda: iteration_dirs(first_dir))
    second = cli(["run", "--route", "response-timing", "--yes"], second_dir, served.env)
    assert second.returncode == 4, second.stderr
    assert "leased by another iteration" in second.stderr
    assert "reversal run --route response-timing" in second.stderr and "unlock --force" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out)["status"] == "passed"
    assert iteration_dirs(second_dir) == []
    assert len(deployments(served)) == 1
    leases = [e["action"] for e in served.audit() if e.get("key") == "REVERSAL_LOCK"]
    assert leases[0] == "env.write" and leases[-1] == "env.delete"  # taken, renewed, released
    unlock = cli(["unlock", "--force", "--yes"], second_dir, served.env)
    assert unlock.returncode == 0 and "no lease on the project" in unlock.stdout


def _flag_writes(served, key: str = "CRON_RESPONSE_TIMING_USE_INNGEST") -> int:
    return len([e for e in served.audit() if e["action"] == "env.write" and e["key"] == key])


def test_abandon_rolls_the_flag_back_first_and_sigterm_exits_143_with_state_saved(tmp_path, serve):
    served = serve(factor=300)
    proc = start(["run", "--route", "response-timing", "--yes"], tmp_path, served)
    wait_for(lambda: any(e["step"] == "soak" for d in iteration_dirs(tmp_path)
                         for e in state_of(d)["events"]) if iteration_dirs(tmp_path) else False)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "reversal resume" in err and "Traceback" not in err
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    assert state["status"] == "running" and state["step"] in ("soak", "post")
    abandoned = cli(["abandon", "--reason", "wrong window\n## injected", "--yes", "--json"], tmp_path,
                    served.env)
    assert abandoned.returncode == 0, abandoned.stderr
    summary = json.loads(abandoned.stdout)
    assert summary["status"] == "abandoned" and summary["verdict"] is None
    assert "rollback-deploy" in summary["completed"] and _flag_writes(served) == 2
    assert len(deployments(served)) == 2  # the flip's and the rollback's


def test_rollback_by_route_works_when_the_iteration_state_is_unreadable(tmp_path, serve):
    served = serve(factor=300)
    first = cli(["run", "--route", "response-timing", "--yes", "--no-wait"], tmp_path, served.env)
    assert first.returncode == 3, first.stderr
    [folder] = iteration_dirs(tmp_path)
    (folder / "state.json").write_text('{"version": 1, "iteration": ')  # truncated
    status = cli(["status"], tmp_path, served.env)
    assert status.returncode == 0 and str(folder / "state.json") in status.stderr
    rolled = cli(["rollback", "--route", "response-timing", "--yes", "--reason", "state lost"],
                 tmp_path, served.env)
    assert rolled.returncode == 0, rolled.stderr
    assert str(folder / "state.json") in rolled.stderr  # named, not in the way
    assert "rolled-back" in rolled.stdout and "rollback requested: state lost" in rolled.stdout
    assert _flag_writes(served) == 2 and len(deployments(served)) == 2
    assert len(iteration_dirs(tmp_path)) == 2  # the unreadable one is kept as it was


def test_a_dead_holders_lease_on_another_host_needs_unlock_force(tmp_path, serve):
    from reversal.iteration.lease import LEASE_KEY, LEASE_TARGET, LeaseRecord
    from reversal.platform.vercel import VercelClient

    served = serve()
    record = LeaseRecord("reversal run --route response-timing (pid 4242)", "laptop-of-alice", 4242,
                         "response-timing-2026-11-28T10-00-00Z", 2**42, "0123abcd")
    with VercelClient(served.info["token"], served.info["project_id"], team_id=served.info["team_id"],
                      api_base=served.info["api"]) as client:
        client.create_env(LEASE_KEY, record.value(), target=(LEASE_TARGET,), upsert=False)
    refused = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert refused.returncode == 4 and "laptop-of-alice" in refused.stderr and "pid 4242" in refused.stderr
    assert iteration_dirs(tmp_path) == [] and deployments(served) == []
    unconfirmed = cli(["unlock", "--force"], tmp_path, served.env)
    assert unconfirmed.returncode == 2 and "the lease stands" in unconfirmed.stderr
    broken = cli(["unlock", "--force", "--yes"], tmp_path, served.env)
    assert broken.returncode == 0 and "lease broken (was: reversal run --route" in broken.stdout
    assert "no lease on the project" in cli(["unlock", "--force", "--yes"], tmp_path, served.env).stdout
