"""The Vercel CLI 58.10.0, pointed at the sandbox with ``--api``, works on a linked folder:
``vercel env ls``, ``vercel env pull``, ``vercel ls``, ``vercel inspect``."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import vercel


@pytest.fixture(scope="module")
def sensitive(start_served):
    return start_served(sensitive_secrets=True, staged_production=True, traffic=False)


def _ok(proc):
    assert proc.returncode == 0, f"vercel exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _deployments(info):
    with vercel(info) as c:
        return c.get("/v6/deployments", params={"projectId": info.project_id}).json()["deployments"]


def test_env_ls_resolves_the_linked_project_and_lists_sensitive_vars(sensitive, vercel_cli):
    out = _ok(vercel_cli(sensitive, "env", "ls", "production"))
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isupper()}
    assert "Sensitive" in rows["CRON_SECRET"] and "Sensitive" in rows["INNGEST_SIGNING_KEY"]
    assert "Non-sensitive" in rows["CRON_FOLLOWUPS_USE_INNGEST"]
    assert sensitive.cron_secret not in out


def test_env_pull_writes_the_target_and_a_placeholder_for_sensitive_values(sensitive, vercel_cli, tmp_path):
    """The pull endpoint answers a sensitive var with an empty value; the CLI then checks its type and
    writes ``[SENSITIVE]`` (packages/cli/src/commands/env/pull.ts ``getRedactedSensitiveKeys``)."""
    _ok(vercel_cli(sensitive, "env", "pull", "--yes", "--environment", "production", str(tmp_path / "p.env")))
    pulled = dict(line.split("=", 1) for line in (tmp_path / "p.env").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert pulled["CRON_RESPONSE_TIMING_USE_INNGEST"] == '"false"'
    assert pulled["CRON_SECRET"] == '"[SENSITIVE]"' and pulled["NEXT_PUBLIC_APP_URL"] == f'"{sensitive.app}"'
    _ok(vercel_cli(sensitive, "env", "pull", "--yes", str(tmp_path / "d.env")))  # development
    assert "CRON_SECRET" not in (tmp_path / "d.env").read_text()  # sensitive: production/preview only


def test_ls_lists_every_deployment(sensitive, vercel_cli):
    out = _ok(vercel_cli(sensitive, "ls"))
    urls = [d["url"] for d in _deployments(sensitive)]
    assert len(urls) == 2 and all(f"https://{url}" in out for url in urls)


def test_inspect_shows_the_deployment_and_its_alias(sensitive, vercel_cli):
    for deployment in _deployments(sensitive):
        out = _ok(vercel_cli(sensitive, "inspect", deployment["uid"]))
        assert deployment["uid"] in out and "Ready" in out
        serves = deployment["readySubstate"] == "PROMOTED"
        assert ("https://zrg-dashboard.vercel.app" in out) is serves
