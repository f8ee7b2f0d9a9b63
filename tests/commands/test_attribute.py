import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reversal.cli import cli
from tests.zrg import FIXTURES

EXPORT = FIXTURES / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
CLI_LOGS = sorted((FIXTURES / "cli-logs").glob("*.jsonl"))
REVERSAL = Path(sys.executable).parent / "reversal"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REVERSAL), *args], capture_output=True, text=True, timeout=120)


def test_json_output_has_the_documented_keys_and_known_answers(tmp_path):
    result = CliRunner().invoke(cli, ["attribute", "--format", "json", str(EXPORT)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"schema", "inputs", "rows", "requests", "span", "signatures", "routes", "ranking"}
    routes = {r["route"]: r for r in data["routes"]}
    assert set(routes["/api/webhooks/email"]) == {
        "route", "eligibility", "rows", "requests", "rows_without_request_id", "statuses", "failing_rows",
        "signature_rows", "uncatalogued_failure_rows", "signatures", "duration_ms"}
    assert routes["/api/inbox/conversations"]["signatures"]["timeout_300s"]["rows"] == 254
    assert routes["/api/webhooks/email"]["signatures"]["timeout_60s"]["rows"] == 198
    assert routes["/api/cron/response-timing"]["signatures"]["p2028"]["rows"] == 110
    assert routes["/api/webhooks/email"]["eligibility"] == "offload"


def test_route_filter_table_and_markdown():
    runner = CliRunner()
    table = runner.invoke(cli, ["attribute", str(EXPORT), "--route", "/api/cron/availability"])
    assert table.exit_code == 0
    assert "/api/cron/availability" in table.output
    assert "/api/webhooks/email  " not in table.output
    assert "\x1b[" not in table.output  # not a tty: no colour
    md = runner.invoke(cli, ["attribute", "--format", "md", str(EXPORT)])
    assert md.output.startswith("| route | elig | rows | reqs |")
    assert "| 1 | `/api/inbox/conversations` |" in md.output


def test_config_signatures_extend_the_catalogue(tmp_path):
    config = tmp_path / "reversal.yaml"
    config.write_text("signatures:\n  email_received: 'Received event: EMAIL_SENT'\n")
    result = CliRunner().invoke(cli, ["attribute", "--json", "--config", str(config), str(EXPORT)])
    data = json.loads(result.output)
    assert "email_received" in data["signatures"]
    routes = {r["route"]: r for r in data["routes"]}
    rows = json.loads(EXPORT.read_text())
    expected = sum(1 for row in rows if "Received event: EMAIL_SENT" in row["message"])
    assert routes["/api/webhooks/email"]["signatures"]["email_received"]["rows"] == expected > 0


def test_all_cli_logs_in_one_run():
    result = CliRunner().invoke(cli, ["attribute", "--json", *map(str, CLI_LOGS)])
    data = json.loads(result.output)
    expected = sum(1 for p in CLI_LOGS for line in p.read_text().splitlines() if line.startswith("{"))
    assert data["rows"] == expected
    assert len(data["inputs"]) == len(CLI_LOGS)


def test_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "export.csv"
    bad.write_text("TimeUTC,requestPath\n2026-02-17,/api/x\n")
    proc = _run("attribute", str(bad))
    assert proc.returncode == 2
    assert "looks like CSV" in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr
    truncated = tmp_path / "t.json"
    truncated.write_bytes(EXPORT.read_bytes()[:100000])
    proc = _run("attribute", str(truncated))
    assert proc.returncode == 2 and "truncated JSON at byte offset 100000" in proc.stderr


HEAVY = ("httpx", "msgspec", "psycopg", "jinja2", "yaml", "structlog", "duckdb")


@pytest.mark.parametrize("args", [["--help"], ["attribute", "--help"], ["run", "--help"]])
def test_help_loads_no_heavy_module(args):
    """What keeps `--help` fast (timed by the benchmark, not here): nothing heavy is imported."""
    code = (
        "import sys\nfrom reversal.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
