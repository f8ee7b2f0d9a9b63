"""`reversal compare BASELINE POST`: the verdict of one slice from two log windows.

The shell around ``reversal.logs.compare``: resolves the slice's target and gate (playbook,
then flags), finds each window's span (capture meta file, else the records), streams both
files through the readers and renders the ``Comparison`` as text, markdown or JSON. The exit
code is the verdict's: 0 PASS, 1 FAIL, 3 INCONCLUSIVE (2 for bad input).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reversal.errors import InputError

FORMATS = ("text", "md", "json")


def _meta_candidates(export: Path) -> list[Path]:
    """``x.json`` / ``x.jsonl`` -> ``x.meta.json``; capture names ``*-logs-*`` -> ``*-meta-*.json``."""
    candidates = [export.with_suffix(".meta.json")]
    if "-logs-" in export.name:
        candidates.append(export.with_name(export.name.replace("-logs-", "-meta-")).with_suffix(".json"))
    return candidates


def _read_meta(path: Path):  # -> Span
    from reversal.logs.compare import span_from_meta

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the meta file ({exc.strerror}).") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: the meta file is not valid JSON ({exc}).") from None
    return span_from_meta(data, str(path))


def _resolve_meta(export: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    return next((c for c in _meta_candidates(export) if c.is_file() and c != export), None)


def _load_playbook(ref: str, config):  # -> Playbook
    """A playbook YAML file, or a slice name among the project's playbooks."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        from reversal.playbooks import load_playbook_file

        return load_playbook_file(path, config.catalogue().names)
    books = config.load_playbooks()
    if ref not in books:
        raise InputError(
            f"--playbook {ref!r} is neither a YAML file nor a known slice; known slices: "
            f"{', '.join(sorted(books))}."
        )
    return books[ref]


def _parse_statuses(values: Sequence[str]) -> tuple[int | None, ...]:
    out: list[int | None] = []
    for value in values:
        if value.strip().lower() == "blank":
            out.append(None)
        elif value.strip().isdigit() and 100 <= int(value) <= 599:
            out.append(int(value))
        else:
            raise InputError(f"--status {value!r}: expected an HTTP status (100-599) or 'blank'.")
    return tuple(out)


def _route(text: str, option: str) -> str:
    """A route option as the logs write it: a host prefix is dropped (``app.vercel.app/api/x``
    as in exports), then the path is normalised and checked like a playbook route."""
    from reversal.logs.model import normalize_path
    from reversal.playbooks import route_path

    stripped = text.strip()
    if stripped and not stripped.startswith("/") and "/" in stripped and " " not in stripped:
        stripped = normalize_path(stripped)[1]
    return route_path(stripped, option)


def _styled(text: str, colour: str, colour_on: bool) -> str:
    return click.style(text, fg=colour, bold=True) if colour_on else text


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _robustness_lines(doc: dict[str, Any]) -> list[str]:
    """Dispersion, controls and pre-trend, one line each."""
    fails, disp = doc["target_failures"], doc["dispersion"]
    controls, trend = doc["controls"], doc["pre_trend"]
    routes = ", ".join(f"{c['route']} {c['baseline']}->{c['post']}" for c in controls["routes"]) or "none"
    first, last = trend["first_two_thirds"], trend["last_third"]
    return [
        f"tests: exact {fails['p_value_exact']:.3g}, rank test on {fails['block_minutes']}-minute blocks "
        f"{fails['p_value_blocks']:.3g}; dispersion {disp['phi']:.3g}, "
        f"{disp['effective_minutes']['baseline']:g} effective minutes in the baseline",
        f"controls{'' if controls['usable'] else ' (not usable)'}: {routes}; pooled drop "
        f"{_pct(controls['drop'])}, control-adjusted drop {_pct(controls['adjusted_drop'])}",
        f"pre-trend: {first['events']} in {first['minutes']} min, then {last['events']} in "
        f"{last['minutes']} min" + (" (collapsing)" if trend["collapsing"] else ""),
    ]


def _render_text(doc: dict[str, Any], colour_on: bool) -> str:
    verdict_colour = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}[doc["verdict"]]
    outcome_colour = {"ok": "green", "fail": "red", "inconclusive": "yellow", "note": "blue"}
    target, fails, unit = doc["target"], doc["target_failures"], doc["unit"]
    statuses = ", ".join(str(s) for s in target["statuses"])
    lines = [
        f"compare {target['route']}: {_styled(doc['verdict'], verdict_colour, colour_on)}",
        f"failure events: status in [{statuses}]"
        + (f" or signature in [{', '.join(target['signatures'])}]" if target["signatures"] else "")
        + f"; counted in {unit}",
        "",
    ]
    for name in ("baseline", "post"):
        w, f = doc["windows"][name], fails[name]
        lines.append(
            f"{name:<8} {doc['inputs'][name]['path']}\n"
            f"         {w['since']} -> {w['until']}  {w['minutes']:g} min (span from {w['source']})"
            f"  {w['rows']} rows read\n"
            f"         {f['events']} failure {unit} ({f['rows']} rows, {f['requests']} requests)"
            f"  {f['rate_per_min']:.4g}/min"
        )
    drop = fails["relative_drop"]
    lines += [
        "",
        f"relative drop {'n/a' if drop is None else f'{drop:.1%}'}   p = {fails['p_value']:.3g}"
        f" (alpha {doc['gate']['alpha']}, best achievable {fails['min_achievable_p']:.3g})",
        *_robustness_lines(doc),
        "",
        "reasons:",
    ]
    for r in doc["reasons"]:
        tag = _styled(f"{r['outcome']:<12}", outcome_colour[r["outcome"]], colour_on)
        lines.append(f"  {tag} {r['code']}: {r['message']}")
    busy = [m for m in doc["series"]["post"] if m[unit]]
    lines += ["", f"post failure {unit} per minute (minutes with events):"]
    lines.append("  " + (", ".join(f"{m['minute'][11:16]} {m[unit]}" for m in busy) or "none"))
    lines += ["", "deltas (rows / requests; rate in rows per minute):"]
    width = max((len(d["route"]) for d in doc["deltas"]), default=5)
    keyw = max((len(d["key"]) for d in doc["deltas"]), default=3)
    lines.append(f"  {'route':<{width}}  {'key':<{keyw}}  {'baseline':>13} {'post':>13} {'delta':>13}"
                 f" {'base/min':>9} {'post/min':>9}")
    for d in doc["deltas"]:
        b, p, dl = d["baseline"], d["post"], d["delta"]
        pairs = (f"{b['rows']}/{b['requests']}", f"{p['rows']}/{p['requests']}",
                 f"{dl['rows']:+d}/{dl['requests']:+d}")
        lines.append(
            f"  {d['route']:<{width}}  {d['key']:<{keyw}}  {pairs[0]:>13} {pairs[1]:>13} {pairs[2]:>13}"
            f" {b['rows_per_min']:>9.3g} {p['rows_per_min']:>9.3g}"
        )
    return "\n".join(lines)


def run_compare(
    baseline: Path,
    post: Path,
    *,
    route: str | None = None,
    signatures: Sequence[str] = (),
    statuses: Sequence[str] = (),
    barometers: Sequence[str] = (),
    controls: Sequence[str] = (),
    playbook: str | None = None,
    fmt: str = "text",
    config_path: Path | None = None,
    baseline_meta: Path | None = None,
    post_meta: Path | None = None,
) -> int:
    """Compare the two windows, print the result in ``fmt``, return the verdict's exit code."""
    from dataclasses import replace

    from reversal.config import load_config
    from reversal.logs.compare import DEFAULT_GATE, DEFAULT_STATUSES, compare, render_markdown

    config = load_config(config_path)
    catalogue = config.catalogue()
    book = _load_playbook(playbook, config) if playbook else None
    if route is None and book is None:
        raise InputError("compare: give --route ROUTE, or --playbook SLICE to take it from a playbook.")
    target_route = _route(route, "--route") if route else book.route  # type: ignore[union-attr]
    gate = book.gate if book else DEFAULT_GATE
    if barometers:
        gate = replace(gate, barometers=tuple(_route(b, "--barometer") for b in barometers))
    if controls:
        gate = replace(gate, controls=tuple(_route(c, "--control") for c in controls))
    metas = {name: _resolve_meta(path, given) for name, path, given in
             (("baseline", baseline, baseline_meta), ("post", post, post_meta))}
    comparison = compare(
        baseline,
        post,
        catalogue=catalogue,
        route=target_route,
        statuses=_parse_statuses(statuses) if statuses else (
            book.target.statuses if book else DEFAULT_STATUSES),
        signatures=tuple(signatures) or (book.target.signatures if book else ()),
        gate=gate,
        baseline_span=_read_meta(metas["baseline"]) if metas["baseline"] else None,
        post_span=_read_meta(metas["post"]) if metas["post"] else None,
        names=(str(baseline), str(post)),
    )
    doc = {
        **comparison.to_json(),
        "inputs": {
            name: {"path": str(path), "meta": str(metas[name]) if metas[name] else None}
            for name, path in (("baseline", baseline), ("post", post))
        },
        "playbook": {"slice": book.slice, "path": str(book.path) if book.path else None} if book else None,
    }
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    elif fmt == "md":
        click.echo(render_markdown(doc), nl=False)
    else:
        colour_on = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(_render_text(doc, colour_on), color=colour_on)
    return comparison.exit_code


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("compare")
@click.argument("baseline", type=_FILE)
@click.argument("post", type=_FILE)
@click.option("--route", help="Target route (required unless --playbook gives it).")
@click.option("--signature", "signatures", multiple=True,
              help="Target signature name (repeatable); overrides the playbook's.")
@click.option("--status", "statuses", multiple=True,
              help="Target status, e.g. 500 or blank (repeatable); default 500, 504, blank.")
@click.option("--barometer", "barometers", multiple=True,
              help="Barometer route that must not get significantly worse (repeatable).")
@click.option("--control", "controls", multiple=True,
              help="Control route the target is judged against (repeatable); default: every other "
                   "failing route and the barometers, or the playbook's gate.controls.")
@click.option("--playbook", help="Slice name from the project's playbooks, or a playbook YAML path.")
@click.option("--baseline-meta", type=_FILE, help="Capture meta file of the baseline window.")
@click.option("--post-meta", type=_FILE, help="Capture meta file of the post window.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--config", "config_path", type=_FILE, help="reversal.yaml to use.")
@click.pass_context
def command(ctx: click.Context, baseline: Path, post: Path, route: str | None,
            signatures: tuple[str, ...], statuses: tuple[str, ...], barometers: tuple[str, ...],
            controls: tuple[str, ...], playbook: str | None, baseline_meta: Path | None,
            post_meta: Path | None, fmt: str, as_json: bool, config_path: Path | None) -> None:
    """Compare a BASELINE and a POST log window of one slice: deltas per route and signature,
    rates per minute, bursts, barometers and the verdict. Exit 0 PASS, 1 FAIL,
    3 INCONCLUSIVE, 2 bad input."""
    ctx.exit(run_compare(
        baseline, post, route=route, signatures=signatures, statuses=statuses,
        barometers=barometers, controls=controls, playbook=playbook, fmt="json" if as_json else fmt,
        config_path=config_path, baseline_meta=baseline_meta, post_meta=post_meta,
    ))
