"""LivePlatform over the fake Vercel: sensitive secrets reach preflight with their facts, the live
production deployment and a production-only flip come back in the shapes the machine records."""

import pytest
import respx

from reversal.clock import SystemClock
from reversal.config import load_config
from reversal.iteration import checks
from reversal.iteration.live import LivePlatform
from reversal.playbooks import load_playbooks
from tests.platform.fakes import API, LOGS, PROJECT, TEAM, TOKEN, FakeVercel

SIGNING = "signkey-prod-" + "a" * 64


@pytest.fixture
def fake():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVercel(router)


def _platform(tmp_path, **environ) -> LivePlatform:
    base = {"VERCEL_TOKEN": TOKEN, "VERCEL_PROJECT_ID": PROJECT, "VERCEL_ORG_ID": TEAM,
            "REVERSAL_VERCEL_API": API, "REVERSAL_VERCEL_LOGS_API": LOGS}
    return LivePlatform(load_config(environ={**base, **environ}, cwd=tmp_path), SystemClock(), ui=None)


def test_preflight_passes_with_sensitive_secrets_and_checks_their_local_copy(fake, tmp_path):
    book = load_playbooks(None)["response-timing"]
    fake.add_env("CRON_SECRET", "c" * 64, target=("production", "preview"), type="sensitive")
    fake.add_env("INNGEST_SIGNING_KEY", SIGNING, type="sensitive")
    fake.add_env(book.flag.name, "false", target=("production", "preview", "development"))
    keys = ["CRON_SECRET", "INNGEST_SIGNING_KEY", book.flag.name]

    def run(platform):
        values, unreadable = platform.env_values(keys)
        return checks.preflight(book, values, unreadable, secrets=("CRON_SECRET", "INNGEST_SIGNING_KEY"),
                                passed=set(), production={"id": "dpl_1", "state": "READY"}, vercel_json={})

    clean = run(_platform(tmp_path, CRON_SECRET="c" * 64))
    assert clean["ok"], clean["problems"]
    by_key = {c["key"]: c for c in clean["checks"]}
    assert by_key["CRON_SECRET"]["localCopy"] == {"origin": "the environment", "length": 64,
                                                  "whitespace": False}
    assert by_key["INNGEST_SIGNING_KEY"]["localCopy"] is None and by_key["INNGEST_SIGNING_KEY"]["ok"]
    dirty = run(_platform(tmp_path, CRON_SECRET="c" * 64 + "\n"))
    assert not dirty["ok"] and dirty["problems"][0].startswith("CRON_SECRET: present (sensitive")
    assert "c" * 64 not in str(dirty)


def test_live_production_and_a_production_only_flip(fake, tmp_path):
    live = fake.add_deployment(created=1000, substate="PROMOTED", live=True)
    fake.add_deployment(created=2000, substate="PROMOTED")  # newer, but rolled back from
    shared = fake.add_env("F", "false", target=("production", "preview", "development"))
    platform = _platform(tmp_path)
    assert platform.flag_plan("F") == {"key": "F", "target": "production", "envId": shared, "action": "split",
                                       "splitFrom": ["production", "preview", "development"],
                                       "verification": "read-back"}
    assert not [r for r in fake.requests if r.method in ("PATCH", "POST")]  # a plan changes nothing
    production = platform.production()
    assert (production.id, production.ready_substate) == (live, "PROMOTED")
    assert production.found_by == "project production deployment"
    flip = platform.write_flag("F", "true", ("true", "false"))
    assert flip.changed and flip.verification == "read-back" and flip.record["split"]["envId"] == shared
    assert "key" not in flip.record  # the machine records the key itself
    assert fake.value("F", "preview") == fake.value("F", "development") == "false"
