import json
import re
import subprocess
import sys

import yaml
from click.testing import CliRunner

from reversal.cli import cli
from tests.zrg import EXPORT

HEAVY = ("drain3", "yaml", "msgspec")


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["signatures", "discover", *args])


def test_text_report_names_the_covering_signature_or_new():
    result = _invoke(str(EXPORT), "--min-count", "5")
    assert result.exit_code == 0, result.output
    out = result.output
    block = out.split("/api/webhooks/email:", 1)[1]
    assert "uncatalogued failure rows:" in block.splitlines()[0]
    assert "[timeout_60s]  family timeout_60s" in block
    assert re.search(r"\[new\]  family inboxxia_webhook", block)
    assert "template: Vercel Runtime Timeout Error: Task timed out after 60 seconds" in block
    rows = [int(n) for n in re.findall(r"^\s+(\d+) rows", out, re.M)]
    assert rows and min(rows) >= 5


def test_json_has_stable_keys_and_route_filter():
    result = _invoke(str(EXPORT), "--format", "json", "--route", "/api/cron/response-timing")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == "reversal.discover/1"
    assert [r["route"] for r in data["routes"]] == ["/api/cron/response-timing"]
    route = data["routes"][0]
    assert set(route) == {"route", "failure_rows", "rows_without_message", "uncatalogued_failure_rows",
                          "templates"}
    template = route["templates"][0]
    assert set(template) == {"family", "key", "template", "rows", "requests", "first_utc", "last_utc",
                             "first_ts_ms", "last_ts_ms", "example", "catalogue", "uncatalogued_rows"}
    assert template["catalogue"]["status"] == "covered" and "p2028" in template["catalogue"]["signature"]
    assert sum(t["rows"] for t in route["templates"] if t["family"] == "p2028") == 110


def test_yaml_pasted_into_reversal_yaml_reproduces_the_known_answers(tmp_path):
    # --min-count applies to whole families: p2028's 1-row template on response-timing stays in
    result = _invoke(str(EXPORT), "--format", "yaml", "--no-catalogue", "--min-count", "100")
    assert result.exit_code == 0, result.output
    entries = yaml.safe_load(result.output)["signatures"]
    assert {"timeout_300s", "timeout_60s", "p2028"} <= set(entries)
    assert all(re.compile(regex).pattern.startswith("^") for regex in entries.values())
    config = tmp_path / "reversal.yaml"
    config.write_text(result.output)
    matrix = CliRunner().invoke(cli, ["attribute", "--json", "--config", str(config), str(EXPORT)])
    routes = {r["route"]: r["signatures"] for r in json.loads(matrix.output)["routes"]}
    assert routes["/api/inbox/conversations"]["timeout_300s"]["rows"] == 254
    assert routes["/api/webhooks/email"]["timeout_60s"]["rows"] == 198
    assert routes["/api/cron/response-timing"]["p2028"]["rows"] == 110
    assert routes["/api/cron/availability"]["timeout_60s"]["rows"] == 1


def test_yaml_with_the_catalogue_holds_only_new_families():
    result = _invoke(str(EXPORT), "--format", "yaml")
    entries = yaml.safe_load(result.output)["signatures"]
    assert entries and not {"timeout_300s", "timeout_60s", "p2028"} & set(entries)
    assert "# " in result.output and "re-matched" in result.output


def test_attribute_points_to_discover():
    result = CliRunner().invoke(cli, ["attribute", str(EXPORT)])
    assert "/api/webhooks/email: uncatalogued failure rows: " in result.output
    assert "reversal signatures discover" in result.output


def test_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "logs.csv"
    bad.write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "reversal", "signatures", "discover", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "looks like CSV" in proc.stderr and "Traceback" not in proc.stderr


def test_help_loads_no_heavy_module():
    code = ("import sys\nfrom reversal.cli import main\n"
            "try:\n    main(['signatures', 'discover', '--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--min-count" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"
