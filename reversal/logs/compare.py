"""Baseline vs post window: deltas, rates, per-minute series, bursts, barometers, verdict.

Pure: records (or two log files, read on the fast path) in, a ``Comparison``
out. Windows may differ in length, so every comparison is
by rate per minute over the window's span (the capture's meta span when there is one, else
first..last record rounded out to whole minutes). Counts exist in rows and in distinct
``request_id``s; the verdict uses distinct requests when every failing row carries an id
(one failing request writes several rows) and rows otherwise, and says which.

Verdict (DESIGN): PASS needs a relative drop >= ``min_drop``, a one-sided exact test with
p <= ``alpha``, no sustained burst in the post window and no barometer route significantly
worse. Any failed check is FAIL. Otherwise a check that cannot be decided (too little
baseline signal for any post window to reach ``alpha``; a big but non-significant drop) is
INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reversal.errors import EXIT_FAIL, EXIT_OK, EXIT_WAITING, InputError
from reversal.logs.assess import Assessment, Counts, Measurements, Reason, assess, fmt_p, verdict_of
from reversal.logs.attribution import status_key
from reversal.logs.model import LogRecord
from reversal.logs.signatures import Catalogue
from reversal.logs.stats import p_value_rise
from reversal.playbooks import Burst, Gate

if TYPE_CHECKING:
    from reversal.logs.counts import ColumnTally

MINUTE_MS = 60_000
_MATCH_CACHE = 100_000  # distinct messages whose signature matches are remembered
TEMPLATES = Path(__file__).resolve().parent.parent / "evidence" / "templates"
DEFAULT_STATUSES: tuple[int | None, ...] = (500, 504, None)
DEFAULT_GATE = Gate(min_drop=0.8, alpha=0.05, burst=Burst(per_minute=3, minutes=3), barometers=())

Unit = Literal["rows", "requests"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
EXIT_CODES: dict[str, int] = {"PASS": EXIT_OK, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_WAITING}


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minute_iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Span:
    """A window's time span. ``source`` says where it came from: ``meta`` or ``records``."""

    since_ms: int
    until_ms: int
    source: Literal["meta", "records"]

    @property
    def minutes(self) -> float:
        """Exposure in minutes, never below one minute (a burst of rows in one second is not
        a rate of thousands per minute)."""
        return max(1.0, (self.until_ms - self.since_ms) / MINUTE_MS)

    def contains(self, ts_ms: int) -> bool:
        return self.since_ms <= ts_ms < self.until_ms

    def minute_starts(self) -> range:
        first = self.since_ms // MINUTE_MS * MINUTE_MS
        return range(first, max(self.until_ms, first + MINUTE_MS), MINUTE_MS)

    def to_json(self) -> dict[str, Any]:
        return {
            "since_ms": self.since_ms, "until_ms": self.until_ms, "since": _iso(self.since_ms),
            "until": _iso(self.until_ms), "minutes": round(self.minutes, 3), "source": self.source,
        }


def span_from_meta(data: Any, origin: str) -> Span:
    """The span of a capture meta document ``{"window": {"since_ms": .., "until_ms": ..}}``."""
    window = data.get("window") if isinstance(data, Mapping) else None
    if not isinstance(window, Mapping):
        raise InputError(
            f"{origin}: expected a JSON object with a 'window' object holding since_ms and "
            "until_ms (epoch milliseconds)."
        )
    bounds = []
    for key in ("since_ms", "until_ms"):
        value = window.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(
                f"{origin}: field 'window.{key}' must be epoch milliseconds as a non-negative "
                f"integer (got {value!r})."
            )
        bounds.append(value)
    if bounds[1] <= bounds[0]:
        raise InputError(
            f"{origin}: field 'window.until_ms' ({bounds[1]}) must be after 'window.since_ms' "
            f"({bounds[0]})."
        )
    return Span(bounds[0], bounds[1], "meta")


@dataclass(frozen=True)
class Criteria:
    """What counts as a failure event on the target route (other routes: ``route_failure``)."""

    route: str
    statuses: tuple[int | None, ...]
    signatures: tuple[str, ...]
    catalogue: Catalogue

    def target_failure(self, record: LogRecord, names: Sequence[str]) -> bool:
        return self.target_fails(record.status, names)

    def target_fails(self, status: int | None, names: Sequence[str] | None) -> bool:
        return status in self.statuses or any(n in self.signatures for n in names or ())

    @staticmethod
    def route_failure(record: LogRecord, names: Sequence[str]) -> bool:
        """Barometers and controls fail on any 5xx, a blank status, or any catalogued signature."""
        return Criteria.route_fails(record.status, names)

    @staticmethod
    def route_fails(status: int | None, names: Sequence[str] | None) -> bool:
        return status is None or status >= 500 or bool(names)


@dataclass(frozen=True)
class Events:
    """Failure events on one route in one window, in rows and in distinct requests.

    A request counts once, in the minute of its first failing row.
    """

    rows: int
    requests: int
    rows_without_id: int
    rows_by_minute: Mapping[int, int]
    requests_by_minute: Mapping[int, int]

    def count(self, unit: Unit) -> int:
        return self.requests if unit == "requests" else self.rows

    def by_minute(self, unit: Unit) -> Mapping[int, int]:
        return self.requests_by_minute if unit == "requests" else self.rows_by_minute


NO_EVENTS = Events(0, 0, 0, {}, {})


@dataclass(frozen=True)
class Cell:
    rows: int
    requests: int


@dataclass(frozen=True)
class Window:
    """One window, tallied in one pass: the table of every route x (all | status | signature)
    in rows and distinct requests, plus the failure events of the target and of every route
    (barometers and controls)."""

    span: Span
    rows: int
    rows_outside_span: int
    table: Mapping[tuple[str, str], Cell]
    target: Events
    failures: Mapping[str, Events]

    def route_failures(self, route: str) -> Events:
        return self.failures.get(route) or NO_EVENTS

    def route_rows(self, route: str) -> int:
        cell = self.table.get((route, "all"))
        return cell.rows if cell else 0


def window_counts(criteria: Criteria, span: Span | None) -> ColumnTally:
    """A fresh tally of one window: per-minute keys, ids with their timestamps, ``span`` kept."""
    from reversal.logs.counts import ColumnTally

    bounds = None if span is None else (span.since_ms, span.until_ms)
    return ColumnTally(criteria.catalogue, by_minute=True, span=bounds)


def build_window(
    records: Iterable[LogRecord], criteria: Criteria, span: Span | None = None, name: str = "window"
) -> Window:
    """Tally ``records``; with ``span`` rows outside it are counted apart and left out.

    ``name`` labels the window in errors (the command passes the file path).
    """
    counts = window_counts(criteria, span)
    counts.add_records(records)
    return window_of(counts, criteria, span, name)


def _events(counts: ColumnTally, kinds: list[tuple[tuple, int]],
            select: Callable[[str, Any, Any], bool]) -> Events:
    """Failure events of the rows ``select`` keeps (``kinds``: the tally's, read once per window):
    a request counts once, in the minute of its first failing row."""
    rows = without_id = 0
    by_minute: Counter[int] = Counter()
    for (route, status, names, has_id, minute), n in kinds:
        if select(route, status, names):
            rows += n
            by_minute[minute * MINUTE_MS] += n
            if not has_id:
                without_id += n
    requests, first_minutes = counts.first_seen_minutes(select)
    return Events(rows, requests, without_id, dict(by_minute), dict(first_minutes))


def window_of(counts: ColumnTally, criteria: Criteria, span: Span | None, name: str) -> Window:
    """The ``Window`` of a window's counts: the table, the target's and every route's failures."""
    if span is None:
        first, last = counts.first_ts, counts.last_ts
        if first is None or last is None:
            raise InputError(
                f"{name}: the window holds no records, so its span cannot be inferred; give "
                "the capture's meta file (window.since_ms / window.until_ms)."
            )
        span = Span(first // MINUTE_MS * MINUTE_MS, (last // MINUTE_MS + 1) * MINUTE_MS, "records")
    rows: Counter[tuple[str, str]] = Counter()
    members: dict[tuple[str, str], Callable[[str, Any, Any], bool]] = {}
    failing: set[str] = set()
    kinds = list(counts.kinds())
    for (route, status, names, _has_id, _minute), n in kinds:
        keys = [(route, "all"), (route, f"status:{status_key(status)}"),
                *((route, f"signature:{x}") for x in names or ())]
        for key in keys:
            rows[key] += n
        members.setdefault((route, "all"), lambda r, _s, _n, route=route: r == route)
        members.setdefault(keys[1], lambda r, s, _n, route=route, status=status: r == route and s == status)
        for key, x in zip(keys[2:], names or (), strict=True):
            members.setdefault(key, lambda r, _s, n, route=route, x=x: r == route and x in (n or ()))
        if criteria.route_fails(status, names):
            failing.add(route)
    target = criteria.route
    return Window(
        span=span,
        rows=counts.rows,
        rows_outside_span=counts.outside,
        table={key: Cell(n, distinct) for (key, n), distinct in
               zip(rows.items(), (counts.distinct(members[key]) for key in rows), strict=True)},
        target=_events(counts, kinds, lambda r, s, n: r == target and criteria.target_fails(s, n)),
        failures={route: _events(counts, kinds, lambda r, s, n, route=route: r == route
                                 and criteria.route_fails(s, n)) for route in sorted(failing)},
    )


@dataclass(frozen=True)
class BurstRun:
    """A run of consecutive post-window minutes each at or above the burst threshold."""

    start_ms: int
    counts: tuple[int, ...]

    @property
    def minutes(self) -> int:
        return len(self.counts)

    def to_json(self) -> dict[str, Any]:
        return {"start": _minute_iso(self.start_ms), "start_ms": self.start_ms,
                "minutes": self.minutes, "counts": list(self.counts)}


def find_bursts(series: Sequence[tuple[int, int]], burst: Burst) -> list[BurstRun]:
    """Maximal runs of >= ``burst.minutes`` consecutive minutes with >= ``per_minute`` each.

    ``series`` is every minute of the window in order (zeros included), as (start_ms, count).
    """
    runs: list[BurstRun] = []
    start, counts = 0, []
    for minute, count in [*series, (-1, -1)]:
        if count >= burst.per_minute:
            if not counts:
                start = minute
            counts.append(count)
            continue
        if len(counts) >= burst.minutes:
            runs.append(BurstRun(start, tuple(counts)))
        counts = []
    return runs


def _series(window: Window, events: Events) -> list[dict[str, Any]]:
    return [
        {"minute": _minute_iso(m), "rows": events.rows_by_minute.get(m, 0),
         "requests": events.requests_by_minute.get(m, 0)}
        for m in window.span.minute_starts()
    ]


def _unit(*events: Events) -> Unit:
    """Distinct requests when every failing row carries a request id; rows otherwise."""
    if sum(e.rows for e in events) and not any(e.rows_without_id for e in events):
        return "requests"
    return "rows"


@dataclass(frozen=True)
class Side:
    """Failure events of one route in one window, in the unit the comparison uses."""

    events: int
    rows: int
    requests: int
    minutes: float

    @property
    def rate(self) -> float:
        return self.events / self.minutes

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "rows": self.rows, "requests": self.requests,
                "minutes": round(self.minutes, 3), "rate_per_min": round(self.rate, 6)}


def _side(events: Events, unit: Unit, span: Span) -> Side:
    return Side(events.count(unit), events.rows, events.requests, span.minutes)


@dataclass(frozen=True)
class BarometerResult:
    route: str
    unit: Unit
    baseline: Side
    post: Side
    p_value: float
    significantly_worse: bool

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "unit": self.unit, "baseline": self.baseline.to_json(),
                "post": self.post.to_json(), "p_value_worse": self.p_value,
                "significantly_worse": self.significantly_worse}


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    unit: Unit
    route: str
    statuses: tuple[int | None, ...]
    signatures: tuple[str, ...]
    gate: Gate
    baseline: Window
    post: Window
    target_baseline: Side
    target_post: Side
    assessment: Assessment
    bursts: tuple[BurstRun, ...]
    barometers: tuple[BarometerResult, ...]
    reasons: tuple[Reason, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def relative_drop(self) -> float | None:
        return self.assessment.relative_drop

    @property
    def p_value(self) -> float:
        """The gate's p-value: the exact test on counts deflated by their dispersion."""
        return self.assessment.p_value

    @property
    def min_achievable_p(self) -> float:
        return self.assessment.test.min_achievable_p

    @property
    def headline(self) -> str:
        """One line for timelines: verdict, the two counts and rates, drop and p-value."""
        base, post = self.target_baseline, self.target_post
        a = self.assessment
        drop = "n/a" if a.relative_drop is None else f"{a.relative_drop:.1%}"
        adjusted = a.controls.adjusted_drop
        versus = "" if adjusted is None else f", control-adjusted {adjusted:.1%}"
        return (f"{self.verdict}: {self.route} failure {self.unit} {base.events} "
                f"({base.rate:.3g}/min) -> {post.events} ({post.rate:.3g}/min), drop {drop}{versus}, "
                f"p = {fmt_p(self.p_value)}")

    def deltas(self) -> list[dict[str, Any]]:
        """Every route x key of either window, baseline vs post, rows and requests."""
        keys = sorted(set(self.baseline.table) | set(self.post.table), key=_delta_order)
        out = []
        for key in keys:
            sides = {}
            for name, window in (("baseline", self.baseline), ("post", self.post)):
                cell = window.table.get(key, Cell(0, 0))
                minutes = window.span.minutes
                sides[name] = {"rows": cell.rows, "requests": cell.requests,
                               "rows_per_min": round(cell.rows / minutes, 6),
                               "requests_per_min": round(cell.requests / minutes, 6)}
            out.append({
                "route": key[0], "key": key[1], **sides,
                "delta": {"rows": sides["post"]["rows"] - sides["baseline"]["rows"],
                          "requests": sides["post"]["requests"] - sides["baseline"]["requests"]},
            })
        return out

    def to_json(self) -> dict[str, Any]:
        """The documented, stable JSON document (see docs/readme-compare.md)."""
        windows = {}
        for name, window in (("baseline", self.baseline), ("post", self.post)):
            windows[name] = {**window.span.to_json(), "rows": window.rows,
                             "rows_outside_span": window.rows_outside_span,
                             "target_route_rows": window.route_rows(self.route)}
        a = self.assessment
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "headline": self.headline,
            "unit": self.unit,
            "target": {"route": self.route, "statuses": [_status_json(s) for s in self.statuses],
                       "signatures": list(self.signatures)},
            "gate": {"min_drop": self.gate.min_drop, "alpha": self.gate.alpha,
                     "burst": {"per_minute": self.gate.burst.per_minute,
                               "minutes": self.gate.burst.minutes},
                     "barometers": list(self.gate.barometers),
                     "controls": None if self.gate.controls is None else list(self.gate.controls)},
            "windows": windows,
            "target_failures": {
                "baseline": self.target_baseline.to_json(), "post": self.target_post.to_json(),
                "relative_drop": a.relative_drop, **a.test.to_json(),
            },
            "dispersion": a.dispersion.to_json(),
            "controls": a.controls.to_json(),
            "pre_trend": a.pre_trend.to_json(),
            "series": {"baseline": _series(self.baseline, self.baseline.target),
                       "post": _series(self.post, self.post.target)},
            "bursts": [b.to_json() for b in self.bursts],
            "barometers": [b.to_json() for b in self.barometers],
            "reasons": [r.to_json() for r in self.reasons],
            "deltas": self.deltas(),
        }


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The markdown report of a ``Comparison.to_json()`` document (optionally with the
    command's ``inputs``), from ``evidence/templates/compare.md.j2``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False,
    )
    return env.get_template("compare.md.j2").render(doc=doc)


def _status_json(status: int | None) -> int | str:
    return "blank" if status is None else status


def _delta_order(key: tuple[str, str]) -> tuple[str, int, str]:
    route, name = key
    rank = 0 if name == "all" else 1 if name.startswith("status:") else 2
    return route, rank, name


def _burst_reasons(runs: Sequence[BurstRun], route: str, gate: Gate, unit: Unit) -> list[Reason]:
    threshold = {"per_minute": gate.burst.per_minute, "minutes": gate.burst.minutes, "unit": unit}
    if not runs:
        return [Reason(
            "no_burst", "ok",
            f"no sustained burst on {route} in the post window (gate: >= {gate.burst.per_minute} "
            f"failure {unit}/min for >= {gate.burst.minutes} consecutive minutes).",
            threshold,
        )]
    return [
        Reason(
            "sustained_burst", "fail",
            f"sustained burst on {route}: {run.minutes} consecutive minutes from "
            f"{_minute_iso(run.start_ms)} with {', '.join(map(str, run.counts))} failure "
            f"{unit}/min (gate: >= {gate.burst.per_minute}/min for >= {gate.burst.minutes} min).",
            {**threshold, **run.to_json()},
        )
        for run in runs
    ]


def _barometer(route: str, baseline: Window, post: Window, alpha: float) -> tuple[BarometerResult, Reason]:
    base_events, post_events = baseline.route_failures(route), post.route_failures(route)
    unit = _unit(base_events, post_events)
    base, after = _side(base_events, unit, baseline.span), _side(post_events, unit, post.span)
    p = p_value_rise(base.events, base.minutes, after.events, after.minutes)
    worse = p <= alpha
    result = BarometerResult(route, unit, base, after, p, worse)
    rates = (f"{base.events} failure {unit} ({base.rate:.3g}/min) -> {after.events} "
             f"({after.rate:.3g}/min)")
    numbers = result.to_json()
    if worse:
        return result, Reason(
            "barometer_worse", "fail",
            f"barometer {route} is significantly worse: {rates}, p = {fmt_p(p)} <= alpha {alpha:.3g}"
            " (the gate's alpha shared among the barometers).",
            numbers,
        )
    return result, Reason(
        "barometer_ok", "ok",
        f"barometer {route} not significantly worse: {rates}, p = {fmt_p(p)}.", numbers,
    )


def choose_controls(baseline: Window, post: Window, route: str, gate: Gate) -> tuple[str, ...]:
    """The playbook's ``gate.controls`` when set; else the barometers and every other route
    with failures in either window (the slice touches only its own route)."""
    if gate.controls is not None:
        return tuple(c for c in gate.controls if c != route)
    failing = set(baseline.failures) | set(post.failures)
    return tuple(sorted((set(gate.barometers) | failing) - {route}))


def _per_minute(events: Events, unit: Unit, span: Span) -> tuple[int, ...]:
    by_minute = events.by_minute(unit)
    return tuple(by_minute.get(m, 0) for m in span.minute_starts())


def measure(baseline: Window, post: Window, unit: Unit, controls: Sequence[str]) -> Measurements:
    """The measurements the verdict's statistics use: per-minute failure counts of the target
    (in ``unit``) and of each control (in its own unit) in both windows."""
    def counts(base: Events, after: Events, unit: Unit) -> ColumnTally:
        return Counts(_per_minute(base, unit, baseline.span), _per_minute(after, unit, post.span))

    control_counts = {}
    for route in controls:
        base, after = baseline.route_failures(route), post.route_failures(route)
        control_counts[route] = counts(base, after, _unit(base, after))
    return Measurements(counts(baseline.target, post.target, unit), control_counts,
                        baseline.span.minutes, post.span.minutes, unit)


def _notes(baseline: Window, post: Window, route: str) -> list[Reason]:
    notes = []
    for name, window in (("baseline", baseline), ("post", post)):
        if window.rows_outside_span:
            notes.append(Reason(
                "rows_outside_span", "note",
                f"{window.rows_outside_span} {name} rows fall outside the capture span "
                f"{_iso(window.span.since_ms)}..{_iso(window.span.until_ms)} and were left out.",
                {"window": name, "rows": window.rows_outside_span},
            ))
    if post.route_rows(route) == 0:
        notes.append(Reason(
            "no_target_rows", "note",
            f"the post window has no rows at all on {route}; unless the capture was filtered to "
            "failures, check that the route was invoked during the window.",
            {"route": route},
        ))
    return notes


PARALLEL_FINISH_ROWS = 200_000
PARALLEL_FINISH_MAX_ROWS = 1_000_000
"""Windows with at least ``PARALLEL_FINISH_ROWS`` rows each are finished (distinct counts) in two
processes, up to ``PARALLEL_FINISH_MAX_ROWS``: beyond, the forked process would add the post
window's id arrays (12 bytes per row) to the process tree's resident memory."""
_FINISHING: tuple[Any, ...] = ()


def _finish_post() -> Window:
    return window_of(*_FINISHING)


def _finish_both(counts: Sequence[ColumnTally], criteria: Criteria, spans: tuple[Span | None, Span | None],
                 names: tuple[str, str]) -> tuple[Window, Window]:
    """Both windows' ``window_of``; large ones at the same time, the post window's in a forked
    process that inherits its tally (``_FINISHING``) instead of receiving it pickled."""
    global _FINISHING
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    if (not PARALLEL_FINISH_ROWS <= min(c.rows for c in counts) <= PARALLEL_FINISH_MAX_ROWS
            or (os.cpu_count() or 1) < 2
            or "fork" not in multiprocessing.get_all_start_methods()):
        return (window_of(counts[0], criteria, spans[0], names[0]),
                window_of(counts[1], criteria, spans[1], names[1]))
    _FINISHING = (counts[1], criteria, spans[1], names[1])
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            post = pool.submit(_finish_post)
            return window_of(counts[0], criteria, spans[0], names[0]), post.result()
    finally:
        _FINISHING = ()


def _windows(baseline: Path | Iterable[LogRecord], post: Path | Iterable[LogRecord], criteria: Criteria,
             spans: tuple[Span | None, Span | None], names: tuple[str, str]) -> tuple[Window, Window]:
    """Both windows tallied; two files go through the fast path together (their byte ranges
    shared by the same forked workers as ``attribute``'s)."""
    if isinstance(baseline, Path) and isinstance(post, Path):
        from functools import partial

        from reversal.logs.attribution import tally_jobs

        counts = tally_jobs([(path, partial(window_counts, criteria, span))
                             for path, span in zip((baseline, post), spans, strict=True)])
        return _finish_both(counts, criteria, spans, names)
    from reversal.logs.readers import read_records

    records = [read_records(w) if isinstance(w, Path) else w for w in (baseline, post)]
    return (build_window(records[0], criteria, spans[0], names[0]),
            build_window(records[1], criteria, spans[1], names[1]))


def compare(
    baseline: Path | Iterable[LogRecord],
    post: Path | Iterable[LogRecord],
    *,
    catalogue: Catalogue,
    route: str,
    statuses: Sequence[int | None] = DEFAULT_STATUSES,
    signatures: Sequence[str] = (),
    gate: Gate = DEFAULT_GATE,
    baseline_span: Span | None = None,
    post_span: Span | None = None,
    names: tuple[str, str] = ("baseline", "post"),
) -> Comparison:
    """Compare the two windows (log files, or streams of records) for ``route`` and decide
    PASS / FAIL / INCONCLUSIVE.

    ``names`` label the two windows in error messages (the command passes the file paths).
    """
    unknown = [s for s in signatures if s not in catalogue.names]
    if unknown:
        raise InputError(
            f"unknown signatures {unknown}; known: {', '.join(catalogue.names)} (add new ones "
            "under 'signatures:' in reversal.yaml)."
        )
    criteria = Criteria(route, tuple(statuses), tuple(signatures), catalogue)
    base_window, post_window = _windows(baseline, post, criteria, (baseline_span, post_span), names)

    unit = _unit(base_window.target, post_window.target)
    base = _side(base_window.target, unit, base_window.span)
    after = _side(post_window.target, unit, post_window.span)
    controls = choose_controls(base_window, post_window, route, gate)
    measurements = measure(base_window, post_window, unit, controls)
    assessment = assess(measurements, min_drop=gate.min_drop, alpha=gate.alpha)
    reasons = list(assessment.reasons)

    by_minute = post_window.target.by_minute(unit)
    series = [(m, by_minute.get(m, 0)) for m in post_window.span.minute_starts()]
    runs = find_bursts(series, gate.burst)
    reasons += _burst_reasons(runs, route, gate, unit)

    barometers = []
    # Several barometers are several tests: Bonferroni keeps the family's false alarms at alpha.
    barometer_alpha = gate.alpha / max(1, len(gate.barometers))
    for barometer in gate.barometers:
        result, reason = _barometer(barometer, base_window, post_window, barometer_alpha)
        barometers.append(result)
        reasons.append(reason)
    reasons += _notes(base_window, post_window, route)

    return Comparison(
        verdict=verdict_of(reasons), unit=unit, route=route, statuses=criteria.statuses,
        signatures=criteria.signatures, gate=gate, baseline=base_window, post=post_window,
        target_baseline=base, target_post=after, assessment=assessment, bursts=tuple(runs),
        barometers=tuple(barometers),
        reasons=tuple(reasons),
    )
