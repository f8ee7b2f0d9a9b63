"""An always-valid verdict for looks during the soak: end the post window as soon as the
evidence is decisive, without inflating false PASSes.

The fixed-window gate tests once, at the end of the post window. Looking every minute with
that test and stopping at the first small p-value would inflate false PASSes far above alpha.
The e-processes here may be looked at as often as wanted: under their null the chance that one
*ever* reaches ``1 / alpha`` is at most alpha (Ville's inequality).

Model: baseline failures ``K_b ~ Poisson(lam * t_b)``; post failures a Poisson process of rate
``rho * lam``. An e-value is a mixture likelihood over alternatives ``rho`` divided by the
likelihood maximised over the null (universal inference, Wasserman, Ramdas & Balakrishnan 2020):
for any true null (lam0, rho0) it is at most the mixture likelihood ratio against that null, a
non-negative martingale with mean 1, so Ville's inequality applies at every look. The baseline
rate has a Gamma(``PRIOR_SHAPE``, ``PRIOR_RATE``) prior, integrated in closed form.

Three questions, each its own e-process:
- ``drop``: H0 rho >= 1 (no drop), alternatives a grid of material drops;
- ``not_material``: H0 rho <= 1 - min_drop (a material drop), alternatives no or small drops —
  deciding early that the offload does not help;
- ``rise``: H0 rho <= 1, alternatives rises (a slice that made things worse).
Against controls the same e-processes run with the controls' failure counts as the exposure
(the target's failures per control failure), the sequential form of difference-in-differences.

Failures come in bursts, so counts are divided by the dispersion estimated from the per-minute
series (quasi-likelihood): a burst of 200 failures in one minute weighs like 200 / dispersion.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

DROP_GRID = (0.005, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5)
RISE_GRID = (1.5, 2.0, 3.0, 5.0, 10.0)
PRIOR_SHAPE = 1.0
PRIOR_RATE = 1.0  # per unit of exposure: a weak prior around one failure a minute
MIN_SOAK_S = 600.0  # never decide early before 10 minutes of post window ...
MIN_CRON_PERIODS = 2  # ... nor before two periods of the route's cron schedule

Question = Literal["drop", "not_material", "rise"]


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def _log_mixture(k_base: float, t_base: float, k_post: float, t_post: float, rho: float) -> float:
    """log of the likelihood at ``rho``, integrated over lam ~ Gamma(a, b)."""
    a, b, n = PRIOR_SHAPE, PRIOR_RATE, k_base + k_post
    return (k_post * math.log(rho) + a * math.log(b) + math.lgamma(n + a) - math.lgamma(a)
            - (n + a) * math.log(t_base + rho * t_post + b))


def _log_max(k_base: float, t_base: float, k_post: float, t_post: float, rho: float) -> float:
    """log of the likelihood maximised over lam at a fixed ``rho``."""
    lam = (k_base + k_post) / (t_base + rho * t_post)
    return _xlogy(k_base + k_post, lam) + _xlogy(k_post, rho) - (k_base + k_post)


def _log_null_max(k_base: float, t_base: float, k_post: float, t_post: float, rho0: float,
                  null_above: bool) -> float:
    """log of the likelihood maximised over the null ``rho >= rho0`` (``null_above``) or
    ``rho <= rho0``, and any lam: the unconstrained maximum when it lies in the null, else the
    boundary (the likelihood is unimodal in rho)."""
    if k_base == 0 and k_post == 0:
        return 0.0
    ratio = math.inf if k_base == 0 else (k_post / t_post) / (k_base / t_base)
    inside = ratio >= rho0 if null_above else ratio <= rho0
    if inside:
        return (_xlogy(k_base, k_base / t_base) - k_base + _xlogy(k_post, k_post / t_post) - k_post)
    return _log_max(k_base, t_base, k_post, t_post, rho0)


def evalue(question: Question, k_base: float, t_base: float, k_post: float, t_post: float, *,
           min_drop: float = 0.8, dispersion: float = 1.0) -> float:
    """The e-value of ``question`` (see the module doc); ``t_*`` are exposures (minutes, or
    control failures), ``dispersion`` >= 1 deflates the counts."""
    if t_base <= 0 or t_post <= 0:
        raise ValueError(f"exposures must be positive (got baseline={t_base}, post={t_post})")
    if k_base < 0 or k_post < 0:
        raise ValueError(f"counts must be non-negative (got {k_base}, {k_post})")
    if question == "drop":  # the alternatives worth finding: drops of at least min_drop
        grid = tuple(r for r in DROP_GRID if r <= 1 - min_drop + 1e-12) or (1 - min_drop,)
        rho0, above = 1.0, True
    elif question == "rise":
        grid, rho0, above = RISE_GRID, 1.0, False
    else:
        rho0 = 1.0 - min_drop
        grid, above = tuple(r for r in (0.5, 0.75, 1.0, 1.5, 2.0) if r > rho0), False
    phi = max(1.0, dispersion)
    kb, kp = k_base / phi, k_post / phi
    terms = [_log_mixture(kb, t_base, kp, t_post, rho) for rho in grid]
    top = max(terms)
    log_mix = top + math.log(math.fsum(math.exp(t - top) for t in terms) / len(terms))
    return math.exp(min(700.0, log_mix - _log_null_max(kb, t_base, kp, t_post, rho0, above)))


def drop_evalue(k_base: float, t_base: float, k_post: float, t_post: float,
                dispersion: float = 1.0) -> float:
    """The e-value for "the post rate is lower than the baseline rate" (any drop on the grid)."""
    return evalue("drop", k_base, t_base, k_post, t_post, min_drop=0.5, dispersion=dispersion)


def always_valid_p(k_base: float, t_base: float, k_post: float, t_post: float,
                   dispersion: float = 1.0) -> float:
    """``min(1, 1 / e)`` of the drop e-value: a p-value valid at every look."""
    return min(1.0, 1.0 / drop_evalue(k_base, t_base, k_post, t_post, dispersion))


def running_p(looks: list[tuple[float, float]], k_base: float, t_base: float,
              dispersion: float = 1.0) -> list[float]:
    """The always-valid p-value after each look ``(k_post so far, t_post so far)``, as a running
    minimum: once the evidence has been seen it stays seen (still valid, by Ville)."""
    out: list[float] = []
    for k_post, t_post in looks:
        p = always_valid_p(k_base, t_base, k_post, t_post, dispersion)
        out.append(min(p, out[-1]) if out else p)
    return out


# -- the minimum soak ---------------------------------------------------------------------------

def _field(spec: str, low: int, high: int) -> set[int] | None:
    """The values of one cron field, or None when it is not understood."""
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else (1 if not step_text else 0)
        if not step:
            return None
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            if not (a.isdigit() and b.isdigit()):
                return None
            first, last = int(a), int(b)
        elif body.isdigit():
            first = last = int(body)
            if step_text:
                last = high
        else:
            return None
        if not low <= first <= last <= high:
            return None
        values.update(range(first, last + 1, step))
    return values


def cron_period_minutes(schedule: str) -> float | None:
    """The longest gap between two runs of a 5-field cron schedule, in minutes (a route that
    fails only on some invocations must be seen at least twice). Schedules restricted by day of
    month, month or weekday count as daily or longer; an unreadable one gives None."""
    fields = schedule.split()
    if len(fields) != 5:
        return None
    minutes, hours = _field(fields[0], 0, 59), _field(fields[1], 0, 23)
    if not minutes or not hours:
        return None
    if any(f != "*" for f in fields[2:]):
        return 1440.0
    runs = sorted(h * 60 + m for h in hours for m in minutes)
    gaps = [b - a for a, b in itertools.pairwise(runs)] + [runs[0] + 1440 - runs[-1]]
    return float(max(gaps))


def min_soak_s(schedules: Iterable[str], *, floor_s: float = MIN_SOAK_S) -> float:
    """At least ``floor_s`` and at least two periods of the route's slowest cron schedule."""
    periods = [p for p in (cron_period_minutes(s) for s in schedules) if p is not None]
    return max([floor_s, *(MIN_CRON_PERIODS * p * 60 for p in periods)])


# -- one look -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Look:
    """What one look during the soak saw, and whether it decides."""

    post_minutes: float
    baseline_events: int
    post_events: int
    dispersion: float
    e_drop: float
    e_drop_controls: float | None  # None without usable controls
    e_not_material: float
    e_rise: float
    burst: bool
    decision: Literal["PASS", "FAIL", "continue"]
    why: str

    @property
    def p_drop(self) -> float:
        """The always-valid p-value of the drop (against controls too, when there are some)."""
        e = self.e_drop if self.e_drop_controls is None else min(self.e_drop, self.e_drop_controls)
        return min(1.0, 1.0 / e)

    def as_json(self) -> dict[str, Any]:
        return {"post_minutes": round(self.post_minutes, 3), "baseline_events": self.baseline_events,
                "post_events": self.post_events, "dispersion": round(self.dispersion, 4),
                "e_drop": self.e_drop, "e_drop_controls": self.e_drop_controls,
                "e_not_material": self.e_not_material, "e_rise": self.e_rise,
                "p_drop": self.p_drop, "burst": self.burst, "decision": self.decision, "why": self.why}


def _burst(post: Sequence[int], per_minute: int, minutes: int) -> bool:
    run = 0
    for count in post:
        run = run + 1 if count >= per_minute else 0
        if run >= minutes:
            return True
    return False


def look(baseline: Sequence[int], post: Sequence[int], *, baseline_minutes: float,
         post_minutes: float, controls: tuple[int, int] | None, dispersion: float,
         min_drop: float, alpha: float, burst: tuple[int, int], pre_trend: bool) -> Look:
    """Decide at one look. PASS: the drop is at least ``min_drop``, proven by the always-valid
    drop e-value (and, with usable controls, by the one against the controls), no burst so far,
    no collapsing baseline (pre-trend). FAIL: decisively not a material drop, a significant
    rise, or a sustained burst. Otherwise continue. ``controls`` are the pooled controls'
    failures (baseline, post so far); ``burst`` is (per_minute, minutes)."""
    k_b, k_p = sum(baseline), sum(post)
    bound = 1 / alpha
    e_drop = evalue("drop", k_b, baseline_minutes, k_p, post_minutes, min_drop=min_drop,
                    dispersion=dispersion)
    e_ctrl = None
    if controls is not None and controls[0] > 0 and controls[1] > 0:
        e_ctrl = evalue("drop", k_b, controls[0], k_p, controls[1], min_drop=min_drop,
                        dispersion=dispersion)
    e_small = evalue("not_material", k_b, baseline_minutes, k_p, post_minutes, min_drop=min_drop,
                     dispersion=dispersion)
    e_rise = evalue("rise", k_b, baseline_minutes, k_p, post_minutes, dispersion=dispersion)
    bursting = _burst(post, *burst)
    drop = 1 - (k_p / post_minutes) / (k_b / baseline_minutes) if k_b else None

    def result(decision: Literal["PASS", "FAIL", "continue"], why: str) -> Look:
        return Look(post_minutes, k_b, k_p, dispersion, e_drop, e_ctrl, e_small, e_rise, bursting,
                    decision, why)

    if bursting:
        return result("FAIL", f"a sustained burst in the post window so far (>= {burst[0]}/min for "
                              f">= {burst[1]} minutes)")
    if e_rise >= bound:
        return result("FAIL", f"failures rose: e-value {e_rise:.3g} >= {bound:g}")
    if e_small >= bound:
        return result("FAIL", f"decisively not a material drop (>= {min_drop:.0%}): e-value "
                              f"{e_small:.3g} >= {bound:g}")
    proven = e_drop >= bound and (e_ctrl is None or e_ctrl >= bound)
    if proven and drop is not None and drop >= min_drop and not pre_trend:
        against = "" if e_ctrl is None else f", against the controls {e_ctrl:.3g}"
        return result("PASS", f"drop {drop:.1%} proven: e-value {e_drop:.3g}{against} >= {bound:g}")
    return result("continue", f"not decisive yet: drop e-value {e_drop:.3g}"
                  + ("" if e_ctrl is None else f", against the controls {e_ctrl:.3g}")
                  + f", not-material e-value {e_small:.3g} (need {bound:g})")
