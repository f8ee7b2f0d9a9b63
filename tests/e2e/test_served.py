"""Runs in separate processes against one `reversal sandbox serve`: locks, secrets, SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from reversal.iteration.store import verify_manifest
from tests.e2e.conftest import cli, iteration_dirs, start, state_of, wait_for


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_trailing_newline_secret_stops_at_preflight_naming_the_key_only(tmp_path, serve):
    served = serve("secret_trailing_newline=true")
    result = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "CRON_SECRET" in output and "whitespace" in output
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    assert state["status"] == "stopped" and state["completed"] == []
    assert state["journal"] == []  # nothing was changed in production
    secret = served.info["cron_secret"]
    assert secret not in output and secret not in _all_text(tmp_path)
    assert served.info["token"] not in output + _all_text(tmp_path)
    assert not [e for e in served.audit() if e["action"] == "env.write" and e["key"] != "REVERSAL_LOCK"]


def test_second_concurrent_run_exits_4_and_the_first_is_undisturbed(tmp_path, serve):
    served = serve(factor=300)
    first = start(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served)
    wait_for(lambda: iteration_dirs(tmp_path))
    second = cli(["run", "--route", "background-jobs", "--yes"], tmp_path, served.env)
    assert second.returncode == 4, second.stderr
    assert "holds the project lock" in second.stderr and "--route response-timing" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, (out, err)
    assert json.loads(out)["status"] == "passed"
    assert len(iteration_dirs(tmp_path)) == 1


def _run_until_done(tmp_path: Path, env: dict, slice_name: str, rng: random.Random,
                    kills: list[float]) -> subprocess.CompletedProcess | None:
    """Start/resume the slice, SIGKILL it at a random moment, until a run ends by itself."""
    for attempt in range(60):
        proc = subprocess.Popen([sys.executable, "-m", "reversal", "run", "--route", slice_name,
                                 "--yes"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        # process start + lease take ~1 s on a loaded machine, several under heavy load: the
        # window grows with the attempts so a slow machine still gets whole steps done
        delay = rng.uniform(0.3, 3.0) * (1 + attempt / 8)
        try:
            out, err = proc.communicate(timeout=delay)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            kills.append(delay)
    raise AssertionError(f"{slice_name} never finished after {len(kills)} kills")


def test_sigkill_at_random_moments_then_resume_always_finishes_exactly_once(tmp_path, serve):
    served = serve(factor=1200)
    env = {**os.environ, **served.env, "NO_COLOR": "1"}
    rng = random.Random(20261128)
    kills: list[float] = []
    slices = {"response-timing": "CRON_RESPONSE_TIMING_USE_INNGEST",
              "background-jobs": "BACKGROUND_JOBS_USE_INNGEST",
              "webhooks-email": "INBOXXIA_EMAIL_SENT_ASYNC"}
    while len(kills) < 20:
        for slice_name in slices:
            done = _run_until_done(tmp_path, env, slice_name, rng, kills)
            # PASS (or "already PASSed" when killed after the verdict), or FAIL rolled back
            assert done.returncode in (0, 1), (slice_name, done.stderr)
            assert "Traceback" not in done.stderr
            latest = max((state_of(f) for f in iteration_dirs(tmp_path)
                          if state_of(f)["slice"] == slice_name), key=lambda st: st["created_ms"])
            if latest["status"] == "passed":
                rolled = cli(["rollback", "--route", slice_name, "--yes"], tmp_path, served.env)
                assert rolled.returncode == 0, rolled.stderr
        time.sleep(2.5)  # a fresh 30-minute baseline of inline failures (x1200: 1.5 s)
    audit = served.audit()
    for folder in iteration_dirs(tmp_path):
        state = state_of(folder)
        assert state["status"] == "rolled-back", (folder.name, state["reasons"])
        assert verify_manifest(folder) == [], folder.name
        # a FAIL rolls back by Instant Rollback (no rebuild); an operator's rollback rebuilds
        instant = [j for j in state["journal"] if j["effect"] == "rollback:instant" and j["phase"] == "done"]
        for effect, expected in (("deploy:on", 1), ("deploy:off", 0 if instant else 1)):
            intent = f"{state['iteration']}:{effect}"
            created = [e for e in audit if e["action"] == "deployment.create"
                       and e["meta"].get("reversalIntent") == intent]
            assert len(created) == expected, (folder.name, effect, created)
        if instant:
            assert len(instant) == 1, (folder.name, instant)
            assert state["facts"]["instant-verify"]["served"] == instant[0]["deployment_id"]
    for slice_name, key in slices.items():
        flips = [j for f in iteration_dirs(tmp_path) if state_of(f)["slice"] == slice_name
                 for j in state_of(f)["journal"] if j["phase"] == "done"
                 and j["effect"] in ("flag:on", "flag:off")]
        writes = [e for e in audit if e["action"] == "env.write" and e["key"] == key]
        assert len(writes) == len(flips) >= 2, (slice_name, len(writes), len(flips))


def _status(tmp_path: Path, env: dict, iteration: str) -> dict:
    result = cli(["status", iteration, "--json"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_wait_saves_state_and_resume_finishes(tmp_path, serve):
    served = serve(factor=300)
    first = cli(["run", "--route", "response-timing", "--yes", "--no-wait", "--json"], tmp_path,
                served.env)
    assert first.returncode == 3, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "waiting" and summary["step"] == "soak"
    assert "post window ends at" in summary["waiting"]["reason"]
    time.sleep(7)  # 30 simulated minutes at x300
    done = cli(["resume", "--json"], tmp_path, served.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "PASS"


def test_export_source_asks_for_the_window_and_validates_what_is_attached(tmp_path, serve):
    served = serve(factor=300)
    first = cli(["run", "--route", "response-timing", "--yes", "--source", "export"], tmp_path,
                served.env)
    assert first.returncode == 3, first.stderr
    [folder] = iteration_dirs(tmp_path)
    iteration = folder.name
    waiting = _status(tmp_path, served.env, iteration)["waiting"]
    assert waiting["step"] == "baseline" and "environment=production" in waiting["reason"]
    window = waiting["window"]
    base = tmp_path / "baseline-export.json"
    assert cli(["capture", "--since", window["since"], "--until", window["until"], "--out",
                str(base)], tmp_path, served.env).returncode == 0

    wrong = tmp_path / "wrong.json"
    wrong.write_text("[]")
    refused = cli(["resume", iteration, "--export", str(wrong), "--yes"], tmp_path, served.env)
    assert refused.returncode == 2 and "no rows" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _status(tmp_path, served.env, iteration)["status"] == "waiting"  # nothing lost

    second = cli(["resume", iteration, "--export", str(base), "--yes"], tmp_path, served.env)
    assert second.returncode == 3, second.stderr  # now waits for the post-window export
    waiting = _status(tmp_path, served.env, iteration)["waiting"]
    assert waiting["step"] in ("soak", "post")
    if waiting["step"] == "soak":
        time.sleep(7)
        again = cli(["resume", iteration, "--yes"], tmp_path, served.env)
        assert again.returncode == 3, again.stderr
        waiting = _status(tmp_path, served.env, iteration)["waiting"]
    assert waiting["step"] == "post"
    mismatched = cli(["resume", iteration, "--export", str(base), "--yes"], tmp_path, served.env)
    assert mismatched.returncode == 2 and "does not match" in mismatched.stderr
    window = waiting["window"]
    post = tmp_path / "post-export.json"
    assert cli(["capture", "--since", window["since"], "--until", window["until"], "--out",
                str(post)], tmp_path, served.env).returncode == 0
    final = cli(["resume", iteration, "--export", str(post), "--yes", "--json"], tmp_path,
                served.env)
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout)["verdict"] == "PASS"
    assert verify_manifest(folder) == []


def test_flag_that_reads_back_with_a_newline_stops_at_the_flip(tmp_path, serve):
    served = serve("flag_trailing_newline=true")
    result = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert result.returncode == 3  # stopped at its step, resumable: not a FAIL
    assert "CRON_RESPONSE_TIMING_USE_INNGEST" in result.stdout
    assert "whitespace" in result.stdout and "reversal resume" in result.stdout
    [folder] = iteration_dirs(tmp_path)
    state = state_of(folder)
    assert state["step"] == "flip" and state["status"] == "error" and state["verdict"] is None
    assert not [e for e in served.audit() if e["action"] == "deployment.create"]


def test_inconclusive_stops_and_the_operator_accepts_with_a_reason(tmp_path, serve):
    served = serve("failure_rates=response-timing:0.04", "seed=3")
    first = cli(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served.env)
    summary = json.loads(first.stdout)
    if summary["status"] == "stopped":  # no failure at all in the baseline: nothing to migrate
        assert "no target failures" in " ".join(summary["reasons"])
        return
    assert first.returncode == 3 and summary["status"] == "inconclusive", summary
    assert any("too little signal" in r or "not significant" in r for r in summary["reasons"])
    bare = cli(["resume", summary["iteration"]], tmp_path, served.env)
    assert bare.returncode == 2 and "--extend" in bare.stderr and "--accept" in bare.stderr
    accepted = cli(["resume", summary["iteration"], "--accept", "rate too low to test; 202 + ledger OK",
                    "--json"], tmp_path, served.env)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["status"] == "passed"
    timeline = (tmp_path / "artifacts" / summary["iteration"] / "timeline.md").read_text()
    assert "Operator accepted: rate too low to test; 202 + ledger OK" in timeline


def test_running_a_passed_slice_again_changes_nothing(tmp_path, serve):
    served = serve()
    first = cli(["run", "--route", "response-timing", "--yes"], tmp_path, served.env)
    assert first.returncode == 0, first.stderr
    def changes() -> int:  # the project lease comes and goes with every command; not a change
        return len([e for e in served.audit() if e.get("key") != "REVERSAL_LOCK"])

    writes = changes()
    again = cli(["run", "--route", "response-timing", "--yes", "--json"], tmp_path, served.env)
    assert again.returncode == 0, again.stderr
    assert "already PASSed" in again.stderr
    assert json.loads(again.stdout)["status"] == "passed"
    assert len(iteration_dirs(tmp_path)) == 1 and changes() == writes
    everything = first.stdout + first.stderr + again.stdout + again.stderr + _all_text(tmp_path)
    for secret in (served.info["token"], served.info["cron_secret"],
                   served.env["INNGEST_SIGNING_KEY"]):
        assert secret not in everything
