"""The acceptance of issue 6, end to end: whole iterations against the sandbox."""

from __future__ import annotations

import json
import time

from reversal.iteration.store import verify_manifest
from tests.e2e.conftest import FAST, SEEDED, cli, iteration_dirs, state_of

STEPS = ("preflight", "baseline", "attribute", "flip", "deploy", "probe", "durable", "soak", "post",
         "compare", "verdict")
ARTIFACTS = ("preflight", "baseline", "attribution", "flip", "deploy", "probe", "durable", "post",
             "compare", "verdict")


def test_response_timing_passes_with_the_full_evidence_packet(tmp_path):
    started = time.monotonic()
    result = cli(["run", "--route", "response-timing", "--sandbox", "--yes", "--json", *SEEDED],
                 tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 90
    summary = json.loads(result.stdout)
    assert summary["status"] == "passed" and summary["verdict"] == "PASS"
    [folder] = iteration_dirs(tmp_path)
    names = [p.name for p in folder.iterdir()]
    for prefix in ARTIFACTS:
        assert any(n.startswith(f"{prefix}-response-timing-") for n in names), prefix
    assert {"state.json", "timeline.md", "manifest.json", "run.log"} <= set(names)
    assert any(n.endswith(".meta.json") and n.startswith("baseline-") for n in names)
    assert verify_manifest(folder) == []
    manifest = json.loads((folder / "manifest.json").read_text())["sha256"]
    assert set(manifest) == {n for n in names if n not in ("manifest.json", "run.log", "report.html")}
    log_lines = [json.loads(line) for line in (folder / "run.log").read_text().splitlines()]
    assert {line["step"] for line in log_lines if line["event"] == "step.end"} >= set(STEPS)
    timeline = (folder / "timeline.md").read_text()
    assert "Verdict PASS" in timeline and "CRON_RESPONSE_TIMING_USE_INNGEST=true" in timeline
    state = state_of(folder)
    effects = [(e["effect"], e["phase"]) for e in state["journal"] if e["effect"] in ("flag:on", "deploy:on")]
    assert effects == [("flag:on", "intent"), ("flag:on", "done"),
                       ("deploy:on", "intent"), ("deploy:on", "done")]
    # the flip's own write (production has its own record in the sandbox: an edit, no split)
    writes = [e for e in state["journal"] if e["effect"] == "flag:on:write"]
    assert [(e["phase"], e["step"]) for e in writes] == [("intent", "edit"), ("done", "edit")]
    probe = json.loads(next(folder.glob("probe-*")).read_text())
    assert probe["status"] == 202 and probe["unauthorizedStatus"] == 401
    compare = json.loads(next(folder.glob("compare-*.json")).read_text())
    assert compare["verdict"] == "PASS"


def test_p1_slice_is_refused_before_the_p0_slices_passed(tmp_path):
    result = cli(["run", "--route", "followups", "--sandbox", "--yes", *FAST], tmp_path)
    assert result.returncode == 1
    assert "runs only after" in result.stderr
    for p0 in ("webhooks-email", "background-jobs", "response-timing"):
        assert p0 in result.stderr
    assert "Traceback" not in result.stderr
    assert iteration_dirs(tmp_path) == []


def test_offload_that_does_not_help_fails_and_rolls_back_by_rebuild_without_instant_rollback(tmp_path):
    """The fallback: a project whose deployments cannot be rolled back to (knob
    instant_rollback=false) rolls back by rebuild, and preflight says why."""
    result = cli(["run", "--route", "response-timing", "--sandbox", "--yes", "--json", *FAST,
                  "--sandbox-knob", "offload_does_not_help=response-timing",
                  "--sandbox-knob", "instant_rollback=false"], tmp_path)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "rolled-back" and summary["verdict"] == "FAIL"
    assert "rollback-deploy" in summary["completed"] and "instant-rollback" not in summary["completed"]
    [folder] = iteration_dirs(tmp_path)
    choice = state_of(folder)["facts"]["preflight"]["rollback"]
    assert choice["mode"] == "rebuild" and "isRollbackCandidate false" in choice["why"]
    compare = json.loads(next(folder.glob("compare-*.json")).read_text())
    assert compare["verdict"] == "FAIL"
    rollback_flag = json.loads(next(folder.glob("rollback-flip-*")).read_text())
    assert rollback_flag["value"] == "false" and rollback_flag["whitespace"] is False
    inline = json.loads(next(folder.glob("rollback-probe-*")).read_text())
    assert inline["status"] == 200 and inline["unauthorizedStatus"] == 401
    assert any(n.name.startswith("rollback-response-timing-logs-") for n in folder.iterdir())
    assert "Rolling back" in (folder / "timeline.md").read_text()
    assert not list(folder.glob("verdict-response-timing-response-timing-*"))  # no stutter
    assert all("FAIL: FAIL:" not in r for r in summary["reasons"])
    assert verify_manifest(folder) == []


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    result = cli(["run", "--route", "response-timing", "--sandbox", "--dry-run", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["flag_write"] == {"key": "CRON_RESPONSE_TIMING_USE_INNGEST", "value": "true",
                                  "target": "production", "rollback_value": "false"}
    assert plan["probe_requests"][0].startswith("GET http://127.0.0.1:")
    assert plan["rollback"].startswith("Instant Rollback to the deployment serving production")
    assert plan["missing"] == []
    assert iteration_dirs(tmp_path) == []


def test_dry_run_names_what_is_missing_and_exits_2(tmp_path):
    nowhere = "http://127.0.0.1:9"
    missing = cli(["run", "--route", "response-timing", "--dry-run"], tmp_path,
                  {"VERCEL_TOKEN": "t", "VERCEL_PROJECT_ID": "prj_x", "VERCEL_ORG_ID": "team_x",
                   "REVERSAL_VERCEL_API": nowhere, "REVERSAL_VERCEL_LOGS_API": nowhere,
                   "REVERSAL_APP_URL": nowhere, "CRON_SECRET": "", "DATABASE_URL": ""})
    assert missing.returncode == 2, missing.stderr
    assert "CRON_SECRET is not set locally" in missing.stderr and "DATABASE_URL is not set" in missing.stderr
    assert "Traceback" not in missing.stderr and iteration_dirs(tmp_path) == []



def test_each_in_process_sandbox_run_starts_from_a_fresh_platform(tmp_path):
    first = cli(["run", "--route", "response-timing", "--sandbox", "--yes", *FAST], tmp_path)
    assert first.returncode == 0, first.stderr
    second = cli(["run", "--route", "response-timing", "--sandbox", "--yes", *FAST], tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(iteration_dirs(tmp_path)) == 2


def test_signing_key_with_a_trailing_newline_stops_at_preflight(tmp_path):
    result = cli(["run", "--route", "response-timing", "--sandbox", "--yes", "--json", *FAST,
                  "--sandbox-knob", "bad_signing_key=true"], tmp_path)
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "stopped" and summary["verdict"] is None
    assert summary["reasons"] == ["preflight refused (nothing changed): INNGEST_SIGNING_KEY: leading or "
                                  "trailing whitespace"]
    [folder] = iteration_dirs(tmp_path)
    checks = json.loads(next(folder.glob("preflight-*")).read_text())
    key = next(c for c in checks["checks"] if c["key"] == "INNGEST_SIGNING_KEY")
    assert key["hasLeadingOrTrailingWhitespace"] is True and "value" not in key


def test_a_standard_fail_rolls_back_by_instant_rollback_without_a_build(tmp_path, serve):
    """The default automatic rollback: Instant Rollback to the deployment preflight found, the
    flag off in settings, verified, then the rollback window the report compares."""
    served = serve("offload_does_not_help=response-timing")
    result = cli(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served.env)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "rolled-back" and summary["verdict"] == "FAIL"
    assert summary["completed"][-4:] == ["instant-rollback", "instant-flag-off", "instant-verify",
                                         "rollback-capture"]
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    known_good = state["facts"]["preflight"]["production"]["id"]
    assert state["facts"]["preflight"]["rollback"]["mode"] == "instant"
    audit = served.audit()
    assert sum(1 for e in audit if e["action"] == "deployment.create") == 1  # the flip's; no rollback build
    assert [e["id"] for e in audit if e["action"] == "deployment.rollback"] == [known_good]
    assert state["facts"]["instant-verify"]["served"] == known_good
    flag = json.loads(next(folder.glob("instant-flag-off-*")).read_text())
    assert flag["value"] == "false" and flag["verification"] == "read-back"
    window = state["facts"]["rollback-capture"]["window"]
    assert window["since_ms"] == state["facts"]["instant-verify"]["ready_ms"]
    timeline = (folder / "timeline.md").read_text()
    assert "Rolling back by Instant Rollback" in timeline and "rollback window vs post window" in timeline
    assert "rollback window" in (folder / "report.html").read_text()
    assert verify_manifest(folder) == []
