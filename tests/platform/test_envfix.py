from types import SimpleNamespace

from reversal.platform.envaudit import audit
from reversal.platform.envfix import plan_fixes
from reversal.playbooks import load_playbooks


def _checks(values, unreadable=None):
    books = list(load_playbooks(None).values())
    return audit(values, books, ("CRON_SECRET", "INNGEST_SIGNING_KEY"),
                 keys=list(values), unreadable=unreadable or {})


def test_readable_whitespace_is_trimmed_sensitive_gets_steps_other_problems_are_named():
    checks = _checks({"CRON_RESPONSE_TIMING_USE_INNGEST": "true\n", "CRON_SECRET": " s3cr3t-value",
                      "INNGEST_SIGNING_KEY": None, "CRON_FOLLOWUPS_USE_INNGEST": "maybe"},
                     unreadable={"INNGEST_SIGNING_KEY": SimpleNamespace(
                         type="sensitive", targets=("production",),
                         local={"origin": "env", "length": 78, "whitespace": True})})
    fixes = {f.key: f for f in plan_fixes(checks, "production")}
    assert fixes["CRON_RESPONSE_TIMING_USE_INNGEST"].action == "trim"
    assert fixes["CRON_SECRET"].action == "trim"
    assert fixes["INNGEST_SIGNING_KEY"].action == "manual"
    assert "vercel env add INNGEST_SIGNING_KEY production --sensitive" in fixes["INNGEST_SIGNING_KEY"].detail
    assert fixes["CRON_FOLLOWUPS_USE_INNGEST"].action == "none"
    facts = SimpleNamespace(type="sensitive", targets=("production",),
                            local={"origin": "env", "length": 77, "whitespace": False})
    clean_local = _checks({"INNGEST_SIGNING_KEY": None}, unreadable={"INNGEST_SIGNING_KEY": facts})
    assert plan_fixes(clean_local, "production") == []
    assert "s3cr3t" not in repr([f.as_json() for f in fixes.values()])


def test_clean_values_need_no_fix():
    assert plan_fixes(_checks({"CRON_RESPONSE_TIMING_USE_INNGEST": "false", "CRON_SECRET": "abcd"}),
                      "production") == []
