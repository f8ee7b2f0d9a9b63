"""``reversal capture``: one request-log window as an export + meta file, from the request-logs
API (``--source api``), a dashboard export or a Log Drain file (``--source export|drain --file``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from reversal.durations import parse_instant
from reversal.errors import EXIT_OK, InputError
from reversal.evidence.files import check_target


def _slug(route: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (route or "all").lower()).strip("-") or "root"


def _summary(meta) -> str:
    data = meta.as_json()
    filters = f"environment {meta.environment}" + (f", route {meta.route}" if meta.route else "")
    dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.dropped.items() if v)
    lines = [
        f"Captured {meta.rows} rows ({meta.requests} requests) from {data['window']['since']} "
        f"to {data['window']['until']} ({filters}).",
        f"  export:      {meta.path}",
        f"  meta:        {meta.meta_path}",
        f"  sha256:      {meta.sha256}",
        f"  deployments: {', '.join(meta.deployment_ids) or 'none seen'}",
    ]
    if dropped:
        lines.append(f"  dropped:     {dropped}")
    return "\n".join(lines)


def run_capture(
    *,
    since: str,
    until: str,
    route: str | None,
    environment: str | None,
    out: Path | None,
    as_json: bool,
    config_path: Path | None,
    source: str = "api",
    source_file: Path | None = None,
) -> int:
    from reversal.clock import clock_from_env
    from reversal.config import load_config
    from reversal.evidence.files import utc_stamp
    from reversal.platform.capture import capture
    from reversal.platform.vercel import VercelClient

    check_target(out)
    config = load_config(config_path)
    clock = clock_from_env(config.environ)
    now = clock.now_ms()
    since_ms, until_ms = parse_instant(since, now, "--since"), parse_instant(until, now, "--until")
    if since_ms >= until_ms:
        raise InputError(f"--since ({since}) must be earlier than --until ({until}).")
    environment = environment or config.environment
    out = out or config.artifacts / f"capture-{_slug(route)}-logs-{utc_stamp(since_ms)}.json"
    if source_file is not None and source == "api":
        raise InputError("--file is read with --source export or --source drain, not --source api.")
    window = dict(source=source, source_file=source_file, since_ms=since_ms, until_ms=until_ms,
                  environment=environment, route=route, out=out, clock=clock)
    if source == "api":
        with VercelClient.from_config(config) as client:
            meta = capture(client, project_id=client.project_id, **window)  # type: ignore[arg-type]
    else:
        meta = capture(None, project_id=config.project_id or "", **window)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps({**meta.as_json(), "export": str(meta.path),
                               "meta": str(meta.meta_path)}))
    else:
        click.echo(_summary(meta))
    return EXIT_OK


@click.command("capture")
@click.option("--since", required=True, help="Window start: ISO-8601 UTC, 'now' or relative (-30m).")
@click.option("--until", default="now", show_default=True, help="Window end, same forms as --since.")
@click.option("--route", default=None, help="Keep only this route (host and query ignored).")
@click.option("--environment", default=None, help="production or preview (default: from config).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Export file (default: artifacts/capture-<route>-logs-<since>.json).")
@click.option("--source", type=click.Choice(["api", "export", "drain"]), default="api", show_default=True,
              help="api: Vercel's request-logs API; export / drain: a dashboard export or Log Drain "
                   "file given with --file.")
@click.option("--file", "source_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="The export or drain file (--source export|drain).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def command(since, until, route, environment, out, source, source_file, as_json, config_path) -> int:
    """Capture a request-log window as a dashboard-shaped export plus a meta file."""
    return run_capture(since=since, until=until, route=route, environment=environment, out=out,
                       as_json=as_json, config_path=config_path, source=source, source_file=source_file)
