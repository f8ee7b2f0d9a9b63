"""Canary mode end to end on the sandbox: a rolling release judged against the current build over
the same minutes, Instant Rollback, and capture liveness (docs/canary.md)."""

from __future__ import annotations

import json

import httpx

from tests.e2e.conftest import FAST, cli, iteration_dirs, state_of

# 150 simulated minutes: each arm gets well over the 20 requests a verdict needs (90m gave 19-31)
CANARY = ("run", "--route", "webhooks-email", "--canary", "10%", "--window", "150m", "--yes", "--json")
DECAY = ("--sandbox-knob", "traffic_model=decay")


def _done(state: dict, effect: str) -> dict:
    return next(e for e in reversed(state["journal"]) if e["effect"] == effect and e["phase"] == "done")


def _compare(folder) -> dict:
    return json.loads(next(folder.glob("canary-compare-*.json")).read_text())


def test_offload_that_does_not_help_fails_the_canary_and_aborts_the_release(tmp_path):
    result = cli([*CANARY, "--sandbox", *FAST, *DECAY,
                  "--sandbox-knob", "offload_does_not_help=webhooks-email"], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["verdict"] == "FAIL" and summary["status"] == "rolled-back"
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    compare = _compare(folder)
    canary, control = compare["arms"]["canary"], compare["arms"]["control"]
    assert canary["requests"] >= 20 and control["requests"] > canary["requests"] * 4  # a 10% split
    assert canary["failures"] > 0 and 0.05 < compare["canaryShare"] < 0.2
    # aborted: Instant Rollback to the control, flag off in settings, served id verified
    control_id = state["facts"]["canary-start"]["control_id"]
    assert _done(state, "rollback:instant")["deployment_id"] == control_id
    assert _done(state, "flag:off")["value"] == "false"
    assert state["facts"]["instant-verify"]["served"] == control_id
    assert "release:complete" not in {e["effect"] for e in state["journal"]}


def test_working_offload_passes_the_canary_and_completes_the_release(tmp_path):
    result = cli([*CANARY, "--sandbox", *FAST, *DECAY], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["verdict"] == "PASS"
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    compare = _compare(folder)
    assert compare["verdict"] == "PASS" and compare["pValue"] <= 0.05
    assert compare["arms"]["canary"]["failures"] == 0 and compare["arms"]["control"]["failures"] > 20
    assert _done(state, "release:complete")["canary_id"] == state["facts"]["canary-deploy"]["id"]
    liveness = state["facts"]["liveness"]
    assert [p["which"] for p in liveness["sent"]] == ["opening", "closing"]
    assert liveness["last_check"]["live"] and liveness["last_check"]["requests"] > 100


def _production(served) -> str:
    info = served.info
    reply = httpx.get(f"{info['api']}/v9/projects/{info['project_id']}",
                      headers={"Authorization": f"Bearer {info['token']}"}, timeout=10)
    return reply.json()["targets"]["production"]["id"]


def _flag(served, name: str) -> str:
    info = served.info
    with httpx.Client(base_url=info["api"], headers={"Authorization": f"Bearer {info['token']}"},
                      timeout=10) as c:
        envs = c.get(f"/v10/projects/{info['project_id']}/env",
                     params={"decrypt": "true", "target": "production"}).json()["envs"]
    return next(e["value"] for e in envs if e["key"] == name)


def test_instant_rollback_restores_the_previous_deployment_without_a_build(tmp_path, serve):
    served = serve("traffic_model=decay")
    control = _production(served)
    passed = cli(list(CANARY), tmp_path, served.env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    canary = _production(served)
    assert canary != control and _flag(served, "INBOXXIA_EMAIL_SENT_ASYNC") == "true"
    builds = sum(1 for e in served.audit() if e["action"] == "deployment.create")

    result = cli(["rollback", "--route", "webhooks-email", "--instant", "--yes", "--json"], tmp_path,
                 served.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "rolled-back"
    assert _production(served) == control
    assert _flag(served, "INBOXXIA_EMAIL_SENT_ASYNC") == "false"
    audit = served.audit()
    assert sum(1 for e in audit if e["action"] == "deployment.create") == builds  # no build
    assert [e["id"] for e in audit if e["action"] == "deployment.rollback"] == [control]
    [folder] = iteration_dirs(tmp_path)
    assert state_of(folder)["facts"]["instant-verify"]["served"] == control


def test_a_capture_that_misses_the_probe_stops_with_the_liveness_reason(tmp_path, serve):
    served = serve("traffic_model=decay", "request_logs_lag_s=120")  # the source lags 2 minutes
    first = cli(list(CANARY), tmp_path, served.env)
    assert first.returncode == 3, first.stdout + first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "error" and summary["verdict"] is None
    cause = summary["error"]["cause"]
    assert summary["error"]["step"] == "canary-capture"
    assert "canary window is not evidence" in cause and "probe request" in cause and "lags" in cause
    [folder] = iteration_dirs(tmp_path)
    assert not list(folder.glob("canary-compare-*.json"))  # never judged
    # once the source has caught up, the resumed step finds both probes and the verdict follows
    again = cli(["resume", folder.name, "--json"], tmp_path, served.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["verdict"] == "PASS"


def test_a_plan_without_rolling_releases_refuses_canary_mode_at_preflight(tmp_path):
    result = cli([*CANARY, "--sandbox", *FAST, "--sandbox-knob", "rolling_releases=false"], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "stopped" and summary["completed"] == []
    assert "canary mode needs Rolling Releases" in " ".join(summary["reasons"])
    assert "plan_not_supported" in " ".join(summary["reasons"])
    [folder] = iteration_dirs(tmp_path)
    assert state_of(folder)["journal"] == []  # nothing changed in production


def test_before_after_mode_on_the_same_case_does_not_pass(tmp_path):
    """The contrast: the same decaying incident and useless offload judged before/after."""
    result = cli(["run", "--route", "webhooks-email", "--window", "90m", "--yes", "--json", "--sandbox",
                  *FAST, *DECAY, "--sandbox-knob", "offload_does_not_help=webhooks-email"], tmp_path)
    assert result.returncode in (1, 3), result.stdout + result.stderr
    assert json.loads(result.stdout)["verdict"] in ("FAIL", "INCONCLUSIVE")


def test_dry_run_shows_the_canary_plan_and_what_would_refuse_it(tmp_path):
    plan = cli(["run", "--route", "webhooks-email", "--canary", "10%", "--dry-run", "--sandbox", "--json"],
               tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "rolling release serving it to 10% of production" in json.loads(plan.stdout)["deploy"]
    refused = cli(["run", "--route", "webhooks-email", "--canary", "10%", "--dry-run", "--sandbox",
                   "--sandbox-knob", "rolling_releases=false"], tmp_path)
    assert refused.returncode == 2 and "plan_not_supported" in refused.stderr
    assert not list((tmp_path / "artifacts").glob("*/state.json"))
