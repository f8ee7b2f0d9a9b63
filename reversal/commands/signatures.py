"""`reversal signatures discover EXPORT...`: the failure families the catalogue does not know yet."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

_TEMPLATE_WIDTH = 110


def _one_line(text: str, width: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(discovery: Any) -> str:
    """Per route: counts, then each template with its catalogue signature (or ``new``)."""
    from reversal.evidence.files import utc_iso

    out = []
    for route in discovery.routes:
        if not route.templates:
            continue
        out.append(f"{route.route}: {route.failure_rows} failure rows ({route.rows_without_message} "
                   f"without a message), uncatalogued failure rows: {route.uncatalogued_rows}")
        for t in route.templates:
            out.append(f"  {t.rows:>6} rows {t.requests:>6} reqs  {utc_iso(t.first_ts_ms)[:16]}Z → "
                       f"{utc_iso(t.last_ts_ms)[:16]}Z  [{t.signature}]  family {t.family}")
            out.append(f"         template: {_one_line(t.template, _TEMPLATE_WIDTH)}")
            out.append(f"         example:  {_one_line(t.example, _TEMPLATE_WIDTH)}")
        out.append("")
    total = sum(r.uncatalogued_rows for r in discovery.routes)
    new = sorted({t.family for t in discovery.templates() if t.status != "covered"})
    out.append(f"{discovery.rows} rows read; uncatalogued failure rows: {total} in {len(new)} new famil"
               f"{'y' if len(new) == 1 else 'ies'}. `--format yaml` writes them as catalogue entries.")
    out.append("failure rows = 5xx, blank status or error level; rows are log lines, reqs distinct request "
               "ids; templates are mined with Drain after masking variables (see docs/attribute.md).")
    return "\n".join(out)


def render_yaml(entries: list[Any], inputs: tuple[str, ...]) -> str:
    """``signatures:`` entries to paste into reversal.yaml, each with what it matched as a comment."""
    import yaml

    out = [f"# reversal signatures discover {' '.join(inputs)}",
           f"# {len(entries)} signature(s); each regex re-matched its rows (one stored row per masked "
           "shape).",
           "signatures:"]
    for e in entries:
        ranked = sorted(e.routes.items(), key=lambda kv: (-kv[1], kv[0]))
        routes = ", ".join(f"{route} {n}" for route, n in ranked)
        out.append(f"  # {e.rows} rows: {routes}; re-matched {e.matched_rows}/{e.rows}; "
                   f"also matches {e.other_rows} rows of other templates")
        if e.dropped:
            out.append(f"  # left out ({len(e.dropped)} template(s) no regex re-matched): "
                       + "; ".join(_one_line(t, 80) for t in e.dropped))
        body = yaml.safe_dump({e.name: e.regex}, default_flow_style=False, allow_unicode=True, width=10**6)
        out.append("  " + body.rstrip("\n"))
    return "\n".join(out)


def run_discover(paths: list[Path], routes: tuple[str, ...], min_count: int, fmt: str,
                 config_path: Path | None, no_catalogue: bool) -> int:
    from reversal.config import load_config
    from reversal.logs.discover import catalogue_entries, discover_files
    from reversal.logs.signatures import build_catalogue

    config = load_config(config_path)
    catalogue = build_catalogue({}, builtin=False) if no_catalogue else config.catalogue()
    discovery = discover_files(paths, catalogue)
    if routes:
        discovery = discovery.only(routes)
    if fmt == "yaml":
        click.echo(render_yaml(catalogue_entries(discovery, min_count=min_count), discovery.inputs))
    elif fmt == "json":
        click.echo(json.dumps(discovery.at_least(min_count).to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(discovery.at_least(min_count)))
    return 0


@click.group(name="signatures")
def command() -> None:
    """Failure signatures: discover the families the catalogue does not cover yet."""


@command.command(name="discover")
@click.argument("exports", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--route", "routes", multiple=True, metavar="R", help="Only this route (repeatable).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Only templates (yaml: families) with at least this many rows.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text",
              show_default=True, help="Report, JSON (stable keys), or catalogue entries for reversal.yaml.")
@click.option("--no-catalogue", is_flag=True,
              help="Ignore the catalogue: every family is new (re-derive a whole catalogue).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="reversal.yaml to read signatures from (default: ./reversal.yaml).")
def discover(exports: tuple[Path, ...], routes: tuple[str, ...], min_count: int, fmt: str,
             no_catalogue: bool, config_path: Path | None) -> int:
    """Mine message templates from failure rows (5xx, blank status or error level) with Drain,
    per route, and name the catalogue signature covering each one, or `new`. Variables are
    masked; error codes and configured limits (`after 60 seconds`) are kept."""
    return run_discover(list(exports), routes, min_count, fmt, config_path, no_catalogue)
