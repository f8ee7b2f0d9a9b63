from pathlib import Path

import pytest

from reversal.errors import InputError
from reversal.platform.envfile import parse_env_file, read_secret

PULLED = (
    '# Created by Vercel CLI\n'
    'CRON_SECRET="abc123def456"\n'
    'INNGEST_SIGNING_KEY="signkey-prod-0011"\n'
    'MULTI="line1\\nline2"\n'
    'QUOTED="say "hi""\n'
    'EMPTY=""\n'
    "export SINGLE='lit\\n'\n"
    'BARE=plain # comment\n'
    'NEWLINE_FLAG="true\\n"\n'
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env.production.local"
    path.write_text(text)
    return path


def test_parses_what_vercel_env_pull_writes(tmp_path, capsys):
    values = parse_env_file(_write(tmp_path, PULLED))
    assert values == {
        "CRON_SECRET": "abc123def456", "INNGEST_SIGNING_KEY": "signkey-prod-0011", "MULTI": "line1\nline2",
        "QUOTED": 'say "hi"', "EMPTY": "", "SINGLE": "lit\\n", "BARE": "plain", "NEWLINE_FLAG": "true\n",
    }
    assert capsys.readouterr() == ("", "")


def test_stray_text_is_refused_by_line_number_without_showing_it(tmp_path):
    path = _write(tmp_path, '# Created by Vercel CLI\n[dotenv@17.2.1] injecting env (3) from .env\n'
                            'CRON_SECRET="s3cr3t-value"\n')
    with pytest.raises(InputError, match=r":2: not a KEY=value line") as info:
        parse_env_file(path)
    assert "injecting" not in str(info.value) and "s3cr3t-value" not in str(info.value)


def test_unclosed_quote_is_refused(tmp_path):
    with pytest.raises(InputError, match=r":1: the double-quoted value of K is not closed"):
        parse_env_file(_write(tmp_path, 'K="abc\n'))


def test_read_secret_prefers_environment_then_file(tmp_path):
    path = _write(tmp_path, PULLED)
    assert read_secret("CRON_SECRET", environ={}, env_file=path) == "abc123def456"
    assert read_secret("CRON_SECRET", environ={"CRON_SECRET": "from-env"}, env_file=path) == "from-env"
    assert read_secret("MISSING", environ={}, env_file=path) is None
    assert read_secret("CRON_SECRET", environ={}, env_file=None) is None


def test_read_secret_refuses_surrounding_whitespace_without_the_value(tmp_path):
    path = _write(tmp_path, 'INNGEST_SIGNING_KEY="signkey-prod-abcdef\\n"\n')
    with pytest.raises(InputError) as info:
        read_secret("INNGEST_SIGNING_KEY", environ={}, env_file=path)
    message = str(info.value)
    assert "INNGEST_SIGNING_KEY" in message and str(path) in message
    assert "20 characters" in message and "19 without" in message
    assert "signkey-prod-abcdef" not in message
    with pytest.raises(InputError, match="the environment"):
        read_secret("CRON_SECRET", environ={"CRON_SECRET": " x123"}, env_file=None)
