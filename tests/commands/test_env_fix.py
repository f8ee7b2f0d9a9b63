"""``reversal env fix`` against the in-process sandbox: trims, one redeploy, a clean re-audit."""

from __future__ import annotations

import json
import re

import pytest

from tests.commands.helpers import run
from tests.sandbox.conftest import sandbox_starter, vercel


@pytest.fixture
def sandbox_env(monkeypatch, tmp_path):
    with sandbox_starter(seed=7, factor=600, traffic=False) as begin:
        yield _starter(begin, monkeypatch, tmp_path)


def _starter(begin, monkeypatch, tmp_path):
    def start(**settings):
        info = begin(**settings)
        monkeypatch.chdir(tmp_path)
        for key in ("REVERSAL_ARTIFACTS", "REVERSAL_ENV_FILE", "VERCEL_TEAM_ID", "CRON_SECRET",
                    "INNGEST_SIGNING_KEY"):
            monkeypatch.delenv(key, raising=False)
        for key, value in info.env.items():
            monkeypatch.setenv(key, value)
        return info
    return start


def _audit_log(info):
    with vercel(info) as c:
        return c.get("/_sandbox/audit").json()["entries"]


def _all_text(root):
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_fix_trims_the_secret_redeploys_once_and_the_re_audit_is_clean(sandbox_env, tmp_path, capsys):
    info = sandbox_env(secret_trailing_newline=True)
    code, out, err = run(capsys, "env", "audit")
    assert code == 1 and "CRON_SECRET" in out
    code, out, err = run(capsys, "env", "fix", "--yes", "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["ok"] and doc["written"] == ["CRON_SECRET"]
    assert doc["redeploy"]["finalState"] == "READY" and doc["redeploy"]["servingProduction"]
    assert [f["action"] for f in doc["fixes"]] == ["trim"]
    folder = tmp_path / "artifacts" / doc["folder"].rsplit("/", 1)[1]
    state = json.loads((folder / "fix-state.json").read_text())
    assert state["status"] == "done"
    # the sandbox's secret is one record for every environment: production is split off first
    journal = state["journal"]
    assert [(e["effect"], e["phase"]) for e in journal if not e["effect"].endswith(":split")] == [
        ("confirmed", "done"), ("trim:CRON_SECRET", "intent"), ("trim:CRON_SECRET", "done"),
        ("redeploy", "intent"), ("redeploy", "done")]
    assert [e["step"] for e in journal if e["effect"].endswith(":split") and e["phase"] == "done"] == [
        "detach-production", "create"]
    trim = journal[-3]
    assert (trim["before"]["length"], trim["after"]["length"]) == (len(info.cron_secret) + 1,
                                                                 len(info.cron_secret))
    timeline = (folder / "timeline.md").read_text()
    assert "**trim**: CRON_SECRET" in timeline and "**re-audit**: clean" in timeline
    index = (tmp_path / "artifacts" / "index.html").read_text()  # the campaign page lists the fix
    row = re.search(rf'<tr class="env-fix" data-run="{folder.name}">(.*?)</tr>', index, re.S).group(1)
    assert all(part in row for part in ("done", "CRON_SECRET", doc["redeploy"]["id"], "clean",
                                        f'href="{folder.name}/timeline.md"'))
    log = _audit_log(info)
    assert [e["key"] for e in log if e["action"] == "env.write" and e["key"] != "REVERSAL_LOCK"] == [
        "CRON_SECRET"]
    assert len([e for e in log if e["action"] == "deployment.create"]) == 1
    for text in (out, err, _all_text(tmp_path)):
        assert info.cron_secret not in text
    code, out, _ = run(capsys, "env", "audit")
    assert code == 0, out
    code, out, _ = run(capsys, "env", "fix", "--yes", "--json")  # nothing left: no change
    assert code == 0 and json.loads(out)["redeploy"] is None


def test_without_yes_and_no_terminal_nothing_changes(sandbox_env, tmp_path, capsys):
    info = sandbox_env(secret_trailing_newline=True)
    code, out, _ = run(capsys, "env", "fix")
    assert code == 1 and "not confirmed" in out
    assert not [e for e in _audit_log(info) if e["action"] in ("deployment.create",)
                or (e["action"] == "env.write" and e["key"] != "REVERSAL_LOCK")]


def test_a_sensitive_secret_gets_exact_steps_not_a_write(sandbox_env, tmp_path, capsys, monkeypatch):
    info = sandbox_env(sensitive_secrets=True)
    (tmp_path / ".env.production").write_text(f'CRON_SECRET="{info.cron_secret}\\n"\n')
    monkeypatch.setenv("REVERSAL_ENV_FILE", ".env.production")
    monkeypatch.delenv("CRON_SECRET")  # the local copy is the pulled env file's
    code, out, err = run(capsys, "env", "fix", "CRON_SECRET", "--yes")
    assert code == 1
    assert "vercel env add CRON_SECRET production --sensitive" in out
    assert info.cron_secret not in out + err + _all_text(tmp_path / "artifacts")
    assert not [e for e in _audit_log(info) if e["action"] == "deployment.create"]


def test_a_write_that_does_not_read_back_trimmed_stops_and_resumes(sandbox_env, tmp_path, capsys):
    info = sandbox_env(flag_trailing_newline=True)
    with vercel(info) as c:  # a tainted production boolean, as the team had four
        envs = c.get(f"/v10/projects/{info.project_id}/env").json()["envs"]
        flag = next(e for e in envs if e["key"] == "CRON_FOLLOWUPS_USE_INNGEST"
                    and e["target"] == ["production"])
        assert c.patch(f"/v9/projects/{info.project_id}/env/{flag['id']}",
                       json={"value": "false"}).status_code == 200  # stored "false\n" by the fault
    code, out, err = run(capsys, "env", "fix", "CRON_FOLLOWUPS_USE_INNGEST", "--yes")
    assert code == 1 and "does not equal the value written" in err
    [folder] = (tmp_path / "artifacts").glob("env-fix-*")
    state = json.loads((folder / "fix-state.json").read_text())
    assert state["status"] == "running"  # resumable
    assert not [e for e in _audit_log(info) if e["action"] == "deployment.create"]
    code, out, err = run(capsys, "env", "fix", "CRON_FOLLOWUPS_USE_INNGEST", "--yes")
    assert "resuming the unfinished fix" in out and code == 1
    assert list((tmp_path / "artifacts").glob("env-fix-*")) == [folder]
