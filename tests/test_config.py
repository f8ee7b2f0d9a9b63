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


@pytest.mark.parametrize(("text", "fragment"), [
    ("project_id: a\nproject_id: b\n", r"duplicate key 'project_id'"),
    ("environment: staging\n", r"field 'environment' must be one of production, preview"),
    ("playbooks_dir: nope\n", r"field 'playbooks_dir' names .*nope, which is not a folder"),
    ("vercel_api: api.vercel.com\n", r"field 'vercel_api' must be an absolute http\(s\) URL"),
    ("secrets: [CRON SECRET]\n", r"field 'secrets' must be a list of env var names"),
    ("artifacts: afile\n", r"artifacts folder .*afile .* is a file"),
])
def test_bad_settings_are_refused(tmp_path: Path, text, fragment):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "reversal.yaml").write_text(text)
    with pytest.raises(InputError, match=fragment):
        load_config(environ={}, cwd=tmp_path)


def test_api_url_from_the_environment_is_checked(tmp_path: Path):
    with pytest.raises(InputError, match="REVERSAL_VERCEL_API 'http://\\[::1'"):
        load_config(environ={"REVERSAL_VERCEL_API": "http://[::1"}, cwd=tmp_path)
