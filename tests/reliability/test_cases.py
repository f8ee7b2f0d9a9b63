"""Every case of the table, in-process unless it needs a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.cases import CASES
from tests.reliability.harness import Case, check


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_the_table_covers_every_command_and_family() -> None:
    from reversal.cli import COMMANDS

    assert len({c.id for c in CASES}) == len(CASES)
    commands = {c.argv[0] for c in CASES if c.argv}
    assert set(COMMANDS) <= commands, set(COMMANDS) - commands
    families = {c.family for c in CASES}
    assert {"inputs", "options", "config", "playbooks", "env", "state", "filesystem"} <= families
