"""The README walkthrough runs as written, against a served sandbox.

Every ``sh`` and ``console`` block of the README's Walkthrough section runs, in order, in one
bash process started in an empty folder whose ``.venv`` is this test's virtualenv, as a reader
would paste them. Each ``$ command`` of a console block must exit 0, and the sample lines under
it must appear in its output (stdout and stderr together), in order. Lines may be left out
(``...``); digits may differ (counts, times, p-values: they are compared as "a number"), and
``…`` in a sample line stands for anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@dataclass
class Command:
    line: str
    expected: list[str]


def walkthrough_blocks(text: str) -> list[tuple[str, str]]:
    section = text.split("\n## Walkthrough", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(sh|console)\n(.*?)^```", section, re.S | re.M)


def console_commands(body: str) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:], []))
        elif line.strip() and line.strip() != "...":
            commands[-1].expected.append(line)
    return commands


def _normal(line: str) -> str:
    return " ".join(NUMBER.sub("N", line).split())


def missing_lines(expected: list[str], output: str) -> list[str]:
    """Sample lines not found in ``output`` in order (numbers as numbers, ``…`` as anything)."""
    actual = [_normal(line) for line in output.splitlines()]
    at, missing = 0, []
    for line in expected:
        pattern = re.compile(re.escape(_normal(line)).replace("…", ".*"))
        found = next((i for i in range(at, len(actual)) if pattern.search(actual[i])), None)
        if found is None:
            missing.append(line)
        else:
            at = found + 1
    return missing


def test_the_matcher_accepts_other_numbers_and_rejects_other_words():
    out = "a\nresponse-timing   P0   PASS      12  -\nCaptured 9 rows\n"
    assert missing_lines(["response-timing P0 PASS 3 -", "Captured 1234 rows"], out) == []
    assert missing_lines(["Captured 1 rows", "response-timing P0 PASS 3 -"], out) == [
        "response-timing P0 PASS 3 -"]  # order matters
    assert missing_lines(["response-timing P0 FAIL 3 -"], out) != []
    assert missing_lines(["Captured … rows"], out) == []


def test_readme_walkthrough_runs_as_written(tmp_path):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").is_file() or not (venv / "bin" / "reversal").is_file():
        pytest.fail(f"run the tests from the project's virtualenv (scripts/test); {venv} has no "
                    "bin/activate and bin/reversal")
    (tmp_path / ".venv").symlink_to(venv)
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert [kind for kind, _ in blocks].count("console") >= 3
    script = ["set -u", "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    commands: list[Command] = []
    for kind, body in blocks:
        if kind == "sh":
            script.append(body)
            continue
        for command in console_commands(body):
            n = len(commands)
            commands.append(command)
            script.append(f"{{ {command.line}\n}} > out.{n} 2>&1; echo $? > rc.{n}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERCEL_", "REVERSAL_"))}
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env={**env, "NO_COLOR": "1"},
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    for n, command in enumerate(commands):
        output = (tmp_path / f"out.{n}").read_text()
        code = int((tmp_path / f"rc.{n}").read_text())
        assert code == 0, f"$ {command.line} exited {code}:\n{output[-3000:]}"
        assert missing_lines(command.expected, output) == [], f"$ {command.line}:\n{output}"
