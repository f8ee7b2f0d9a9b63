"""`reversal run` against an in-process sandbox whose request-logs endpoint refuses the token:
preflight stops before any production change and names the other capture sources."""

from __future__ import annotations

import json

from tests.commands.helpers import run


def test_a_refused_request_logs_endpoint_stops_at_preflight_naming_the_alternatives(
        monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "run", "--route", "response-timing", "--sandbox", "--yes", "--json",
                         "--sandbox-knob", "request_logs=forbidden")
    summary = json.loads(out)
    assert code == 1 and summary["status"] == "stopped"
    reason = " ".join(summary["reasons"])
    assert "preflight refused (nothing changed)" in reason
    assert "HTTP 403" in reason and "--source export" in reason and "--source drain" in reason
    state = json.loads((tmp_path / "artifacts" / summary["iteration"] / "state.json").read_text())
    assert state["journal"] == [] and "flip" not in state["completed"]  # nothing was changed
