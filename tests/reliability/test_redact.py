"""The one redaction mechanism, unit by unit: shapes, known values, JSON structure, DSNs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reversal import redact
from reversal.redact import REDACTED, describe_dsn, scrub, scrub_obj

PW = "Pw-9f8e7d6c"


@pytest.fixture(autouse=True)
def _clean_registry():
    redact.reset()
    yield
    redact.reset()


@pytest.mark.parametrize("text", [
    f"host=127.0.0.1 port=1 user=admin password={PW} dbname=ledger",
    f"host=h password='{PW} with space' dbname=l",
    f"postgres//admin:{PW}@@h:p/db",
    f"admin:{PW}@host/db",
    f"sqlite://admin:{PW}@/x",
    f"postgresql://admin:{PW}@[::1:1/x",
    f"postgresql://admin:{PW}@db:5432/ledger?sslmode=require",
    f'connection to "postgresql://admin:{PW}@h/db" failed',
    f'{{"password": "{PW}"}}',
    f"DATABASE_URL=postgresql://admin:{PW}@h/db",
    f"CRON_SECRET={PW}",
    f"Authorization: Bearer {PW}",
    f"token={PW}&next=1",
])
def test_secret_shapes_are_scrubbed(text: str) -> None:
    assert PW not in scrub(text) and REDACTED in scrub(text)


@pytest.mark.parametrize("text", [
    "Set CRON_RESPONSE_TIMING_USE_INNGEST=true (read back exactly, 4 chars)",
    "dispatchKey cron:response-timing:2026-11-28T11:30; event id cron/x.requested:cron:rt:2026",
    "missing secret: CRON_SECRET; expected it in the environment",
    "GET https://app.example.com/api/cron/response-timing answered 202",
])
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_known_values_are_scrubbed_anywhere_with_their_stripped_form() -> None:
    redact.register_environ({"VERCEL_TOKEN": "tok-abcdef\n", "MY_SIGNING_KEY": "k-123456", "FLAG": "true"})
    assert scrub("a tok-abcdef b k-123456 c true") == f"a {REDACTED} b {REDACTED} c true"
    assert scrub("x", ["extra-secret"]) == "x" and scrub("extra-secret", ["extra-secret"]) == REDACTED


def test_dsn_passwords_in_environment_are_registered() -> None:
    redact.register_environ({"DATABASE_URL": f"postgresql://u:{PW}@h/db"})
    assert scrub(f"the value {PW} quoted alone") == f"the value {REDACTED} quoted alone"


def test_json_structure_is_kept_and_secret_keys_are_redacted() -> None:
    doc = {"password": "hunter2-long", "headers": {"authorization": "Bearer [REDACTED]"},
           "rows": [f"admin:{PW}@h", 5, None], "secrets": ["CRON_SECRET"], "tokenLength": 32}
    clean = scrub_obj(doc)
    assert clean == {"password": REDACTED, "headers": {"authorization": "Bearer [REDACTED]"},
                     "rows": [f"admin:{REDACTED}@h", 5, None], "secrets": ["CRON_SECRET"], "tokenLength": 32}
    json.dumps(clean)


@pytest.mark.parametrize(("dsn", "shown"), [
    (f"postgresql://admin:{PW}@db.example:5432/ledger?sslmode=require", "postgresql://db.example:5432/ledger"),
    (f"postgresql://admin:{PW}@[::1:1/x", "postgresql://<unparsable host>"),
    (f"sqlite://admin:{PW}@/x", "sqlite:///x"),
    (f"host=h port=1 user=admin password={PW} dbname=l", "host=h port=1 dbname=l"),
    (f"admin:{PW}@host/db", "<unparsable database URL>"),
])
def test_describe_dsn_never_shows_credentials_or_raises(dsn: str, shown: str) -> None:
    assert describe_dsn(dsn) == shown


def test_artifact_writers_scrub(tmp_path: Path) -> None:
    from reversal.evidence.files import write_json, write_text

    redact.register([PW])
    write_json(tmp_path / "a.json", {"error": f"connect failed with {PW}", "path": tmp_path})
    write_text(tmp_path / "a.md", f"- password={PW}\n")
    assert PW not in (tmp_path / "a.json").read_text() and PW not in (tmp_path / "a.md").read_text()
    assert json.loads((tmp_path / "a.json").read_text())["path"] == str(tmp_path)
