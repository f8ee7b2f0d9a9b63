"""Decisions the steps make: preflight, exports, attribution and comparison of windows.

``preflight``, ``rollback_choice`` and ``export_request`` are pure; the others read the window files they are
given (and ``read_vercel_crons`` reads ``vercel.json``) but change nothing. The steps in
``machine.py`` do the platform I/O around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reversal.errors import InputError
from reversal.evidence.files import utc_iso
from reversal.playbooks import Playbook


def preflight(book: Playbook, values: Mapping[str, str | None], unreadable: set[str], *,
              secrets: tuple[str, ...], passed: set[str], production: Mapping[str, Any],
              vercel_json: dict[str, Any], readiness: list[str] = ()) -> dict[str, Any]:
    """Everything that must hold before the first production change; shapes, never values.
    ``readiness``: what the platform port found missing (secret, ledger, capture source)."""
    from reversal.platform.envaudit import audit

    problems = []
    missing = missing_after(book, passed)
    if missing:
        problems.append(
            f"slice {book.slice} runs only after {', '.join(missing)} PASSed "
            f"({book.priority} after P0)"
        )
    keys = list(dict.fromkeys([*secrets, book.flag.name, *book.must_be_off]))
    checks = audit(values, [book], secrets, keys=keys, unreadable=unreadable)
    problems += [f"{c.key}: {c.reason}" for c in checks if not c.ok]
    if production.get("state", "READY") != "READY":
        problems.append(f"production deployment {production.get('id')} is not READY")
    problems += readiness
    return {"ok": not problems, "problems": problems, "checks": [c.as_json() for c in checks],
            "crons": vercel_json, "production": dict(production), "slice": book.slice,
            "route": book.route}


def rollback_choice(setting: str, production_id: str, candidate: bool | None) -> dict[str, Any]:
    """How a standard iteration's FAIL will be undone, decided before any change: Instant Rollback
    to ``production_id`` (the deployment serving production now, the known-good one), unless the
    playbook says ``rollback_mode: rebuild`` or Vercel's deployments list says it cannot be rolled
    back to (``isRollbackCandidate`` false). ``candidate`` None: Vercel did not say. Instant
    Rollback is on every plan; Hobby rolls back to the previous production deployment only, which
    the known-good one is after the flip's single build. A refusal at rollback time still falls
    back to the rebuild (docs/canary.md)."""
    if setting == "rebuild":
        return {"mode": "rebuild", "target": None, "why": "the playbook says rollback_mode: rebuild"}
    if candidate is False:
        return {"mode": "rebuild", "target": None,
                "why": f"Vercel does not list {production_id} as an Instant Rollback candidate "
                       "(isRollbackCandidate false)"}
    unsure = "" if candidate else "; Vercel did not say whether it is a rollback candidate"
    return {"mode": "instant", "target": production_id,
            "why": f"Instant Rollback to {production_id}, the deployment serving production before the "
                   f"change{unsure}; a refusal falls back to the rebuild"}


def missing_after(book: Playbook, passed: set[str]) -> list[str]:
    """The slices of ``after:`` that have not PASSed on this platform (the one ordering rule)."""
    return [a for a in book.after if a not in passed]


def read_vercel_crons(root: Path | None) -> dict[str, Any]:
    """The cron schedules of ``vercel.json``: recorded so a change to them is visible."""
    from reversal.crons import read_vercel_json

    return read_vercel_json(root)


def export_request(state: Any, step: str, since_ms: int, until_ms: int) -> dict[str, Any]:
    """What the operator must attach for a window: a dashboard export (source=export) or the
    Log Drain file that covers it (source=drain)."""
    span = f"from {utc_iso(since_ms)} to {utc_iso(until_ms)} UTC"
    what = (f"the Log Drain file (JSON or NDJSON) that covers the {step} window {span}"
            if state.source == "drain" else
            f"the Vercel dashboard export of the {step} window: Logs → filter environment=production, "
            f"all routes (barometers included), {span}")
    return {
        "reason": (
            f"attach {what}; then run 'reversal resume {state.iteration} --export FILE' (or "
            f"'--source api' to capture it through the request-logs API instead)."
        ),
        "window": {"since": utc_iso(since_ms), "until": utc_iso(until_ms),
                   "since_ms": since_ms, "until_ms": until_ms},
        "filters": {"environment": "production", "route": None},
    }


def validate_export(path: Path, since_ms: int, until_ms: int,
                    deployment_id: str | None) -> dict[str, Any]:
    """An attached export must cover the window and (post) come from the new deployment."""
    from reversal.logs.readers import read_records

    first = last = None
    rows = 0
    deployments: set[str] = set()
    environments: set[str] = set()
    for record in read_records(path):
        rows += 1
        first = record.ts_ms if first is None else min(first, record.ts_ms)
        last = record.ts_ms if last is None else max(last, record.ts_ms)
        if record.deployment_id:
            deployments.add(record.deployment_id)
        if record.environment:
            environments.add(record.environment)
    problems = []
    slack = 120_000  # exports round to the minute; sparse traffic leaves edges empty
    if not rows:
        problems.append("it holds no rows")
    else:
        if first > since_ms + slack or last < until_ms - slack:
            problems.append(
                f"it covers {utc_iso(first)} → {utc_iso(last)}, not the window "
                f"{utc_iso(since_ms)} → {utc_iso(until_ms)}"
            )
        if environments - {"production"}:
            problems.append(f"it mixes environments {sorted(environments)}; filter production only")
        if deployment_id and deployment_id not in deployments:
            problems.append(f"it has no rows from the expected deployment {deployment_id}")
    if problems:
        raise InputError(f"{path}: the attached export does not match: {'; '.join(problems)}.")
    return {"source": "dashboard-export", "file": path.name, "rows": rows,
            "window": {"since_ms": since_ms, "until_ms": until_ms, "since": utc_iso(since_ms),
                       "until": utc_iso(until_ms)},
            "filters": {"environment": "production", "route": None},
            "deployment_ids_seen": sorted(deployments)}


def _target_counts(path: Path, books: list[Playbook], catalogue) -> dict[str, tuple[int, int, bool]]:
    """Per slice: target failure rows, distinct requests, and whether every row had an id.

    One pass over the file, whatever the number of slices.
    """
    from reversal.logs.readers import read_records

    by_route: dict[str, list[Playbook]] = {}
    for book in books:
        by_route.setdefault(book.route, []).append(book)
    rows = dict.fromkeys((b.slice for b in books), 0)
    requests: dict[str, set[str]] = {b.slice: set() for b in books}
    complete = dict.fromkeys((b.slice for b in books), True)
    for record in read_records(path):
        for book in by_route.get(record.route, ()):
            names = catalogue.match(record.message)
            if record.status in book.target.statuses or any(
                n in book.target.signatures for n in names
            ):
                rows[book.slice] += 1
                if record.request_id:
                    requests[book.slice].add(record.request_id)
                else:
                    complete[book.slice] = False
    return {s: (rows[s], len(requests[s]), complete[s]) for s in rows}


def attribute_baseline(path: Path, book: Playbook, catalogue) -> dict[str, Any]:
    """The baseline matrix, and whether the slice's route carries its target failures."""
    from reversal.logs.attribution import attribute_files

    matrix = attribute_files([path], catalogue)
    rows, requests, ids_complete = _target_counts(path, [book], catalogue)[book.slice]
    unit, count = ("requests", requests) if ids_complete and rows else ("rows", rows)
    ranking = matrix.ranking()
    rank = next((i for i, r in enumerate(ranking, 1) if r.route == book.route), None)
    lines = [
        f"# Attribution — {book.slice}", "",
        f"- Window file: `{path.name}`",
        f"- Target route: `{book.route}`; target statuses "
        f"{[s if s is not None else 'blank' for s in book.target.statuses]}, signatures "
        f"{list(book.target.signatures)}",
        f"- Target failures: {rows} rows, {requests} distinct requests",
        f"- Rank among failing routes: {rank if rank else 'not failing'}", "",
        "| rank | route | eligibility | failing rows | signature rows |",
        "| ---: | --- | --- | ---: | ---: |",
        *(f"| {i} | `{r.route}` | {r.eligibility} | {r.failing_rows} | {r.signature_rows} |"
          for i, r in enumerate(ranking[:15], 1)),
    ]
    return {"matrix": {**matrix.to_json(), "target": {"route": book.route, "rows": rows,
                                                      "requests": requests}},
            "markdown": "\n".join(lines) + "\n", "target_failures": count, "unit": unit,
            "rank": rank}


def target_failures(exports: tuple[Path, ...], books: Mapping[str, Playbook],
                    catalogue) -> dict[str, int]:
    """Per slice, target failure rows in the given exports (to rank what to run next)."""
    totals = dict.fromkeys(books, 0)
    for path in exports:
        for name, counts in _target_counts(path, list(books.values()), catalogue).items():
            totals[name] += counts[0]
    return totals


def compare_windows(baseline: Path, post: Path, book: Playbook, catalogue,
                    baseline_window: Mapping[str, int], post_window: Mapping[str, int]
                    ) -> dict[str, Any]:
    """The gate's verdict on the matched windows, with every reason and number."""
    from reversal.logs.compare import Span, compare, render_markdown
    from reversal.logs.readers import read_records

    result = compare(
        read_records(baseline), read_records(post), catalogue=catalogue, route=book.route,
        statuses=book.target.statuses, signatures=book.target.signatures, gate=book.gate,
        baseline_span=Span(baseline_window["since_ms"], baseline_window["until_ms"], "meta"),
        post_span=Span(post_window["since_ms"], post_window["until_ms"], "meta"),
        names=(baseline.name, post.name),
    )
    report = result.to_json()
    failing = [r for r in result.reasons if r.outcome != "pass"] or list(result.reasons)
    return {"verdict": result.verdict, "json": report, "markdown": render_markdown(report),
            "reasons": [r.message for r in failing], "headline": result.headline}


def look_at(baseline: Path, post_so_far: Path, book: Playbook, catalogue,
            baseline_window: Mapping[str, int], post_window: Mapping[str, int]) -> dict[str, Any]:
    """One look during the soak: the post window so far against the baseline, judged by the
    always-valid sequential test (``reversal.logs.sequential.look``) over the same measurements
    as the fixed-window gate (per-minute target counts, pooled controls, dispersion, pre-trend)."""
    from reversal.logs.compare import Span, compare
    from reversal.logs.readers import read_records
    from reversal.logs.sequential import look

    result = compare(
        read_records(baseline), read_records(post_so_far), catalogue=catalogue, route=book.route,
        statuses=book.target.statuses, signatures=book.target.signatures, gate=book.gate,
        baseline_span=Span(baseline_window["since_ms"], baseline_window["until_ms"], "meta"),
        post_span=Span(post_window["since_ms"], post_window["until_ms"], "meta"),
        names=(baseline.name, "post window so far"),
    )

    def per_minute(window) -> list[int]:
        counts = window.target.by_minute(result.unit)
        return [counts.get(m, 0) for m in window.span.minute_starts()]

    a = result.assessment
    controls = a.controls
    pooled = ((sum(c.baseline for c in controls.routes), sum(c.post for c in controls.routes))
              if controls.usable else None)
    seen = look(per_minute(result.baseline), per_minute(result.post),
                baseline_minutes=result.baseline.span.minutes, post_minutes=result.post.span.minutes,
                controls=pooled, dispersion=a.dispersion.phi, min_drop=book.gate.min_drop,
                alpha=book.gate.alpha, burst=(book.gate.burst.per_minute, book.gate.burst.minutes),
                pre_trend=a.pre_trend.collapsing)
    return {**seen.as_json(), "at_ms": post_window["until_ms"], "unit": result.unit}


def early_verdict(fixed: dict[str, Any], deciding: Mapping[str, Any], looks: int,
                  full_minutes: float) -> dict[str, Any]:
    """The gate after an early stop: the sequential decision stands (its p-value is valid at
    every look; the fixed-window test on a shortened window is not), unless a check the looks
    do not make fails on the final window (a barometer worse, a burst). The fixed-window
    statistics stay in the report for reference; their undecided outcomes become notes."""
    from reversal.logs.compare import render_markdown

    decision = deciding["decision"]
    reasons = fixed["json"]["reasons"]
    failing = [r for r in reasons if r["outcome"] == "fail"]
    verdict = "FAIL" if failing or decision == "FAIL" else "PASS"
    stop = {"code": "early_stop", "outcome": "ok" if decision == "PASS" else "fail",
            "message": (f"decided after {deciding['post_minutes']:g} of {full_minutes:g} minutes of "
                        f"post window, at look {looks}, by the always-valid sequential test: "
                        f"{deciding['why']} (always-valid p = {deciding['p_drop']:.3g})."),
            "numbers": dict(deciding)}
    kept = [{**r, "outcome": "note"} if r["outcome"] == "inconclusive" else r for r in reasons]
    document = {**fixed["json"], "verdict": verdict, "reasons": [stop, *kept],
                "early_stop": {"looks": looks, "deciding_look": dict(deciding),
                               "full_window_minutes": full_minutes}}
    headline = f"{verdict} (early stop after {deciding['post_minutes']:g} min): " + \
        fixed["headline"].split(": ", 1)[-1]
    shown = [stop] + [r for r in kept if r["outcome"] == "fail"]
    return {**fixed, "verdict": verdict, "json": document, "headline": headline,
            "markdown": render_markdown(document), "reasons": [r["message"] for r in shown]}
