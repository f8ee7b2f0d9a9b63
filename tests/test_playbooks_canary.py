"""``mode: canary`` and ``canary_share`` in playbooks, and the CLI's --canary refusal of cron slices."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reversal.errors import InputError
from reversal.playbooks import BUILTIN_DIR, load_playbook_file, parse_share


def _write(tmp_path: Path, name: str, **changes) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text())
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("raw,expected", [("10%", 10.0), ("10", 10.0), ("0.1", 10.0), ("50%", 50.0),
                                          (" 2.5% ", 2.5)])
def test_shares(raw, expected):
    assert parse_share(raw, "--canary") == expected


@pytest.mark.parametrize("raw", ["0%", "60%", "-5", "ten", "100"])
def test_bad_shares_name_where(raw):
    with pytest.raises(InputError, match="--canary"):
        parse_share(raw, "--canary")


def test_webhook_playbook_in_canary_mode(tmp_path):
    book = load_playbook_file(_write(tmp_path, "webhooks-email", mode="canary", canary_share="20%"))
    assert book.mode == "canary" and book.canary_share == 20.0
    default = load_playbook_file(BUILTIN_DIR / "webhooks-email.yaml")
    assert default.mode == "standard" and default.canary_share == 10.0


def test_canary_mode_is_refused_for_a_cron_slice(tmp_path):
    with pytest.raises(InputError, match=r"field 'mode' is canary but the slice is kind: cron: Vercel Cron"):
        load_playbook_file(_write(tmp_path, "response-timing", mode="canary"))
    with pytest.raises(InputError, match="field 'mode' must be standard or canary"):
        load_playbook_file(_write(tmp_path, "webhooks-email", mode="blue-green"))


def test_run_canary_on_a_cron_slice_exits_2_before_anything(tmp_path):
    result = subprocess.run([sys.executable, "-m", "reversal", "run", "--route", "response-timing",
                             "--canary", "10%", "--sandbox", "--yes"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "kind cron" in result.stderr and "webhook/HTTP-traffic slices only" in result.stderr
    assert not list((tmp_path / "artifacts").glob("*/state.json"))
