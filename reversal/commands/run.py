"""``reversal run``: walk one slice through the strict reversal loop (or resume it)."""

from __future__ import annotations

import os
from pathlib import Path

import click


def _plan(book, config, now_ms: int, window_s: float, source: str) -> dict:
    """What a run would do, with exact windows, flags and requests; changes nothing."""
    from reversal.evidence.files import utc_iso
    from reversal.platform.probe import join_url

    since = now_ms - int(window_s * 1000)
    app = config.app_url or "<REVERSAL_APP_URL>"
    requests = []
    if book.probe is not None:
        url = join_url(app, book.route)
        auth = f"Authorization: Bearer <{book.probe.bearer_env}>" if book.probe.bearer_env else ""
        requests = [f"{book.probe.method} {url} ({auth})", f"{book.probe.method} {url} (no auth: expect 401)"]
    return {
        "slice": book.slice, "route": book.route, "source": source,
        "baseline_window": {"since": utc_iso(since), "until": utc_iso(now_ms)},
        "post_window": f"{int(window_s)}s starting when the redeploy is READY",
        "flag_write": {"key": book.flag.name, "value": book.flag.on, "target": config.environment,
                       "rollback_value": book.flag.off},
        "deploy": "redeploy of the current READY production deployment",
        "probe_requests": requests or ["none: passive slice (logs + queue only)"],
        "durable": {"function": book.durable.function, "queue": book.durable.queue},
        "gate": {"min_drop": book.gate.min_drop, "alpha": book.gate.alpha,
                 "burst": f"{book.gate.burst.per_minute}/min for {book.gate.burst.minutes} min",
                 "barometers": list(book.gate.barometers)},
        "on_fail": book.on_fail,
        "rollback": ("Instant Rollback to the deployment serving production at preflight (no build), "
                     "then the flag off; the rebuild where Vercel says it is not possible"
                     if book.rollback_mode == "instant"
                     else "flag off and redeploy (rollback_mode: rebuild)"),
    }


def _canary_share(book, canary: str | None) -> float | None:
    """The canary share of this run (``--canary``, else the playbook's ``mode: canary``), or None;
    a cron slice is refused (exit 2) before anything is touched."""
    from reversal.errors import InputError
    from reversal.playbooks import canary_refusal, parse_share

    if canary is None and book.mode != "canary":
        return None
    share = parse_share(canary, "--canary") if canary is not None else book.canary_share
    refusal = canary_refusal(book.kind)
    if refusal:
        raise InputError(f"--canary: slice {book.slice} is kind cron: {refusal}.")
    return share


def next_eligible(books, passed: set[str]) -> str | None:
    """The first slice in playbook order that has not PASSed and whose ``after:`` all have."""
    from reversal.iteration.checks import missing_after
    from reversal.playbooks import order

    return next((s for s in order(books) if s not in passed and not missing_after(books[s], passed)),
                None)


def _skips(skip_gates: tuple[str, ...], reason: str | None, books, config) -> dict[str, str]:
    """``--skip-gate NAME --reason TEXT``: break-glass, only with a reason and a known gate."""
    from reversal.errors import InputError
    from reversal.gates import merge_gates

    if not skip_gates:
        if reason:
            raise InputError("--reason is the reason for --skip-gate; give the gate to skip.")
        return {}
    if not reason or not reason.strip():
        raise InputError("--skip-gate needs --reason TEXT: skipping a safety gate is break-glass, "
                         "and the reason is recorded in the evidence.")
    known = {g.name for b in books.values() for g in merge_gates(config.gates, b.gates)}
    unknown = sorted(set(skip_gates) - known)
    if unknown:
        raise InputError(f"--skip-gate {', '.join(unknown)}: no such gate; the gates are "
                         f"{', '.join(sorted(known)) or 'none (gates: in reversal.yaml or a playbook)'}.")
    return {name: reason.strip() for name in skip_gates}


def run(config_path: Path | None, slice_name: str | None, *, window: str | None, source: str, yes: bool,
        dry_run: bool, no_wait: bool, sandbox: bool, knobs: tuple[str, ...], as_json: bool,
        pick: str | None = None, skip_gates: tuple[str, ...] = (), reason: str | None = None,
        early_stop: bool = True, canary: str | None = None) -> int:
    """One slice (``--route``, or ``pick="next"``), or ``pick="all"``: the next eligible slice,
    then the next, until one does not PASS or none is eligible."""
    from reversal.errors import InputError
    from reversal.iteration.machine import dumps
    from reversal.iteration.session import (
        EXIT_BY_STATUS,
        bounded_duration,
        open_session,
        passed_slices,
        report,
        resolve_playbook,
        summary,
    )

    if (slice_name is None) == (pick is None):
        raise InputError("give one of --route SLICE, --next or --all.")
    if canary is not None and pick is not None:
        raise InputError("--canary runs one slice: use it with --route.")
    window_s = bounded_duration("--window", window)  # bad: exit 2 before anything is touched
    yes = yes or sandbox  # the in-process sandbox is nobody's production
    with open_session(config_path, sandbox=sandbox, knobs=knobs) as session:
        books = session.config.load_playbooks()
        skips = _skips(skip_gates, reason, books, session.config)
        if pick is None:
            book, books = resolve_playbook(session.config, slice_name)
            share = _canary_share(book, canary)
            if dry_run:
                return _dry_run(session, book, window_s or book.window_s, source, as_json=as_json,
                                share=share)
        elif dry_run:
            raise InputError("--dry-run plans one slice: use it with --route.")
        done = []
        while True:
            name = slice_name or next_eligible(books, passed_slices(session.store, session.identity))
            if name is None:
                break
            chosen = books[name] if pick else book
            state = _run_one(session, chosen, books, window=window, window_s=window_s, source=source,
                             yes=yes, no_wait=no_wait, as_json=as_json, skips=skips,
                             early_stop=early_stop, canary=canary,
                             share=None if pick else share)
            done.append(state)
            if pick != "all" or state.status != "passed":
                break
        if not done:
            message = "nothing to run: every slice has PASSed or waits for one that has not"
            if as_json:
                click.echo(dumps({"ran": [], "next": None, "message": message}))
            else:
                click.echo(message + " ('reversal playbooks' shows the order and status).")
            return 0
        store = session.store
        if pick == "all":
            if as_json:
                click.echo(dumps({"ran": [summary(s, store.folder(s.iteration)) for s in done]}))
            else:
                for state in done:
                    report(state, store.folder(state.iteration), as_json=False)
        else:
            report(done[-1], store.folder(done[-1].iteration), as_json=as_json)
        return EXIT_BY_STATUS[done[-1].status]


def _run_one(session, book, books, *, window, window_s, source, yes, no_wait, as_json, skips,
             early_stop, canary=None, share=None):
    """Start (or resume) one slice's iteration and drive it until it ends, waits or stops."""
    from reversal.errors import InputError, StepFailed
    from reversal.evidence.provenance import gather as gather_provenance
    from reversal.iteration.checks import missing_after
    from reversal.iteration.machine import drive
    from reversal.iteration.session import build_context, latest_by_slice, open_for, passed_slices
    from reversal.iteration.state import IterationState
    from reversal.ui import UI

    ui = UI(quiet=as_json)
    slice_name, window_s = book.slice, window_s or book.window_s
    store, platform = session.store, session.identity
    with session.exclusive(f"reversal run --route {slice_name} (pid {os.getpid()})"):
        state = open_for(store, slice_name, platform)
        latest = latest_by_slice(store, platform).get(slice_name)
        if state is None and latest is not None and latest.status == "passed":
            click.echo(f"{slice_name} already PASSed in {latest.iteration}; nothing to do "
                       f"('reversal rollback --route {slice_name}' first to run it again).", err=True)
            return latest
        if state is None:
            missing = missing_after(book, passed_slices(store, platform))
            if missing:
                raise StepFailed(
                    f"refused: slice {slice_name} ({book.priority}) runs only after "
                    f"{', '.join(missing)} PASSed; run those first ('reversal playbooks' "
                    "shows the order and status)."
                )
            now = session.clock.now_ms()
            folder = store.new_folder(slice_name, now)
            state = IterationState(
                iteration=folder.name, slice=slice_name, route=book.route, created_ms=now,
                window_s=window_s, source=source, platform=platform, yes=yes, early_stop=early_stop,
                facts={"provenance": gather_provenance(session.config, session.clock),
                       **({"canary": {"share": share}} if share is not None else {})},
            )
            store.save(state)
            ui.say(f"iteration {state.iteration} started ({folder})")
            ui.say(f"times are {state.facts['provenance']['clock']['label']}")
        else:
            if window is not None and window_s != state.window_s:
                raise InputError(f"--window {window}: iteration {state.iteration} is under way "
                                 f"with its own window; resume it without --window.")
            if canary is not None and not state.facts.get("canary"):
                raise InputError(f"--canary: iteration {state.iteration} is under way in standard "
                                 "mode; resume it without --canary.")
            ui.say(f"resuming iteration {state.iteration} at step {state.step}")
        if skips:  # break-glass, recorded with its reason (timeline and evidence)
            state.facts.setdefault("gates", {}).setdefault("skips", {}).update(skips)
        if not state.terminal:
            if yes and not state.yes:
                state.yes = True  # the operator's --yes holds for the rest of the iteration
            if not early_stop:
                state.early_stop = False  # --no-early-stop holds for the rest of it too
            ctx = build_context(session, book, books, ui=ui, yes=yes, no_wait=no_wait)
            state = drive(ctx, state)
    return state


def _dry_run(session, book, window_s: float, source: str, *, as_json: bool, share: float | None = None
             ) -> int:
    """The plan, and the same readiness checks the run makes before any change: exit 2 naming
    what is missing, 0 when a run could go ahead."""
    from reversal.errors import InputError
    from reversal.iteration.live import LivePlatform
    from reversal.iteration.machine import dumps
    from reversal.ui import UI

    plan = _plan(book, session.config, session.clock.now_ms(), window_s, source)
    live = LivePlatform(session.config, session.clock, UI(quiet=True))
    plan["missing"] = live.readiness(book, source)
    if share is not None:  # docs/canary.md
        plan["post_window"] = (f"{int(window_s)}s of the rolling release: canary and control over the "
                               "same minutes")
        plan["deploy"] = (f"canary: a production build without the domains, then a rolling release "
                          f"serving it to {share:g}% of production; PASS completes it, FAIL aborts it "
                          "(Instant Rollback)")
        unavailable = live.rolling_unavailable()
        plan["missing"] += [f"canary mode needs Rolling Releases: {unavailable}"] if unavailable else []
    if as_json:
        click.echo(dumps(plan))
    else:
        import yaml

        click.echo("Plan (dry run, nothing changed):\n" + yaml.safe_dump(
            plan, sort_keys=False, allow_unicode=True, width=100))
    if plan["missing"]:
        raise InputError("dry run: a run would stop before any change: " + "; ".join(plan["missing"]) + ".")
    return 0


@click.command("run")
@click.option("--route", "slice_name", help="The slice to run (playbook name).")
@click.option("--next", "pick", flag_value="next", help="Run the next eligible slice in playbook order.")
@click.option("--all", "pick", flag_value="all",
              help="Run eligible slices one after another until one does not PASS.")
@click.option("--canary", metavar="SHARE",
              help="Canary mode: a rolling release serves the flagged build to SHARE (e.g. 10%) of "
                   "production, judged against the current build over the same minutes.")
@click.option("--skip-gate", "skip_gates", multiple=True, metavar="NAME",
              help="Break-glass: do not run this safety gate (needs --reason; recorded).")
@click.option("--reason", help="Why the gates given with --skip-gate are skipped.")
@click.option("--window", help="Window length for baseline and post (default: the playbook's).")
@click.option("--source", type=click.Choice(["api", "export", "drain"]), default="api", show_default=True,
              help="Capture windows through the request-logs API, or ask for dashboard exports or "
                   "Log Drain files (attached with 'reversal resume IT --export FILE').")
@click.option("--yes", is_flag=True, help="Do not ask before the first production change.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--no-wait", is_flag=True, help="Save state and exit 3 instead of waiting.")
@click.option("--no-early-stop", "early_stop", flag_value=False, default=True,
              help="Keep the full post window (no looks during the soak).")
@click.option("--sandbox", is_flag=True, help="Run against the embedded sandbox platform.")
@click.option("--sandbox-knob", "knobs", multiple=True, metavar="KEY=VALUE",
              help="Sandbox fault knob (with --sandbox).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(slice_name, pick, canary, skip_gates, reason, window, source, yes, dry_run, no_wait,
            early_stop, sandbox, knobs, as_json, config_path) -> int:
    """Run (or resume) the strict reversal loop for one slice, the next one, or all in order.

    Safety gates ('gates:' in reversal.yaml and the playbook) run before the first production
    change; a failing gate stops the slice with nothing changed."""
    return run(config_path, slice_name, window=window, source=source, yes=yes, dry_run=dry_run,
               no_wait=no_wait, sandbox=sandbox, knobs=knobs, as_json=as_json, pick=pick,
               skip_gates=skip_gates, reason=reason, early_stop=early_stop, canary=canary)
