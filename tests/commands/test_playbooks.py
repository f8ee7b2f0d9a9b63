import json
from pathlib import Path

from click.testing import CliRunner

from reversal.cli import cli
from tests.zrg import EXPORT


def _invoke(tmp_path, *args):
    """Run in an empty project folder: no reversal.yaml, no artifacts, the built-in playbooks."""
    import os

    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(before)


def test_lists_slices_in_order_with_status(tmp_path):
    result = _invoke(tmp_path, "playbooks", "--json")
    doc = json.loads(result.output)
    names = [s["slice"] for s in doc["slices"]]
    assert set(names[:3]) == {"webhooks-email", "background-jobs", "response-timing"}
    assert {s["status"] for s in doc["slices"]} == {"never run"}
    eligible = {s["slice"] for s in doc["slices"] if s["eligible"]}
    assert eligible == {"webhooks-email", "background-jobs", "response-timing"}
    assert doc["next"] is None


def test_export_ranks_eligible_slices_by_failure_evidence(tmp_path):
    result = _invoke(tmp_path, "playbooks", "--export", str(EXPORT), "--json")
    doc = json.loads(result.output)
    failures = {s["slice"]: s["target_failures"] for s in doc["slices"]}
    # the eligible P0 slice with the most target failure rows in the real export
    eligible = {s["slice"]: s["target_failures"] for s in doc["slices"] if s["eligible"]}
    assert doc["next"] == max(eligible, key=eligible.get)
    assert failures["response-timing"] >= 110  # at least the P2028 family rows
    table = _invoke(tmp_path, "playbooks", "--export", str(EXPORT)).output
    assert f"next: {doc['next']}" in table


def test_init_scaffolds_config_and_playbooks_then_refuses_to_overwrite(tmp_path):
    result = _invoke(tmp_path, "init", str(tmp_path / "proj"))
    assert result.exit_code == 0
    assert (tmp_path / "proj" / "reversal.yaml").is_file()
    assert len(list((tmp_path / "proj" / "playbooks").glob("*.yaml"))) == 7
    runner = CliRunner()
    again = runner.invoke(cli, ["init", str(tmp_path / "proj")])
    assert again.exit_code != 0 and "already exists" in str(again.exception)
