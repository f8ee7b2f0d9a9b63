"""Where the team's real evidence lives: ``tests/fixtures/zrg`` (vendored, with its provenance
in ``tests/fixtures/README.md``). Tests that use it must find it: no skip."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zrg"
EXPORT = FIXTURES / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
CLI_LOGS = sorted((FIXTURES / "cli-logs").glob("*.jsonl"))
OPERATOR_ARTIFACTS = FIXTURES / "operator-artifacts"
