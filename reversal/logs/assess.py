"""The target's checks of the verdict, over measurements only: per-minute failure counts of the
target and of its control routes in the two windows, and the windows' lengths.

Real failures arrive in bursts and incidents end on their own, so the exact Poisson test alone
is overconfident. On top of the drop and the exact test this module

- deflates counts by their dispersion (quasi-Poisson over 1-5 minute blocks), so a burst of
  hundreds of rows in a few minutes weighs as the few independent events it is;
- compares the target with control routes the slice does not touch over the same windows
  (difference-in-differences, Fisher's exact test): a drop shared by the whole app is not
  credited to the flag; with no usable control it says so and the burst-robust test on the
  target alone decides;
- refuses a baseline that was already collapsing (its last third against its first two).

Pure (no records, no clock), so a fixed-window gate and a sequential one can share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reversal.logs.stats import deflate, dispersion, p_value_drop, p_value_drop_vs_controls

Outcome = Literal["ok", "fail", "inconclusive", "note"]

MIN_CONTROL_EVENTS = 5  # pooled control events (deflated) in the baseline to make a usable control
PRE_TREND_DROP = 0.5  # a baseline whose last third fell this much (and significantly) is collapsing


@dataclass(frozen=True)
class Reason:
    """One check of the verdict: a stable ``code``, its outcome, a sentence and the numbers."""

    code: str
    outcome: Outcome
    message: str
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "outcome": self.outcome, "message": self.message,
                "numbers": dict(self.numbers)}


@dataclass(frozen=True)
class Counts:
    """Failure events of one route per minute of each window (every minute, zeros included)."""

    baseline: tuple[int, ...]
    post: tuple[int, ...]

    @property
    def totals(self) -> tuple[int, int]:
        return sum(self.baseline), sum(self.post)


@dataclass(frozen=True)
class Measurements:
    target: Counts
    controls: Mapping[str, Counts]
    baseline_minutes: float
    post_minutes: float
    unit: str = "events"


@dataclass(frozen=True)
class Dispersion:
    phi: float
    block_minutes: int
    effective_events: tuple[int, int]  # baseline, post (deflated)
    effective_minutes: tuple[float, float]  # window minutes / phi

    def to_json(self) -> dict[str, Any]:
        return {"phi": round(self.phi, 4), "block_minutes": self.block_minutes,
                "effective_events": {"baseline": self.effective_events[0], "post": self.effective_events[1]},
                "effective_minutes": {"baseline": round(self.effective_minutes[0], 3),
                                      "post": round(self.effective_minutes[1], 3)}}


def measure_dispersion(counts: Counts, minutes: tuple[float, float]) -> Dispersion:
    phi, block = dispersion((counts.baseline, counts.post))
    base, post = counts.totals
    return Dispersion(phi, block, (deflate(base, phi), deflate(post, phi, up=True)),
                      (minutes[0] / phi, minutes[1] / phi))


def _ratio_drop(base: float, post: float, minutes: tuple[float, float]) -> float | None:
    """1 - post rate / baseline rate; None without a baseline event."""
    return 1 - (post / minutes[1]) / (base / minutes[0]) if base else None


@dataclass(frozen=True)
class ControlChange:
    route: str
    baseline: int
    post: int
    drop: float | None

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "baseline": self.baseline, "post": self.post, "drop": self.drop}


@dataclass(frozen=True)
class Controls:
    """The pooled controls against the target (difference-in-differences)."""

    routes: tuple[ControlChange, ...]
    dispersion: Dispersion | None  # of the pooled controls; None without any control route
    usable: bool
    drop: float | None  # pooled controls' relative drop of the rate
    adjusted_drop: float | None  # 1 - target ratio / controls ratio
    p_value: float | None  # target fell more than the controls (None when not usable)

    def to_json(self) -> dict[str, Any]:
        return {"routes": [c.to_json() for c in self.routes], "usable": self.usable,
                "dispersion": self.dispersion.to_json() if self.dispersion else None,
                "drop": self.drop, "adjusted_drop": self.adjusted_drop, "p_value": self.p_value}


@dataclass(frozen=True)
class PreTrend:
    """The baseline's last third against its first two thirds."""

    first: int
    first_minutes: int
    last: int
    last_minutes: int
    drop: float | None
    p_value: float
    collapsing: bool

    def to_json(self) -> dict[str, Any]:
        return {"first_two_thirds": {"events": self.first, "minutes": self.first_minutes},
                "last_third": {"events": self.last, "minutes": self.last_minutes},
                "drop": self.drop, "p_value": self.p_value, "collapsing": self.collapsing}


@dataclass(frozen=True)
class Assessment:
    relative_drop: float | None
    p_value_exact: float  # the exact Poisson test on raw counts (independent events)
    p_value: float  # the same test on counts deflated by their dispersion: the one the gate uses
    min_achievable_p: float
    dispersion: Dispersion
    controls: Controls
    pre_trend: PreTrend
    reasons: tuple[Reason, ...]


def pre_trend(baseline: Sequence[int], alpha: float) -> PreTrend:
    """Whether the baseline's last third fell significantly, by >= ``PRE_TREND_DROP``, against
    its first two thirds (each part's dispersion around its own mean)."""
    cut = round(len(baseline) * 2 / 3)
    head, tail = list(baseline[:cut]), list(baseline[cut:])
    first, last = sum(head), sum(tail)
    if not head or not tail:
        return PreTrend(first, len(head), last, len(tail), None, 1.0, False)
    phi, _ = dispersion((head, tail))
    drop = _ratio_drop(first, last, (len(head), len(tail)))
    p = p_value_drop(deflate(first, phi), len(head), deflate(last, phi, up=True), len(tail))
    return PreTrend(first, len(head), last, len(tail), drop, p,
                    p <= alpha and drop is not None and drop >= PRE_TREND_DROP)


def _pool(controls: Mapping[str, Counts]) -> Counts:
    def add(series: list[tuple[int, ...]]) -> tuple[int, ...]:
        width = max(map(len, series))
        return tuple(sum(s[i] for s in series if i < len(s)) for i in range(width))

    return Counts(add([c.baseline for c in controls.values()]), add([c.post for c in controls.values()]))


def compare_controls(m: Measurements, target: Dispersion) -> Controls:
    minutes = (m.baseline_minutes, m.post_minutes)
    changes = tuple(ControlChange(route, *c.totals, _ratio_drop(*c.totals, minutes))
                    for route, c in sorted(m.controls.items()))
    if not m.controls:
        return Controls(changes, None, False, None, None, None)
    pooled = _pool(m.controls)
    disp = measure_dispersion(pooled, minutes)
    base, post = pooled.totals
    drop = _ratio_drop(base, post, minutes)
    if disp.effective_events[0] < MIN_CONTROL_EVENTS:
        return Controls(changes, disp, False, drop, None, None)
    c_base, c_post = deflate(base, disp.phi), deflate(post, disp.phi)
    t_base, t_post = target.effective_events
    p = p_value_drop_vs_controls(t_base, t_post, c_base, c_post)
    t_base_raw, t_post_raw = m.target.totals
    adjusted = None
    if t_base_raw and base and post:
        adjusted = 1 - (t_post_raw / t_base_raw) / (post / base)
    return Controls(changes, disp, True, drop, adjusted, p)


def _fmt_p(p: float) -> str:
    return f"{p:.3g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{-value:+.0%}".replace("-", "−")


def _drop_reasons(m: Measurements, min_drop: float, numbers: dict[str, Any]
                  ) -> tuple[list[Reason], float | None]:
    base, post = m.target.totals
    minutes = (m.baseline_minutes, m.post_minutes)
    rate_b, rate_p = base / minutes[0], post / minutes[1]
    drop = _ratio_drop(base, post, minutes)
    what = f"failure {m.unit}"
    rates = (f"{base} {what} in {minutes[0]:g} min ({rate_b:.3g}/min) -> "
             f"{post} in {minutes[1]:g} min ({rate_p:.3g}/min)")
    if rate_p > rate_b:
        return [Reason("increase", "fail", f"failures increased: {rates}.", numbers)], drop
    if drop is None:
        return [], drop
    facts = {**numbers, "relative_drop": drop, "min_drop": min_drop}
    if drop < min_drop:
        return [Reason("drop_below_min", "fail",
                       f"relative drop {drop:.1%} is below the gate's min_drop {min_drop:.0%}: {rates}.",
                       facts)], drop
    return [Reason("drop_ok", "ok", f"relative drop {drop:.1%} >= min_drop {min_drop:.0%}: {rates}.",
                   facts)], drop


def _significance(m: Measurements, disp: Dispersion, alpha: float, drop_ok: bool,
                  stats: dict[str, Any]) -> Reason:
    base, _ = m.target.totals
    p, min_p = stats["p_value"], stats["min_achievable_p"]
    deflated = ""
    if disp.phi > 1:
        deflated = (f" (counts deflated by the dispersion {disp.phi:.3g} over {disp.block_minutes}-minute "
                    f"blocks: {m.target.totals[0]} -> {disp.effective_events[0]} and {m.target.totals[1]} -> "
                    f"{disp.effective_events[1]} independent events)")
    if p <= alpha:
        return Reason("significant", "ok",
                      f"one-sided exact test: p = {_fmt_p(p)} <= alpha {alpha:.3g} that the rate dropped"
                      f"{deflated}.", stats)
    if min_p > alpha:
        return Reason("too_little_signal", "inconclusive",
                      f"too little baseline signal: {base} failure {m.unit} in {m.baseline_minutes:g} min"
                      f"{deflated}; even zero post events would give p = {_fmt_p(min_p)} > alpha "
                      f"{alpha:.3g}. Capture longer windows.", stats)
    if drop_ok:
        return Reason("not_significant", "inconclusive",
                      f"the drop is not significant: p = {_fmt_p(p)} > alpha {alpha:.3g}{deflated} (a "
                      "longer post window could decide it).", stats)
    return Reason("not_significant", "note",
                  f"no significant drop either: p = {_fmt_p(p)} > alpha {alpha:.3g}{deflated}.", stats)


def _control_reason(c: Controls, target_drop: float | None, alpha: float, min_drop: float) -> Reason:
    routes = ", ".join(f"{r.route} {_pct(r.drop)}" for r in c.routes) or "none"
    numbers = c.to_json()
    if not c.usable:
        why = ("no other route had failures in these windows" if not c.routes else
               f"the controls carry too few independent failure events (need {MIN_CONTROL_EVENTS} "
               f"in the baseline; controls: {routes})")
        return Reason("no_controls", "note",
                      f"no usable control: {why}. A drop shared by the whole app cannot be ruled out; "
                      "the burst-robust test on the target alone decides.", numbers)
    assert c.p_value is not None
    summary = (f"controls {_pct(c.drop)}, target {_pct(target_drop)}; control-adjusted drop "
               f"{'n/a' if c.adjusted_drop is None else f'{c.adjusted_drop:.1%}'}, p = {_fmt_p(c.p_value)}")
    if c.p_value <= alpha and c.adjusted_drop is not None and c.adjusted_drop >= min_drop:
        return Reason("beyond_controls", "ok",
                      f"the target dropped beyond its controls ({summary} <= alpha {alpha}; "
                      f"controls: {routes}).", numbers)
    if c.drop is not None and c.drop > 0:
        return Reason("shared_drop", "inconclusive",
                      f"failures fell everywhere ({summary}): the incident may have ended on its own "
                      f"(controls: {routes}).", numbers)
    return Reason("not_beyond_controls", "inconclusive",
                  f"the target's drop is not shown beyond its controls ({summary}; need p <= alpha "
                  f"{alpha} and an adjusted drop >= {min_drop:.0%}; controls: {routes}).", numbers)


def _pre_trend_reason(t: PreTrend, unit: str, alpha: float) -> Reason:
    counts = (f"first two thirds {t.first} failure {unit} in {t.first_minutes} min, last third {t.last} "
              f"in {t.last_minutes} min (drop {'n/a' if t.drop is None else f'{t.drop:.1%}'}, "
              f"p = {_fmt_p(t.p_value)})")
    if t.collapsing:
        return Reason("pre_trend", "inconclusive",
                      f"the target was already collapsing inside the baseline: {counts}; the drop may "
                      "not be the change's. Capture a steadier baseline.", t.to_json())
    return Reason("no_pre_trend", "ok",
                  f"no collapse inside the baseline: {counts}; collapse needs a drop >= "
                  f"{PRE_TREND_DROP:.0%} with p <= alpha {alpha}.", t.to_json())


def assess(m: Measurements, *, min_drop: float, alpha: float) -> Assessment:
    """The target's checks: drop, burst-robust significance, controls, pre-trend."""
    minutes = (m.baseline_minutes, m.post_minutes)
    base, post = m.target.totals
    disp = measure_dispersion(m.target, minutes)
    controls = compare_controls(m, disp)
    p_exact = p_value_drop(base, minutes[0], post, minutes[1])
    p = p_value_drop(disp.effective_events[0], minutes[0], disp.effective_events[1], minutes[1])
    min_p = p_value_drop(disp.effective_events[0], minutes[0], 0, minutes[1])
    numbers = {"unit": m.unit, "baseline_events": base, "post_events": post,
               "baseline_minutes": round(minutes[0], 3), "post_minutes": round(minutes[1], 3),
               "baseline_rate_per_min": round(base / minutes[0], 6),
               "post_rate_per_min": round(post / minutes[1], 6)}
    reasons, drop = _drop_reasons(m, min_drop, numbers)
    stats = {**numbers, "p_value": p, "p_value_exact": p_exact, "min_achievable_p": min_p,
             "alpha": alpha, "exposure_ratio": round(minutes[1] / minutes[0], 6),
             "dispersion": disp.to_json()}
    drop_ok = bool(reasons) and reasons[-1].code == "drop_ok"
    reasons.append(_significance(m, disp, alpha, drop_ok, stats))
    reasons.append(_control_reason(controls, drop, alpha, min_drop))
    trend = pre_trend(m.target.baseline, alpha)
    reasons.append(_pre_trend_reason(trend, m.unit, alpha))
    return Assessment(drop, p_exact, p, min_p, disp, controls, trend, tuple(reasons))


def verdict_of(reasons: Sequence[Reason]) -> Literal["PASS", "FAIL", "INCONCLUSIVE"]:
    """Any failed check is FAIL; else any undecided check is INCONCLUSIVE; else PASS."""
    outcomes = {r.outcome for r in reasons}
    return "FAIL" if "fail" in outcomes else "INCONCLUSIVE" if "inconclusive" in outcomes else "PASS"
