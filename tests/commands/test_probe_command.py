"""`reversal probe` end to end against a loopback app: exit codes, JSON, evidence, no secret."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reversal.cli import cli
from tests.platform.test_probe import SECRET, T0, app  # noqa: F401  (the loopback app fixture)


def _invoke(tmp_path: Path, args: list[str], env: dict[str, str]):
    """Run the CLI in-process from an empty project folder (built-in playbooks)."""
    base_env = {"REVERSAL_CLOCK": f"{T0}@{time.time_ns() // 1_000_000}x1", "CRON_SECRET": SECRET,
                "REVERSAL_APP_URL": "", "NO_COLOR": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = CliRunner().invoke(cli, args, env={**base_env, **env}, standalone_mode=False)
    artifacts = {p.name: p.read_text() for p in tmp_path.glob("*.json")}
    return result, artifacts


def test_dispatch_probe_json_and_evidence_without_secret(app, tmp_path):  # noqa: F811
    state, url = app
    state.echo_auth = True
    result, artifacts = _invoke(
        tmp_path, ["probe", "--route", "response-timing", "--json", "--out", "probe.json"],
        {"REVERSAL_APP_URL": url + "/"},
    )
    assert result.exception is None, result.output
    assert result.return_value == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["status"] == 202 and doc["unauthorizedStatus"] == 401
    assert doc["dispatchKey"] == "cron:response-timing:2026-02-18T05:55"
    assert doc["url"] == f"{url}/api/cron/response-timing"
    assert json.loads(artifacts["probe.json"])["eventId"] == doc["eventId"]
    for text in (result.stdout, result.stderr, *artifacts.values()):
        assert SECRET not in text


def test_probe_failure_exits_1_with_reasons(app, tmp_path):  # noqa: F811
    state, url = app
    state.accept_unauthenticated = True
    result, _ = _invoke(tmp_path, ["probe", "--route", "/api/cron/response-timing", "--app-url", url], {})
    assert result.return_value == 1
    assert "FAIL" in result.stdout and "auth is NOT preserved" in result.stdout


def test_inline_probe(app, tmp_path):  # noqa: F811
    state, url = app
    state.mode = "inline"
    result, _ = _invoke(tmp_path, ["probe", "--route", "response-timing", "--expect", "inline",
                                   "--app-url", url], {})
    assert result.return_value == 0 and "PASS" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--route", "response-timing"], "no app URL to probe"),
        (["--route", "nope", "--app-url", "http://127.0.0.1:9"], "the playbooks define"),
        (["--route", "webhooks-email", "--app-url", "http://127.0.0.1:9"], "verified passively"),
        (["--route", "response-timing", "--app-url", "127.0.0.1:9"], "not an absolute http"),
    ],
)
def test_bad_input_is_exit_2(tmp_path, args, message):
    from reversal.errors import InputError

    result, _ = _invoke(tmp_path, ["probe", *args], {})
    assert isinstance(result.exception, InputError)
    assert result.exception.exit_code == 2 and message in str(result.exception)
