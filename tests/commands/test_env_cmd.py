import json

import pytest
import respx

from reversal.commands.env import audit
from reversal.platform.flags import EnvFacts
from reversal.playbooks import load_playbooks
from tests.commands.helpers import run, vercel_env
from tests.platform.fakes import FakeVercel

SIGNING = "signkey-prod-" + "a" * 64  # 77 characters, like the team's artifact
CRON = "c" * 64


@pytest.fixture
def books():
    return list(load_playbooks(None).values())


def _by_key(checks):
    return {c.key: c for c in checks}


def test_audit_rules(books):
    values = {
        "CRON_SECRET": CRON, "INNGEST_SIGNING_KEY": SIGNING + "\n",
        "CRON_RESPONSE_TIMING_USE_INNGEST": "true", "CRON_FOLLOWUPS_USE_INNGEST": "false",
        "CRON_AVAILABILITY_USE_INNGEST": "true\n", "INBOXXIA_EMAIL_SENT_ASYNC": "yes",
        "BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK": "true",
    }
    checks = _by_key(audit(values, books, ("CRON_SECRET", "INNGEST_SIGNING_KEY")))
    assert checks["CRON_SECRET"].ok and checks["CRON_SECRET"].length == 64
    bad_key = checks["INNGEST_SIGNING_KEY"]
    assert not bad_key.ok and bad_key.whitespace and bad_key.length == 78
    assert checks["CRON_RESPONSE_TIMING_USE_INNGEST"].state == "on"
    assert checks["CRON_FOLLOWUPS_USE_INNGEST"].state == "off" and checks["CRON_FOLLOWUPS_USE_INNGEST"].ok
    assert not checks["CRON_AVAILABILITY_USE_INNGEST"].ok  # trailing newline
    inboxxia = checks["INBOXXIA_EMAIL_SENT_ASYNC"]
    assert not inboxxia.ok and inboxxia.state == "invalid"
    assert checks["CRON_APPOINTMENT_RECONCILE_USE_INNGEST"].ok  # absent flag: app default
    assert not checks["BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK"].ok
    assert list(checks)[:2] == ["CRON_SECRET", "INNGEST_SIGNING_KEY"]
    assert len(checks) == 2 + 7 + 1


def test_audit_absent_secret_fails_and_must_be_off_absent_or_false_passes(books):
    checks = _by_key(audit({"BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK": "false"}, books, ("CRON_SECRET",)))
    assert not checks["CRON_SECRET"].ok and checks["CRON_SECRET"].reason == "absent"
    assert checks["BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK"].ok
    assert _by_key(audit({}, books, ()))["BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK"].ok


def test_audit_unreadable_sensitive_var_is_reported_never_a_failure(books):
    [check] = audit({}, books, ("CRON_SECRET",), keys=["CRON_SECRET"], unreadable={"CRON_SECRET"})
    assert check.present and check.ok and "cannot be read back" in check.reason
    facts = {"CRON_SECRET": EnvFacts("sensitive", ("production", "preview"), False,
                                     {"origin": ".env.production", "length": 65, "whitespace": True}),
             "CRON_RESPONSE_TIMING_USE_INNGEST": EnvFacts("sensitive", ("production",), False)}
    secret, flag = audit({}, books, ("CRON_SECRET",), keys=list(facts), unreadable=facts)
    assert not secret.ok and secret.whitespace and secret.length == 65  # the local copy is checked
    assert "sensitive, targets production, preview" in secret.reason and ".env.production" in secret.reason
    doc = secret.as_json()
    assert doc["type"] == "sensitive" and doc["targets"] == ["production", "preview"]
    assert flag.ok and flag.state == "unknown" and "verified by the probe" in flag.reason


def test_env_audit_command_checks_the_local_copy_of_sensitive_secrets(fake, tmp_path, capsys, monkeypatch):
    for key in ("CRON_SECRET", "INNGEST_SIGNING_KEY"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / ".env.production").write_text(f'CRON_SECRET="{CRON}"\nINNGEST_SIGNING_KEY="{SIGNING}\\n"\n')
    monkeypatch.setenv("REVERSAL_ENV_FILE", ".env.production")
    fake.add_env("CRON_SECRET", CRON, target=("production", "preview"), type="sensitive")
    fake.add_env("INNGEST_SIGNING_KEY", SIGNING + "\n", type="sensitive")
    code, out, _ = run(capsys, "env", "audit", "CRON_SECRET", "INNGEST_SIGNING_KEY", "--json")
    doc = json.loads(out)
    cron, signing = doc["checks"]
    assert code == 1 and cron["ok"] and not signing["ok"]
    assert (cron["type"], cron["targets"], cron["readable"], cron["length"]) == (
        "sensitive", ["production", "preview"], False, 64)
    assert signing["localCopy"]["whitespace"] and "leading or trailing whitespace" in signing["reason"]
    assert SIGNING not in out and CRON not in out


@pytest.fixture
def fake(monkeypatch, tmp_path):
    vercel_env(monkeypatch, tmp_path)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVercel(router)


def test_env_audit_command_writes_artifact_without_values(fake, tmp_path, capsys):
    fake.add_env("CRON_SECRET", CRON)
    fake.add_env("INNGEST_SIGNING_KEY", SIGNING)
    fake.add_env("CRON_RESPONSE_TIMING_USE_INNGEST", "true")
    fake.add_env("CRON_RESPONSE_TIMING_USE_INNGEST", "true\n", target=("preview",))  # not production
    code, out, err = run(capsys, "env", "audit", "--out", "audit.json")
    assert code == 0, out + err
    document = json.loads((tmp_path / "audit.json").read_text())
    assert document["capturedAtUtc"].endswith("Z")
    first = document["checks"][1]
    assert {k: first[k] for k in ("key", "present", "hasLeadingOrTrailingWhitespace", "length")} == {
        "key": "INNGEST_SIGNING_KEY", "present": True, "hasLeadingOrTrailingWhitespace": False, "length": 77}
    assert all(c["ok"] for c in document["checks"])
    for text in (out, err, (tmp_path / "audit.json").read_text()):
        assert SIGNING not in text and CRON not in text
    assert "INNGEST_SIGNING_KEY" in out and "checks ok" in out


def test_env_audit_exit_1_on_whitespace_and_json(fake, tmp_path, capsys):
    fake.add_env("INNGEST_SIGNING_KEY", SIGNING + "\n")
    fake.add_env("CRON_SECRET", CRON)
    code, out, _ = run(capsys, "env", "audit", "INNGEST_SIGNING_KEY", "CRON_SECRET", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert [(c["key"], c["ok"], c["length"]) for c in doc["checks"]] == [
        ("INNGEST_SIGNING_KEY", False, 78), ("CRON_SECRET", True, 64)]
    assert SIGNING not in out and CRON not in out
    assert list((tmp_path / "artifacts").glob("env-audit-*.json"))
