"""Run the CLI in-process (so respx serves Vercel) and collect its exit code and output."""

from __future__ import annotations

import pytest

from reversal.cli import main
from tests.platform.fakes import API, LOGS, PROJECT, TEAM, TOKEN


def vercel_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("REVERSAL_CLOCK", "REVERSAL_ARTIFACTS", "REVERSAL_ENV_FILE", "VERCEL_TEAM_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VERCEL_TOKEN", TOKEN)
    monkeypatch.setenv("VERCEL_PROJECT_ID", PROJECT)
    monkeypatch.setenv("VERCEL_ORG_ID", TEAM)
    monkeypatch.setenv("REVERSAL_VERCEL_API", API)
    monkeypatch.setenv("REVERSAL_VERCEL_LOGS_API", LOGS)


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err
