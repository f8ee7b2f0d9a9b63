"""With --json, an error is one JSON document on stdout too (and the message on stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _reversal(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reversal", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})


def test_bad_input_with_json_is_a_json_document_on_stdout(tmp_path):
    result = _reversal("status", "no-such-iteration", "--json", cwd=tmp_path)
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "InputError" and error["exit_code"] == 2
    assert "no-such-iteration" in error["message"] and "no-such-iteration" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_too_and_nothing_on_stdout_without_json(tmp_path):
    usage = _reversal("status", "--bogus", "--json", cwd=tmp_path)
    assert usage.returncode == 2 and json.loads(usage.stdout)["error"]["kind"] == "UsageError"
    plain = _reversal("status", "no-such-iteration", cwd=tmp_path)
    assert plain.returncode == 2 and plain.stdout == ""
