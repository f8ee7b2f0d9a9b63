"""Contracts of issue 13 whose fixes belong to the core engineer's rewrite of run/resume/
rollback/status: pinned here as the operator sees them (exit code, message, files), so the
rewrite keeps them."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.builders import ITERATION, packet
from tests.reliability.harness import BASE_ENV, Case, check, invoke


def test_accept_and_extend_together_are_refused(tmp_path: Path) -> None:
    argv = ("resume", ITERATION, "--accept", "ok", "--extend", "5m")
    check(Case("accept-and-extend", "state", argv, 2, ("--accept", "--extend"),
               setup=packet(verdict="INCONCLUSIVE", status="inconclusive")), tmp_path)


def test_accept_text_cannot_inject_markdown(tmp_path: Path) -> None:
    packet(verdict="INCONCLUSIVE", status="inconclusive")(tmp_path)
    result = invoke(["resume", ITERATION, "--accept", "looks fine\n## Injected heading\n- fake event"],
                    BASE_ENV, tmp_path)
    assert result.code == 0, result
    timeline = (tmp_path / "artifacts" / ITERATION / "timeline.md").read_text(encoding="utf-8")
    assert "looks fine" in timeline
    assert not any(line.startswith(("## Injected", "- fake event")) for line in timeline.splitlines())


def test_a_refused_extension_leaves_the_iteration_loadable(tmp_path: Path) -> None:
    """`resume --extend 99999999999d` once bricked the iteration: now it is refused first, and the
    same iteration still resumes and verifies."""
    argv = ("resume", ITERATION, "--extend", "99999999999d")
    check(Case("extend-huge", "state", argv, 2, ("99999999999d",),
               setup=packet(verdict="INCONCLUSIVE", status="inconclusive")), tmp_path)
    assert invoke(["verify", ITERATION], BASE_ENV, tmp_path).code == 0
    assert invoke(["status", ITERATION], BASE_ENV, tmp_path).code == 0
    assert invoke(["resume", ITERATION, "--accept", "reviewed"], BASE_ENV, tmp_path).code == 0
