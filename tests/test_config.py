import json
from pathlib import Path

import pytest

from reversal.config import load_config
from reversal.errors import InputError


def test_environment_wins_over_file_and_link(tmp_path: Path):
    (tmp_path / ".vercel").mkdir()
    (tmp_path / ".vercel" / "project.json").write_text(
        json.dumps({"projectId": "prj_link", "orgId": "team_link"})
    )
    (tmp_path / "reversal.yaml").write_text("project_id: prj_file\napp_url: https://a.example\n")
    cfg = load_config(environ={"REVERSAL_APP_URL": "https://env.example"}, cwd=tmp_path)
    assert cfg.project_id == "prj_file"
    assert cfg.org_id == "team_link"
    assert cfg.app_url == "https://env.example"


def test_secrets_stay_out_of_repr(tmp_path: Path):
    cfg = load_config(environ={"VERCEL_TOKEN": "tok-very-secret", "CRON_SECRET": "s3"}, cwd=tmp_path)
    assert cfg.token == "tok-very-secret"
    assert "tok-very-secret" not in repr(cfg)


def test_unknown_setting_is_named(tmp_path: Path):
    (tmp_path / "reversal.yaml").write_text("projct_id: x\n")
    with pytest.raises(InputError, match=r"reversal\.yaml: unknown setting 'projct_id' "
                       r"\(did you mean 'project_id'\?\)"):
        load_config(environ={}, cwd=tmp_path)
