"""`reversal durable check|inngest`: did the dispatched work really run?

``check`` reads the run ledger and the webhook queue (read-only); ``inngest`` lists the
``inngest/function.failed`` events. A 202 or an ENQUEUED dispatch window never counts as
success here: only a terminal ``BackgroundFunctionRun`` row does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reversal.durations import check_seconds, parse_instant
from reversal.errors import EXIT_FAIL, EXIT_OK, EXIT_WAITING, InputError
from reversal.evidence.files import check_target
from reversal.playbooks import find_playbook
from reversal.ui import colour_enabled

DEFAULT_GROWTH_INTERVAL = "1m"


def _seconds(option: str, text: str) -> float:
    from reversal.durations import parse_duration

    return parse_duration(text, option)


def _check_dsn(dsn: str, variable: str) -> None:
    """A PostgreSQL URL must parse before the driver sees it (``[::1:1`` made psycopg fail
    with the whole URL in its message); the error shows it without the password."""
    from reversal.config import url_problem
    from reversal.redact import describe_dsn

    schemes = ("postgresql", "postgres")
    problem = dsn.startswith(tuple(f"{s}://" for s in schemes)) and url_problem(dsn, schemes)
    if problem:
        raise InputError(f"{variable} ({describe_dsn(dsn)}): not a valid PostgreSQL URL: {problem}; "
                         "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE.")


def _colour(text: str, ok: bool) -> str:
    return click.style(text, fg="green" if ok else "red", bold=True) if colour_enabled(sys.stdout) else text


def _emit(doc: dict[str, Any], lines: list[str], *, as_json: bool, out: Path | None) -> None:
    from reversal.evidence.files import write_json

    if out is not None:
        write_json(out, doc)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(lines))
    if out is not None:
        click.echo(f"evidence: {out}")


def _check_problems(report: Any, playbook: Any) -> list[str]:
    """What fails this slice's check: the one durable assessment the loop uses too."""
    from reversal.platform.durable import assess

    return list(assess(outcome=report.outcome, health=report.health, queue=report.queue,
                       growth=report.growth, function=report.function,
                       queue_name=playbook.durable.queue).problems)


def _render_check(report: Any, waiting: bool) -> list[str]:
    lines = [f"durable {report.slice} ({report.route}) on {report.database}"]
    if report.outcome is not None:
        o = report.outcome
        lines.append(f"  run {o.dispatch_key}: {o.outcome} after {o.waited_s:g}s, {o.polls} look(s)")
        lines.extend(f"    {r.status:<9} {r.functionName} run={r.runId} started={r.startedAt} "
                     f"finished={r.finishedAt} error={r.lastError}" for r in o.rows)
    if report.health is not None:
        bfr = report.health["backgroundFunctionRun"]
        counts = ", ".join(f"{c['status']} {c['count']}" for c in bfr["statusCountsLast6h"]) or "none"
        lines.append(f"  {report.function} last 6 h: {counts}")
        lines.extend(f"  warning: {p}" for p in report.health["problems"])
    if report.queue is not None:
        q = report.queue
        lines.append(f"  WebhookEvent: pendingDue {q['pendingDue']}, pendingFuture {q['pendingFuture']}, "
                     f"running {q['running']}, failedDue {q['failedDue']}, failed 24 h {q['failedLast24h']}")
    if report.growth is not None:
        lines.append(f"  queue growth: pendingDue {report.growth['pendingDueDelta']:+d} in "
                     f"{report.growth['intervalSeconds']:g}s")
    lines.append(_colour("OK" if report.ok else "WAITING" if waiting else "FAIL", report.ok))
    lines.extend(f"  - {p}" for p in report.problems)
    return lines


def run_check(
    *,
    slice_or_route: str,
    dispatch_key: str | None,
    wait: bool,
    timeout: str | None,
    growth_interval: str,
    poll_s: float,
    as_json: bool,
    out: Path | None,
    config_path: Path | None,
) -> int:
    """Read the ledger for one slice; 0 healthy, 1 failed, 3 not terminal yet (``--no-wait``)."""
    from reversal.clock import clock_from_env
    from reversal.config import load_config
    from reversal.platform.durable import (
        DurableReport,
        Ledger,
        health_snapshot,
        queue_growth,
        queue_snapshot,
        wait_terminal,
    )

    check_seconds(poll_s, "--poll", maximum=3600)
    if timeout:
        _seconds("--timeout", timeout)
    check_target(out)
    config = load_config(config_path)
    playbook = find_playbook(config.load_playbooks(), slice_or_route)
    dsn = config.database_url
    if not dsn:
        raise InputError(
            f"{config.database_url_env} is not set: the durable check reads the run ledger "
            "(BackgroundFunctionRun, WebhookEvent) from that database URL."
        )
    _check_dsn(dsn, config.database_url_env)
    timeout_s = _seconds("--timeout", timeout) if timeout else playbook.durable.timeout_s
    growth_s = _seconds("--growth-interval", growth_interval)
    clock = clock_from_env(config.environ)
    function = playbook.durable.function

    def progress(state: str, elapsed: float) -> None:
        if not as_json:
            click.echo(f"waiting for {dispatch_key}: {state} after {elapsed:.0f}s", err=True)

    with Ledger.connect(dsn) as ledger:
        outcome = None
        if dispatch_key:
            outcome = wait_terminal(
                ledger, function=function, dispatch_key=dispatch_key, clock=clock,
                timeout_s=timeout_s if wait else 0, poll_s=poll_s, on_poll=progress,
            )
        health = health_snapshot(ledger, function=function, now_ms=clock.now_ms()) if function else None
        queue = queue_snapshot(ledger, now_ms=clock.now_ms())
        growth = None
        if playbook.durable.queue and wait:
            clock.sleep(min(growth_s, timeout_s))
            after = queue_snapshot(ledger, now_ms=clock.now_ms())
            growth, queue = queue_growth(queue, after), after
        report = DurableReport(
            captured_at_ms=clock.now_ms(), slice=playbook.slice, route=playbook.route,
            database=ledger.described, function=function, dispatch_key=dispatch_key,
            event_id=f"{playbook.durable.event}:{dispatch_key}" if dispatch_key and playbook.durable.event
            else None,
            outcome=outcome, health=health, queue=queue, growth=growth,
        )
    report.problems = _check_problems(report, playbook)
    waiting = outcome is not None and not wait and outcome.outcome in ("timeout", "missing")
    _emit({**report.to_json(), "waiting": waiting}, _render_check(report, waiting), as_json=as_json, out=out)
    if waiting:
        click.echo(f"reversal: run for {dispatch_key} is not terminal yet; check again later.", err=True)
        return EXIT_WAITING
    return EXIT_OK if report.ok else EXIT_FAIL


def run_inngest(*, since: str, until: str | None, as_json: bool, out: Path | None,
                config_path: Path | None) -> int:
    """List Inngest function failures; 1 when any failed with ``Invalid signature``."""
    from reversal.clock import clock_from_env
    from reversal.config import load_config
    from reversal.platform.inngest import InngestClient

    check_target(out)
    config = load_config(config_path)
    key = config.environ.get("INNGEST_SIGNING_KEY")  # raw: its whitespace is reported, not refused
    if not key or not key.strip():
        raise InputError(
            "INNGEST_SIGNING_KEY is not set: the Inngest events API is read with the environment's "
            "signing key (signkey-prod-…)."
        )
    clock = clock_from_env(config.environ)
    now = clock.now_ms()
    since_ms = parse_instant(since, now, "--since")
    until_ms = parse_instant(until, now, "--until") if until else None
    if until_ms is not None and until_ms <= since_ms:
        raise InputError(f"--until {until!r} must be later than --since {since!r}.")
    with InngestClient(key, base_url=config.inngest_api, clock_ms=clock.now_ms) as client:
        failures = client.failed_functions(since_ms, until_ms)
        shape = client.key_shape.as_json()
    doc = {**failures.to_json(), "signingKey": shape}
    ok = failures.invalid_signature_failures == 0
    lines = [
        f"Inngest function failures since {doc['windowStartUtc']}: {doc['functionFailedEvents']} "
        f"({doc['invalidSignatureFailures']} Invalid signature) of {doc['totalEventsFetched']} events",
        *(f"  {n:>4}  {group}" for group, n in doc["groupedByFunctionAndEvent"].items()),
    ]
    if shape["hasLeadingOrTrailingWhitespace"]:
        lines.append("  warning: the local INNGEST_SIGNING_KEY has surrounding whitespace")
    notes = list(doc["notes"])
    if not doc["failedEventsVisible"]:  # never "no failures" where none could be seen: exit 3
        lines[0] = f"Inngest function failures since {doc['windowStartUtc']}: {notes.pop(0)}"
        lines += [f"  note: {n}" for n in notes]
        _emit(doc, [*lines, "NOT VISIBLE: no verdict on Invalid signature failures from this API"],
              as_json=as_json, out=out)
        return EXIT_WAITING
    lines += [f"  note: {n}" for n in notes]
    lines.append(_colour("OK" if ok else "FAIL: Invalid signature — check INNGEST_SIGNING_KEY in the "
                         "deployment (trailing newline?)", ok))
    _emit(doc, lines, as_json=as_json, out=out)
    return EXIT_OK if ok else EXIT_FAIL


_CONFIG = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                       help="reversal.yaml (default: ./reversal.yaml).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
_OUT = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                    help="Also write the JSON document to this file (atomically).")


@click.group(name="durable")
def command() -> None:
    """Durable-execution health: run ledger, queue, Inngest failures."""


@command.command(name="check")
@click.option("--route", "slice_or_route", required=True, metavar="SLICE",
              help="Slice name (or route path); its playbook names the function and queue.")
@click.option("--dispatch-key", metavar="K", help="Wait for the run of this dispatch key to be terminal.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait (bounded) for a terminal run; --no-wait looks once and exits 3 if not terminal.")
@click.option("--timeout", metavar="DURATION", help="Longest wait (default: the playbook's durable.timeout).")
@click.option("--growth-interval", default=DEFAULT_GROWTH_INTERVAL, show_default=True, metavar="DURATION",
              help="Queue slices: time between the two WebhookEvent snapshots compared for growth.")
@click.option("--poll", "poll_s", type=float, default=2, show_default=True, help="Seconds between looks.")
@_JSON
@_OUT
@_CONFIG
def check(slice_or_route: str, dispatch_key: str | None, wait: bool, timeout: str | None,
          growth_interval: str, poll_s: float, as_json: bool, out: Path | None,
          config_path: Path | None) -> int:
    """Read the run ledger (DATABASE_URL, read-only): the run for a dispatch key reaching
    SUCCEEDED, stuck RUNNING and FAILED runs, 6 h status counts, and the WebhookEvent queue.
    Exit 0 healthy, 1 failed / timed out / missing, 3 not terminal yet with --no-wait."""
    return run_check(slice_or_route=slice_or_route, dispatch_key=dispatch_key, wait=wait, timeout=timeout,
                     growth_interval=growth_interval, poll_s=poll_s, as_json=as_json, out=out,
                     config_path=config_path)


@command.command(name="inngest")
@click.option("--since", required=True, metavar="T", help="Start: a duration ago (30m, 6h) or ISO time.")
@click.option("--until", metavar="T", help="End (default: now): a duration ago or ISO time.")
@_JSON
@_OUT
@_CONFIG
def inngest(since: str, until: str | None, as_json: bool, out: Path | None, config_path: Path | None) -> int:
    """List inngest/function.failed events (INNGEST_SIGNING_KEY, REVERSAL_INNGEST_API), grouped
    by function and source event; exit 1 when any failed with Invalid signature."""
    return run_inngest(since=since, until=until, as_json=as_json, out=out, config_path=config_path)
