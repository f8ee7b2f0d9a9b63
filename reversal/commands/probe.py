"""`reversal probe --route SLICE`: check a route's dispatch-only or inline contract, auth intact."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reversal.durations import check_seconds
from reversal.errors import InputError
from reversal.evidence.files import check_target
from reversal.playbooks import find_playbook
from reversal.ui import colour_enabled


def _colour(text: str, ok: bool) -> str:
    return click.style(text, fg="green" if ok else "red", bold=True) if colour_enabled(sys.stdout) else text


def _render(result: Any, slice_name: str) -> str:
    lines = [f"probe {slice_name} (expect {result.expect}) {result.url}"]
    if result.status is not None:
        detail = ""
        if result.dispatch_key:
            detail = f"  dispatchKey={result.dispatch_key}"
        if result.event_id:
            detail += f"  eventId={result.event_id}"
        lines.append(f"  authorized:      {result.status}{detail}")
    if result.unauthorized_status is not None:
        lines.append(f"  unauthenticated: {result.unauthorized_status}")
    lines.append(_colour("PASS" if result.ok else "FAIL", result.ok))
    lines.extend(f"  - {problem}" for problem in result.problems)
    return "\n".join(lines)


def _app_url(url: str | None) -> str:
    """The base URL to probe: http(s), with a host that parses (``http://[::1`` does not)."""
    from reversal.config import url_problem

    if not url:
        raise InputError(
            "no app URL to probe: pass --app-url, set REVERSAL_APP_URL, or app_url in reversal.yaml."
        )
    problem = url_problem(url, ("http", "https"))
    if problem:
        raise InputError(f"app URL {url!r} (--app-url, REVERSAL_APP_URL or app_url) is not an absolute "
                         f"http(s) URL with a valid host: {problem}; expected e.g. https://your-app.vercel.app.")
    return url


def run_probe(
    *,
    slice_or_route: str,
    expect: str,
    app_url: str | None,
    as_json: bool,
    out: Path | None,
    config_path: Path | None,
    timeout_s: float,
) -> int:
    """Probe the slice's route once; print the result; exit 0 when every check held, else 1."""
    import httpx

    from reversal.clock import clock_from_env
    from reversal.config import load_config
    from reversal.platform.probe import probe_route, write_probe_artifact

    check_seconds(timeout_s, "--timeout", maximum=3600)
    check_target(out)
    config = load_config(config_path)
    playbook = find_playbook(config.load_playbooks(), slice_or_route)
    base = _app_url(app_url or config.app_url)
    secret_name = (playbook.probe.bearer_env if playbook.probe else None) or "CRON_SECRET"
    secret = config.secret(secret_name)  # env var, else the env file
    with httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10)) as http:
        result = probe_route(
            http=http, app_url=base, playbook=playbook, expect=expect,  # type: ignore[arg-type]
            secret=secret, clock=clock_from_env(config.environ),
        )
    if out is not None:
        write_probe_artifact(result, out)
    if as_json:
        click.echo(json.dumps({"slice": playbook.slice, "route": playbook.route, **result.to_json()},
                              indent=2, ensure_ascii=False))
    else:
        click.echo(_render(result, playbook.slice))
        if out is not None:
            click.echo(f"evidence: {out}")
    return 0 if result.ok else 1


@click.command(name="probe")
@click.option("--route", "slice_or_route", required=True, metavar="SLICE",
              help="Slice name (or its route path) whose playbook says what to expect.")
@click.option("--expect", type=click.Choice(["dispatch", "inline"]), default="dispatch", show_default=True,
              help="dispatch: 202 dispatch-only contract; inline: the route runs synchronously (rollback).")
@click.option("--app-url", metavar="URL", help="The app's base URL (default: REVERSAL_APP_URL / app_url).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the probe evidence (request, status, headers, body; secrets redacted).")
@click.option("--timeout", "timeout_s", type=float, default=120, show_default=True,
              help="Seconds to wait for each response (an inline run can take a minute).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="reversal.yaml (default: ./reversal.yaml).")
def command(slice_or_route: str, expect: str, app_url: str | None, as_json: bool, out: Path | None,
            timeout_s: float, config_path: Path | None) -> int:
    """Probe a route with the bearer secret (CRON_SECRET) and check the playbook's contract:
    status, JSON fields, deterministic dispatchKey and event id; then check that a request
    without the secret still gets 401. Redirects are reported as URL problems, not followed.
    Exit 0 when every check held, 1 otherwise."""
    return run_probe(slice_or_route=slice_or_route, expect=expect, app_url=app_url, as_json=as_json,
                     out=out, config_path=config_path, timeout_s=timeout_s)
