"""Fuzzing: mutations of the team's real exports and CLI logs, of reversal.yaml and of
playbooks. Whatever the bytes, the only exception that may escape is the project's own
(``ReversalError``: exit 2 with a message), never a traceback. Deterministic (derandomized)
so CI is stable; the whole file runs in well under a minute."""

from __future__ import annotations

import contextlib
import copy
import gzip
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reversal.errors import ReversalError
from reversal.playbooks import BUILTIN_DIR
from tests.zrg import CLI_LOGS, EXPORT

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_names = itertools.count()

EXPORT_HEAD = json.dumps(json.loads(EXPORT.read_text(encoding="utf-8"))[:25]).encode()
NDJSON_HEAD = b"".join(CLI_LOGS[0].read_bytes().splitlines(keepends=True)[:25])
BOOK = yaml.safe_load((BUILTIN_DIR / "response-timing.yaml").read_text(encoding="utf-8"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["", "blank", "/api/cron/../inbox/x", "99999999999d", "nan",
                                           "GET", "DELETE", "CRON_SECRET", "0s", "-1"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """Byte-level mutations of real data: flips, deletions, insertions, splices, truncation."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "dup"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            out[at:at] = draw(st.sampled_from([b",", b"{", b"}", b"]", b"[", b'"', b"\\", b"\x00", b"-",
                                               b"99999999999999999999", b"\xff", b"\n", b"null", b'""']))
        elif kind == "truncate":
            del out[at:]
        else:
            out[at:at] = out[at : at + draw(st.integers(1, 200))]
    return bytes(out)


def _write(directory: Path, data: bytes, suffix: str = ".json") -> Path:
    path = directory / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return path


def _read_all(path: Path) -> None:
    from reversal.logs.attribution import attribute_files
    from reversal.logs.readers import read_records
    from reversal.logs.signatures import build_catalogue

    try:
        for record in read_records(path):
            assert record.ts_ms >= 0 and (record.status is None or -1 <= record.status <= 999)
        attribute_files([path], build_catalogue({}, origin="test"))
    except ReversalError:
        pass


@FUZZ
@given(data=mutated(EXPORT_HEAD))
def test_mutated_export(tmp_path: Path, data: bytes) -> None:
    _read_all(_write(tmp_path, data))


@FUZZ
@given(data=mutated(NDJSON_HEAD))
def test_mutated_ndjson(tmp_path: Path, data: bytes) -> None:
    _read_all(_write(tmp_path, data, ".jsonl"))


@settings(FUZZ, max_examples=40)
@given(data=mutated(gzip.compress(EXPORT_HEAD)))
def test_mutated_gzip_export(tmp_path: Path, data: bytes) -> None:
    _read_all(_write(tmp_path, data, ".json.gz"))


@FUZZ
@given(field=st.sampled_from(["requestPath", "timestampInMs", "responseStatusCode", "durationMs",
                              "requestId", "message"]), value=values, row=st.integers(0, 24))
def test_export_fields_of_any_type(tmp_path: Path, field: str, value: Any, row: int) -> None:
    rows = json.loads(EXPORT_HEAD)
    rows[row][field] = value
    _read_all(_write(tmp_path, json.dumps(rows).encode()))


def _leaves(node: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [prefix] + [p for k, v in node.items() for p in _leaves(v, (*prefix, k))]
    return [prefix]


BOOK_PATHS = [p for p in _leaves(BOOK) if p]


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(BOOK_PATHS), st.one_of(values, st.just("<delete>"))),
                      min_size=1, max_size=3))
def test_mutated_playbook(edits: list[tuple[tuple, Any]]) -> None:
    from reversal.playbooks import SCHEMA, parse_playbook

    book = copy.deepcopy(BOOK)
    for path, value in edits:
        node = book
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                break
            node = node[key]
        else:
            if value == "<delete>":
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    try:
        parsed = parse_playbook(book, "fuzz.yaml")
    except ReversalError:
        return
    gate = parsed.gate
    assert 0 < gate.min_drop <= 1 and 0 < gate.alpha < 0.5 and gate.burst.minutes >= 1
    assert not parsed.route.startswith("/api/inbox/") and ".." not in parsed.route
    assert parsed.probe is None or parsed.probe.method in ("GET", "POST")
    assert 0 < parsed.window_s <= 7 * 86400 and math.isfinite(parsed.durable.timeout_s)
    assert set(book) <= SCHEMA[""]


@FUZZ
@given(text=st.one_of(st.text(max_size=200), mutated((BUILTIN_DIR / "response-timing.yaml").read_bytes()).map(
    lambda b: b.decode("utf-8", "replace"))))
def test_playbook_yaml_text(text: str) -> None:
    from reversal.playbooks import parse_playbook
    from reversal.yamlfile import parse_yaml

    with contextlib.suppress(ReversalError):
        parse_playbook(parse_yaml(text, "fuzz.yaml"), "fuzz.yaml")


CONFIG_KEYS = ["project_id", "org_id", "app_url", "environment", "artifacts", "playbooks_dir", "secrets",
               "signatures", "env_file", "database_url_env", "vercel_api", "inngest_api", "projct_id"]


@FUZZ
@given(settings_=st.dictionaries(st.sampled_from(CONFIG_KEYS), values, max_size=4),
       raw=st.one_of(st.none(), st.text(max_size=120)))
def test_config(tmp_path: Path, settings_: dict[str, Any], raw: str | None) -> None:
    from reversal.config import load_config

    folder = tmp_path / f"c{next(_names)}"
    folder.mkdir()
    text = raw if raw is not None else yaml.safe_dump(settings_)
    (folder / "reversal.yaml").write_text(text, encoding="utf-8")
    try:
        config = load_config(environ={}, cwd=folder)
        config.load_playbooks()
        config.catalogue()
    except ReversalError:
        pass


@FUZZ
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"-?(now)?-?\d{1,25}(\.\d{1,5})?(ms|s|m|h|d)?",
                                                          fullmatch=True)),
       number=st.floats(allow_nan=True, allow_infinity=True))
def test_durations_and_instants(text: str, number: float) -> None:
    from reversal.durations import MAX_DURATION_S, check_seconds, parse_duration, parse_instant

    for parse in (lambda: parse_duration(text, "--x"), lambda: check_seconds(number, "--x")):
        try:
            seconds = parse()
        except ReversalError:
            continue
        assert 0 < seconds <= MAX_DURATION_S
    try:
        at = parse_instant(text, 1_771_384_000_000, "--since")
    except ReversalError:
        return
    assert 0 <= at < 4_102_444_800_000


@FUZZ
@given(password=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="'\"<>@/:"),
                        min_size=6, max_size=24),
       form=st.sampled_from(["postgresql://admin:{pw}@db.example:5432/ledger", "postgres//admin:{pw}@@h:p/db",
                             "admin:{pw}@host/db", "sqlite://admin:{pw}@/x", "postgresql://admin:{pw}@[::1:1/x",
                             "host=h port=1 user=admin password={pw} dbname=l",
                             "host=h password='{pw}' dbname=l", "DATABASE_URL=postgresql://a:{pw}@h/d"]))
def test_no_dsn_form_shows_its_password(password: str, form: str) -> None:
    from reversal.redact import describe_dsn, scrub

    dsn = form.format(pw=password)
    for shown in (scrub(f"cannot connect to {dsn}: refused"), describe_dsn(dsn)):
        assert password not in shown, shown


def test_fuzz_budget_is_small() -> None:
    """Keep the file under a minute in CI: no test above may raise its example count."""
    assert FUZZ.max_examples <= 60


pytestmark = pytest.mark.timeout(120)
