"""``report.html`` (one evidence packet) and ``index.html`` (the campaign), self-contained.

Both pages are pure functions of what is on disk: a packet folder (``state.json`` and the
artifacts its events name) plus the playbooks and signature catalogue of the configuration.
They can be rendered again at any time (``reversal report``) and need no network: charts are
inline SVG, styles are inline, there is no script. ``report.html`` is derived, so it is not in
the manifest (it shows the manifest instead).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reversal.evidence.files import utc_iso, write_text
from reversal.evidence.provenance import commit_of, time_label
from reversal.evidence.timeline import rollback_reason
from reversal.iteration.state import IterationState
from reversal.playbooks import Playbook

if TYPE_CHECKING:  # the log machinery loads only when a page or the rollback check needs it
    from reversal.logs.compare import Window
    from reversal.logs.signatures import Catalogue

REPORT = "report.html"
INDEX = "index.html"
TOP_MOVERS = 5
SERIES_COLOURS = {"baseline": "#64748b", "post": "#2563eb", "rollback": "#dc2626"}


# -- reading the packet ---------------------------------------------------------------------

def _artifact(state: IterationState, step: str, suffix: str = ".json") -> str | None:
    """The last file the events of ``step`` name with ``suffix`` (not a meta file)."""
    found = None
    for event in state.events:
        if event.step == step:
            for name in event.artifacts:
                if name.endswith(suffix) and not name.endswith(".meta.json"):
                    found = name
    return found


def _read_json(folder: Path, name: str | None) -> Any:
    if not name or not (folder / name).is_file():
        return None
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except ValueError:
        return None


def _window_sources(state: IterationState) -> dict[str, tuple[str, Mapping[str, int]]]:
    """Window name -> (log file, {since_ms, until_ms}) for the windows captured so far."""
    facts = state.facts
    found = {}
    for name, step, logs in (("baseline", "baseline", facts.get("baseline", {}).get("logs")),
                             ("post", "post", facts.get("post", {}).get("logs")),
                             ("rollback", "rollback-capture", _artifact(state, "rollback-capture"))):
        window = facts.get(step, {}).get("window")
        if logs and window:
            found[name] = (logs, window)
    return found


def load_windows(folder: Path, state: IterationState, book: Playbook, catalogue: Catalogue
                 ) -> dict[str, Window]:
    """Tally each captured window with the slice's failure criteria and its barometers."""
    from reversal.logs.compare import Criteria, Span, build_window
    from reversal.logs.readers import read_records

    criteria = Criteria(book.route, tuple(book.target.statuses), tuple(book.target.signatures), catalogue)
    windows = {}
    for name, (logs, span) in _window_sources(state).items():
        path = folder / logs
        if path.is_file():
            windows[name] = build_window(read_records(path), criteria,
                                         Span(span["since_ms"], span["until_ms"], "meta"), str(path))
    return windows


# -- pure computations ----------------------------------------------------------------------

def failure_series(windows: Mapping[str, Window], route: str, target: str) -> dict[str, Any]:
    """Per-minute failure counts of ``route`` in each window, aligned by minute since the
    window's start, in the unit the gate uses (distinct requests when every row has an id)."""
    from reversal.logs.compare import _unit

    def events(window: Window):
        return window.target if route == target else window.route_failures(route)

    unit = _unit(*(events(w) for w in windows.values()))
    series = {}
    for name, window in windows.items():
        by_minute = events(window).by_minute(unit)
        series[name] = [by_minute.get(m, 0) for m in window.span.minute_starts()]
    return {"route": route, "unit": unit, "series": series,
            "totals": {name: sum(counts) for name, counts in series.items()},
            "rates": {name: sum(series[name]) / w.span.minutes for name, w in windows.items()}}


def rollback_check(post: Window, rollback: Window, alpha: float) -> dict[str, Any]:
    """Did failures come back after the rollback? The target's failure rate in the rollback
    window against the post window, with the one-sided exact test for a rise."""
    from reversal.logs.compare import _unit
    from reversal.logs.stats import p_value_rise

    unit = _unit(post.target, rollback.target)
    k_post, k_back = post.target.count(unit), rollback.target.count(unit)
    m_post, m_back = post.span.minutes, rollback.span.minutes
    p = p_value_rise(k_post, m_post, k_back, m_back)
    came_back = p <= alpha
    verdict = ("failures came back" if came_back else
               "no significant return of failures" if k_back else "no failures in the rollback window")
    return {
        "unit": unit, "alpha": alpha, "p_value_rise": p, "came_back": came_back,
        "post": {"events": k_post, "minutes": round(m_post, 3), "rate_per_min": round(k_post / m_post, 6)},
        "rollback": {"events": k_back, "minutes": round(m_back, 3),
                     "rate_per_min": round(k_back / m_back, 6)},
        "message": (f"rollback window vs post window: {k_back} failure {unit} in {m_back:g} min "
                    f"({k_back / m_back:.3g}/min) against {k_post} in {m_post:g} min "
                    f"({k_post / m_post:.3g}/min), p = {p:.3g} for a rise: {verdict}."),
    }


def rollback_check_of(folder: Path, state: IterationState, book: Playbook, catalogue: Catalogue
                      ) -> dict[str, Any] | None:
    """``rollback_check`` on the packet's post and rollback windows, once both are captured."""
    sources = _window_sources(state)
    if "post" not in sources or "rollback" not in sources:
        return None
    windows = load_windows(folder, state, book, catalogue)
    if "post" not in windows or "rollback" not in windows:
        return None
    return rollback_check(windows["post"], windows["rollback"], book.gate.alpha)


def short_deltas(deltas: Sequence[Mapping[str, Any]], route: str, barometers: Sequence[str],
                 top: int = TOP_MOVERS) -> list[dict[str, Any]]:
    """The rows worth reading: the target's, the barometers' totals and the top movers."""
    picked = [dict(d, role="target") for d in deltas if d["route"] == route]
    picked += [dict(d, role="barometer") for d in deltas
               if d["route"] in barometers and d["key"] == "all"]
    others = [d for d in deltas if d["key"] == "all" and d["route"] != route
              and d["route"] not in barometers and d["delta"]["rows"]]
    others.sort(key=lambda d: (-abs(d["delta"]["rows"]), d["route"]))
    return picked + [dict(d, role="mover") for d in others[:top]]


def dashboard_url(record: Mapping[str, Any], team: str | None, project: str | None) -> str | None:
    """The Vercel dashboard page of a deployment: the inspector URL it carries, else
    ``https://vercel.com/<team>/<project>/<id without dpl_>``."""
    if record.get("inspectorUrl"):
        return str(record["inspectorUrl"])
    dep_id = str(record.get("id") or "")
    if not (dep_id and team and project):
        return None
    return f"https://vercel.com/{team}/{project}/{dep_id.removeprefix('dpl_')}"


def _ticks(top: int) -> list[int]:
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if top / s <= 5)
    return list(range(0, top + 1, step))


def svg_chart(title: str, series: Mapping[str, Sequence[int]], unit: str, *,
              width: int = 560, height: int = 200) -> str:
    """An inline SVG bar chart: per minute since the window start, one bar per window."""
    from markupsafe import escape

    left, right, top_pad, bottom = 40, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    minutes = max((len(c) for c in series.values()), default=1) or 1
    peak = max((max(c, default=0) for c in series.values()), default=0)
    ticks = _ticks(max(1, peak))
    y_top = max(ticks[-1], 1)

    def x(i: float) -> float:
        return left + plot_w * i / minutes

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / y_top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'data-title="{escape(title)}"><title>{escape(title)}</title>']
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                     f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(t) + 4:.1f}" '
                     f'text-anchor="end" font-size="11" fill="#6b7280">{t}</text>')
    for m in range(0, minutes + 1, 5 if minutes > 10 else 1):
        parts.append(f'<text x="{x(m):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#6b7280">{m}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" '
                 f'font-size="11" fill="#6b7280">minute since window start · failure {unit} per '
                 'minute</text>')
    drawn = [(name, counts) for name, counts in series.items() if counts]
    slot = plot_w / minutes
    bar = max(1.0, (slot - 2) / max(1, len(drawn)))
    for n, (name, counts) in enumerate(drawn):
        colour = SERIES_COLOURS.get(name, "#111827")
        parts.append(f'<g class="series series-{escape(name)}" fill="{colour}">')
        for i, v in enumerate(counts):
            if v:
                parts.append(f'<rect x="{x(i) + 1 + n * bar:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                             f'height="{y(0) - y(v):.1f}"><title>{escape(name)} minute {i}: {v}'
                             '</title></rect>')
        parts.append("</g>")
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top_pad}" y2="{top_pad + plot_h}" stroke="#9ca3af"/>'
                 f'<line x1="{left}" x2="{width - right}" y1="{top_pad + plot_h}" '
                 f'y2="{top_pad + plot_h}" stroke="#9ca3af"/></svg>')
    return "".join(parts)


# -- the page models ------------------------------------------------------------------------

def report_model(folder: Path, books: Mapping[str, Playbook], catalogue: Catalogue) -> dict[str, Any]:
    """Everything ``report.html`` shows, from the packet folder alone (plus configuration)."""
    state = IterationState.from_json(_read_json(folder, "state.json"), str(folder / "state.json"))
    book = books.get(state.slice)
    prov = state.facts.get("provenance") or {}
    production = state.facts.get("preflight", {}).get("production") or {}
    compare_doc = _read_json(folder, _artifact(state, "compare"))
    windows = load_windows(folder, state, book, catalogue) if book else {}
    charts = []
    if book and windows:
        for route in (book.route, *book.gate.barometers):
            s = failure_series(windows, route, book.route)
            role = "target" if route == book.route else "barometer"
            title = f"{route} ({role})"
            charts.append({**s, "role": role, "title": title,
                           "svg": svg_chart(title, s["series"], s["unit"])})
    rollback = None
    if book and "post" in windows and "rollback" in windows:
        rollback = rollback_check(windows["post"], windows["rollback"], book.gate.alpha)
    team = (prov.get("platform") or {}).get("team")
    deployments = []
    for step in ("deploy", "rollback-deploy"):
        record = _read_json(folder, _artifact(state, step))
        if isinstance(record, dict) and record.get("id"):
            deployments.append({"step": step, "record": record,
                                "link": dashboard_url(record, team, production.get("name"))})
    if production.get("id"):
        deployments.insert(0, {"step": "preflight (production before the change)", "record": production,
                               "link": dashboard_url(production, team, production.get("name"))})
    deltas = compare_doc.get("deltas", []) if isinstance(compare_doc, dict) else []
    manifest = _read_json(folder, "manifest.json") or {}
    return {
        "state": state, "book": book, "provenance": prov, "time_label": time_label(prov),
        "commit": commit_of(production.get("meta")), "production": production,
        "compare": compare_doc, "charts": charts, "rollback_check": rollback,
        "reason_rows": (compare_doc or {}).get("reasons") if isinstance(compare_doc, dict) else None,
        "short_deltas": short_deltas(deltas, state.route, book.gate.barometers if book else ()),
        "deltas": deltas, "deployments": deployments,
        "results": [(step, _read_json(folder, _artifact(state, step)))
                    for step in ("preflight", "probe", "durable", "rollback-probe", "instant-verify")],
        "rollback_reason": rollback_reason(state),
        "manifest": sorted((manifest.get("sha256") or {}).items()),
        "windows": {name: {"since": utc_iso(w["since_ms"]), "until": utc_iso(w["until_ms"])}
                    for name, (_, w) in _window_sources(state).items()},
    }


def index_model(root: Path, books: Mapping[str, Playbook]) -> dict[str, Any]:
    """The campaign on the platform (API base, team, project) of the newest iteration: every
    slice in playbook order with its status there, and all its iterations newest first (runs on
    other platforms, e.g. an in-process sandbox, are listed but say nothing about this one)."""
    from reversal.iteration.session import SLICE_STATUS
    from reversal.iteration.store import IterationStore
    from reversal.playbooks import order

    states = IterationStore(root).all()
    current = states[-1].platform if states else {}
    rows = []
    for name in order(books):
        mine = [s for s in states if s.slice == name][::-1]
        latest = next((s for s in mine if s.platform == current), None)
        status = SLICE_STATUS[latest.status] if latest else "never run"
        rows.append({
            "book": books[name], "status": status,
            "iterations": [{"state": s, "link": f"{s.iteration}/{REPORT}",
                            "has_report": (root / s.iteration / REPORT).is_file()} for s in mine],
        })
    return {"rows": rows, "root": str(root), "platform": current,
            "others": [s for s in states if s.slice not in books], "env_fixes": env_fixes(root)}


def env_fixes(root: Path) -> list[dict[str, Any]]:
    """The ``reversal env fix`` runs beside the iterations, newest first: status, what was
    trimmed, the redeploy, and whether the re-audit came out clean (``None`` until it ends)."""
    from reversal.evidence.files import ENV_FIX_RESULT, ENV_FIX_STATE, env_fix_states

    runs = []
    for path in env_fix_states(root):
        state = _read_json(path.parent, ENV_FIX_STATE) or {}
        result = _read_json(path.parent, ENV_FIX_RESULT) or {}
        timeline = path.parent / "timeline.md"
        runs.append({
            "name": path.parent.name, "status": state.get("status", "unreadable"),
            "created_ms": state.get("createdMs"), "ok": result.get("ok"),
            "written": result.get("written") or [],
            "redeploy": (result.get("redeploy") or {}).get("id"),
            "timeline": f"{path.parent.name}/{timeline.name}" if timeline.is_file() else None,
        })
    return runs


# -- rendering ------------------------------------------------------------------------------

@cache
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reversal", "evidence/templates"),
        autoescape=True, undefined=jinja2.ChainableUndefined,  # older packets lack newer facts
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["utc"] = utc_iso
    env.filters["pretty"] = lambda obj: json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    return env


def render_report(folder: Path, books: Mapping[str, Playbook], catalogue: Catalogue) -> str:
    from markupsafe import Markup

    model = report_model(folder, books, catalogue)
    for chart in model["charts"]:
        chart["svg"] = Markup(chart["svg"])  # built from escaped parts above
    return _env().get_template("report.html.j2").render(**model, colours=SERIES_COLOURS)


def render_index(root: Path, books: Mapping[str, Playbook]) -> str:
    return _env().get_template("index.html.j2").render(**index_model(root, books))


def write_pages(folder: Path, books: Mapping[str, Playbook], catalogue: Catalogue) -> Path:
    """Render the packet's ``report.html`` and the campaign's ``index.html`` beside it.

    The pages are derived: a packet they cannot read (a hand-edited artifact) must not stop
    the iteration, so the report then says what failed and how to render it again."""
    from markupsafe import escape

    from reversal.errors import ReversalError

    try:
        page = render_report(folder, books, catalogue)
    except (ReversalError, OSError, ValueError, KeyError, TypeError) as exc:
        page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>report not "
                f"rendered</title></head><body><h1>report not rendered</h1><p>{escape(str(exc))}</p>"
                f"<p>Fix the packet and run <code>reversal report {escape(folder.name)}</code>.</p>"
                "</body></html>\n")
    path = write_text(folder / REPORT, page)
    write_index(folder.parent, books)
    return path


def write_index(root: Path, books: Mapping[str, Playbook]) -> Path:
    """The campaign's ``index.html`` (after an iteration step, or an ``env fix``)."""
    return write_text(root / INDEX, render_index(root, books))
