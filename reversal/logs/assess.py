"""The target's checks of the verdict, over measurements only: per-minute failure counts of the
target and of its control routes in the two windows, and the windows' lengths.

Real failures arrive in bursts and incidents end on their own, so the exact Poisson test alone
is overconfident. On top of the drop and the exact test this module

- also tests the drop on blocks of minutes (an exact rank test on 5-minute block sums), whose
  p-value the gate takes when larger: a burst of hundreds of rows in a few minutes is a block
  or two, never hundreds of independent events; it reports the dispersion (quasi-Poisson
  chi2/df over 1-5 minute blocks) and the effective number of independent minutes;
- compares the target with control routes the slice does not touch over the same windows
  (difference-in-differences: Fisher's exact test on the counts and a rank test on the
  target's share of each block, the larger p-value): a drop shared by the whole app is not
  credited to the flag; with no usable control it says so and the test on the target alone
  decides;
- refuses a baseline that was already collapsing (its last third against its first two,
  counts deflated by their dispersion).

Pure (no records, no clock), so a fixed-window gate and a sequential one can share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reversal.logs.stats import (
    blocks,
    deflate,
    dispersion,
    min_achievable_p,
    p_value_drop,
    p_value_drop_vs_controls,
    rank_test_lower,
)

Outcome = Literal["ok", "fail", "inconclusive", "note"]

MIN_CONTROL_EVENTS = 5  # pooled control events (deflated by their dispersion) in the baseline
BLOCK_MINUTES = 5  # the units of the block tests ...
MIN_BLOCKS = 6  # ... made shorter when a window would have fewer blocks than this,
MAX_BLOCKS = 12  # ... and longer when it would have more (the exact rank test stays instant)
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
    p_value_own_drop: float | None  # the controls' own drop (None without enough signal)

    def to_json(self) -> dict[str, Any]:
        return {"routes": [c.to_json() for c in self.routes], "usable": self.usable,
                "dispersion": self.dispersion.to_json() if self.dispersion else None,
                "drop": self.drop, "adjusted_drop": self.adjusted_drop, "p_value": self.p_value,
                "p_value_own_drop": self.p_value_own_drop}


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


def block_minutes(counts: Counts) -> int:
    shortest, longest = sorted((len(counts.baseline), len(counts.post)))
    if shortest < BLOCK_MINUTES * MIN_BLOCKS:
        return max(1, shortest // MIN_BLOCKS)
    return max(BLOCK_MINUTES, -(-longest // MAX_BLOCKS))


@dataclass(frozen=True)
class DropTest:
    """Did the rate drop? The exact Poisson test and the block rank test; the gate's p-value is
    the larger (each is valid where the other is not: few events / bursts)."""

    p_exact: float
    p_blocks: float
    min_achievable_p: float  # the gate's p-value had the post window no event at all
    block_minutes: int
    blocks: tuple[int, int]  # baseline, post

    @property
    def p_value(self) -> float:
        return max(self.p_exact, self.p_blocks)

    def to_json(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "p_value_exact": self.p_exact, "p_value_blocks": self.p_blocks,
                "min_achievable_p": self.min_achievable_p, "block_minutes": self.block_minutes,
                "blocks": {"baseline": self.blocks[0], "post": self.blocks[1]}}


@dataclass(frozen=True)
class Assessment:
    relative_drop: float | None
    test: DropTest
    dispersion: Dispersion
    controls: Controls
    pre_trend: PreTrend
    reasons: tuple[Reason, ...]

    @property
    def p_value(self) -> float:
        return self.test.p_value


def drop_test(counts: Counts, minutes: tuple[float, float]) -> DropTest:
    base, post = counts.totals
    size = block_minutes(counts)
    before, after = blocks(counts.baseline, size), blocks(counts.post, size)
    best = max(min_achievable_p(base, minutes[1] / minutes[0]), rank_test_lower(before, [0] * len(after)))
    return DropTest(p_value_drop(base, minutes[0], post, minutes[1]), rank_test_lower(before, after),
                    best, size, (len(before), len(after)))


def did_p_value(target: Counts, controls: Counts) -> float:
    """One-sided p-value that the target fell more than the pooled controls: the larger of
    Fisher's exact test on the totals and the rank test on the target's share of each block
    (blocks without any failure say nothing and are left out)."""
    size = block_minutes(target)

    def shares(t: Sequence[int], c: Sequence[int]) -> list[float]:
        return [a / (a + b) for a, b in zip(blocks(t, size), blocks(c, size), strict=False) if a + b]

    fisher = p_value_drop_vs_controls(*target.totals, *controls.totals)
    return max(fisher, rank_test_lower(shares(target.baseline, controls.baseline),
                                       shares(target.post, controls.post)))


def compare_controls(m: Measurements, alpha: float) -> Controls:
    """The controls' verdict: usable (enough independent baseline events, and either a DiD that
    could reach significance or a significant drop of their own), their drop and the DiD p-value."""
    minutes = (m.baseline_minutes, m.post_minutes)
    changes = tuple(ControlChange(route, *c.totals, _ratio_drop(*c.totals, minutes))
                    for route, c in sorted(m.controls.items()))
    if not m.controls:
        return Controls(changes, None, False, None, None, None, None)
    pooled = _pool(m.controls)
    disp = measure_dispersion(pooled, minutes)
    base, post = pooled.totals
    drop = _ratio_drop(base, post, minutes)
    if disp.effective_events[0] < MIN_CONTROL_EVENTS:  # a control's lone burst is not a trend
        return Controls(changes, disp, False, drop, None, None, None)
    own = drop_test(pooled, minutes).p_value
    p = did_p_value(m.target, pooled)
    silent = Counts(m.target.baseline, (0,) * len(m.target.post))
    if own > alpha and did_p_value(silent, pooled) > alpha:
        # the controls did not fall, and no target outcome could beat them: nothing to learn
        return Controls(changes, disp, False, drop, None, None, own)
    t_base, t_post = m.target.totals
    adjusted = 1 - (t_post / t_base) / (post / base) if t_base and post else None
    return Controls(changes, disp, True, drop, adjusted, p, own)


def fmt_p(p: float) -> str:
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


def _significance(m: Measurements, test: DropTest, disp: Dispersion, alpha: float, drop_ok: bool,
                  stats: dict[str, Any]) -> Reason:
    base, _ = m.target.totals
    p, min_p = test.p_value, test.min_achievable_p
    how = (f"one-sided exact test p = {fmt_p(test.p_exact)}, rank test on {test.block_minutes}-minute "
           f"blocks ({test.blocks[0]} vs {test.blocks[1]}) p = {fmt_p(test.p_blocks)}; dispersion "
           f"{disp.phi:.3g}, {disp.effective_minutes[0]:.3g} effective minutes in the baseline")
    if p <= alpha:
        return Reason("significant", "ok",
                      f"significant drop: p = {fmt_p(p)} <= alpha {alpha:.3g} ({how}).", stats)
    if min_p > alpha:
        return Reason("too_little_signal", "inconclusive",
                      f"too little baseline signal: {base} failure {m.unit} in {m.baseline_minutes:g} min; "
                      f"even zero post events would give p = {fmt_p(min_p)} > alpha {alpha:.3g} ({how}). "
                      "Capture longer windows.", stats)
    if drop_ok:
        return Reason("not_significant", "inconclusive",
                      f"the drop is not significant: p = {fmt_p(p)} > alpha {alpha:.3g} ({how}; a "
                      "longer post window could decide it).", stats)
    return Reason("not_significant", "note",
                  f"no significant drop either: p = {fmt_p(p)} > alpha {alpha:.3g} ({how}).", stats)


def _control_reason(c: Controls, target_drop: float | None, alpha: float, min_drop: float) -> Reason:
    routes = ", ".join(f"{r.route} {_pct(r.drop)}" for r in c.routes) or "none"
    numbers = c.to_json()
    if not c.usable:
        why = ("no other route had failures in these windows" if not c.routes else
               f"the controls carry too few independent failure events (need {MIN_CONTROL_EVENTS} "
               f"in the baseline; controls: {routes})" if c.p_value_own_drop is None else
               f"the controls neither fell significantly nor could any post window show the target "
               f"beyond them (controls: {routes})")
        return Reason("no_controls", "note",
                      f"no usable control: {why}. A drop shared by the whole app cannot be ruled out; "
                      "the burst-robust test on the target alone decides.", numbers)
    assert c.p_value is not None
    summary = (f"controls {_pct(c.drop)}, target {_pct(target_drop)}; control-adjusted drop "
               f"{'n/a' if c.adjusted_drop is None else f'{c.adjusted_drop:.1%}'}, p = {fmt_p(c.p_value)}")
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
              f"p = {fmt_p(t.p_value)})")
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
    controls = compare_controls(m, alpha)
    test = drop_test(m.target, minutes)
    numbers = {"unit": m.unit, "baseline_events": base, "post_events": post,
               "baseline_minutes": round(minutes[0], 3), "post_minutes": round(minutes[1], 3),
               "baseline_rate_per_min": round(base / minutes[0], 6),
               "post_rate_per_min": round(post / minutes[1], 6)}
    reasons, drop = _drop_reasons(m, min_drop, numbers)
    stats = {**numbers, **test.to_json(), "alpha": alpha, "exposure_ratio": round(minutes[1] / minutes[0], 6),
             "dispersion": disp.to_json()}
    drop_ok = bool(reasons) and reasons[-1].code == "drop_ok"
    reasons.append(_significance(m, test, disp, alpha, drop_ok, stats))
    reasons.append(_control_reason(controls, drop, alpha, min_drop))
    trend = pre_trend(m.target.baseline, alpha)
    reasons.append(_pre_trend_reason(trend, m.unit, alpha))
    return Assessment(drop, test, disp, controls, trend, tuple(reasons))


def verdict_of(reasons: Sequence[Reason]) -> Literal["PASS", "FAIL", "INCONCLUSIVE"]:
    """Any failed check is FAIL; else any undecided check is INCONCLUSIVE; else PASS."""
    outcomes = {r.outcome for r in reasons}
    return "FAIL" if "fail" in outcomes else "INCONCLUSIVE" if "inconclusive" in outcomes else "PASS"
