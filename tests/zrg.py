"""Where the team's real evidence lives: ``shared/fixtures/zrg`` beside the project root
(as laid out for developers and for CI). Tests that use it must find it: no skip."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "zrg"
EXPORT = FIXTURES / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
CLI_LOGS = sorted((FIXTURES / "cli-logs").glob("*.jsonl"))
OPERATOR_ARTIFACTS = FIXTURES / "operator-artifacts"
