"""`reversal attribute EXPORT...`: the migration matrix of one or more log files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

_STATUS_COLUMNS = 6  # most frequent status buckets shown in the terminal table
_SIGNATURES = "signatures (rows/requests)"


def _statuses_header(routes: list[dict[str, Any]]) -> list[str]:
    totals: dict[str, int] = {}
    for route in routes:
        for key, n in route["statuses"].items():
            totals[key] = totals.get(key, 0) + n
    return sorted(totals, key=lambda k: (-totals[k], k))[:_STATUS_COLUMNS]


def _signature_cell(route: dict[str, Any]) -> str:
    return ", ".join(f"{name} {c['rows']}r/{c['requests']}q" for name, c in sorted(
        route["signatures"].items(), key=lambda kv: (-kv[1]["rows"], kv[0])))


def _pct(route: dict[str, Any]) -> str:
    d = route["duration_ms"]
    if not d["count"]:
        return "-"
    return "/".join(f"{d[p]:g}" for p in ("p50", "p95", "p99"))


def _grid(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    routes = data["routes"]
    statuses = _statuses_header(routes)
    header = ["route", "elig", "rows", "reqs", *statuses, "fail", "ms p50/p95/p99", _SIGNATURES]
    body = [
        [r["route"], r["eligibility"], str(r["rows"]), str(r["requests"]),
         *(str(r["statuses"].get(s, "")) for s in statuses), str(r["failing_rows"]), _pct(r),
         _signature_cell(r)]
        for r in routes
    ]
    return header, body


def _summary(data: dict[str, Any]) -> list[str]:
    span = data["span"]
    lines = [
        f"{data['rows']} rows, {data['requests']} distinct requests, {len(data['routes'])} routes; "
        f"span {span['first_utc']} → {span['last_utc']} ({span['minutes']} min).",
        "rows = log lines; reqs = distinct request ids; fail = 5xx + blank-status rows; "
        "durations over durationMs > 0 (nearest rank).",
    ]
    return lines


def _uncatalogued(data: dict[str, Any]) -> list[str]:
    """Per route, the failure rows no signature names, and where to look next."""
    routes = sorted((r for r in data["routes"] if r["uncatalogued_failure_rows"]),
                    key=lambda r: (-r["uncatalogued_failure_rows"], r["route"]))
    if not routes:
        return []
    lines = [f"  {r['route']}: uncatalogued failure rows: {r['uncatalogued_failure_rows']}" for r in routes]
    return ["", "Failure rows (5xx, blank or error level) with a message that no signature matches:", *lines,
            "Run `reversal signatures discover EXPORT...` to mine their templates and get catalogue entries."]


def render_table(data: dict[str, Any], *, colour: bool) -> str:
    header, body = _grid(data)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    numeric = {i for i, h in enumerate(header) if h not in ("route", "elig", _SIGNATURES)}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    bold = (lambda s: click.style(s, bold=True)) if colour else (lambda s: s)
    out = [bold(line(header)), *(line(row) for row in body), "", *_summary(data)]
    if data["ranking"]:
        out += ["", bold("Failing routes, worst first (failing rows, then signature rows):")]
        out += [f"  {r['rank']}. {r['route']}  fail={r['failing_rows']} sig={r['signature_rows']} "
                f"top={r['top_signature'] or '-'}  [{r['eligibility']}]" for r in data["ranking"]]
    return "\n".join(out + _uncatalogued(data))


def render_markdown(data: dict[str, Any]) -> str:
    header, body = _grid(data)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") if c else " " for c in row) + " |" for row in body]
    out += ["", *_summary(data)]
    if data["ranking"]:
        out += ["", "| rank | route | failing rows | signature rows | top signature | eligibility |",
                "| ---: | --- | ---: | ---: | --- | --- |"]
        out += [f"| {r['rank']} | `{r['route']}` | {r['failing_rows']} | {r['signature_rows']} | "
                f"{r['top_signature'] or '-'} | {r['eligibility']} |" for r in data["ranking"]]
    return "\n".join(out + _uncatalogued(data))


def run_attribute(paths: list[Path], fmt: str, routes: tuple[str, ...], config_path: Path | None) -> int:
    """Compute and print the matrix; returns the exit code (0)."""
    from reversal.config import load_config
    from reversal.logs.attribution import attribute_files

    catalogue = load_config(config_path).catalogue()
    matrix = attribute_files(paths, catalogue)
    if routes:
        matrix = matrix.only(routes)
    data = matrix.to_json()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "md":
        click.echo(render_markdown(data))
    else:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(render_table(data, colour=colour))
    return 0


@click.command(name="attribute")
@click.argument("exports", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "md", "json"]), default="table",
              show_default=True, help="Terminal table, markdown, or JSON (stable keys).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--route", "routes", multiple=True, metavar="R",
              help="Only show this route (repeatable); totals still cover every input.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="reversal.yaml to read signatures from (default: ./reversal.yaml).")
def command(exports: tuple[Path, ...], fmt: str, as_json: bool, routes: tuple[str, ...],
            config_path: Path | None) -> int:
    """Migration matrix of log files (dashboard export, NDJSON, request-logs pages; format
    detected): per route, rows by status, distinct requests, signatures, durations,
    eligibility, and failing routes ranked. Several files are aggregated."""
    return run_attribute(list(exports), "json" if as_json else fmt, routes, config_path)
