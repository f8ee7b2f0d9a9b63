"""The canary verdict: the new build (flag on) against the current production build (flag off),
measured over the same minutes.

Before/after windows are confounded by time (incidents end on their own, traffic has a daily
shape); two arms served at once are not. Rolling Releases split traffic by a set share, but the
realised split is what matters, so each arm's exposure is its own count of requests on the
target route, never the configured share. Given both arms' failure counts, under "the canary
fails at least as often per request as the control" the canary's count is at most
``Binomial(total failures, canary requests / all requests)`` — the same exact conditional test
as the fixed-window gate, with requests in place of minutes. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reversal.logs.stats import min_achievable_p, p_value_drop

MIN_ARM_REQUESTS = 20  # an arm with fewer requests on the target route cannot be judged


@dataclass(frozen=True)
class Arm:
    deployment_id: str
    requests: int  # distinct requests on the target route in the window
    failures: int  # of those, failing with the slice's target signature

    @property
    def rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"deploymentId": self.deployment_id, "requests": self.requests,
                "failures": self.failures, "failureRate": round(self.rate, 6)}


@dataclass(frozen=True)
class CanaryVerdict:
    verdict: str  # PASS | FAIL | INCONCLUSIVE
    reasons: tuple[str, ...]
    p_value: float | None
    relative_drop: float | None
    canary_share: float | None  # realised share of the target route's requests

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "pValue": self.p_value,
                "relativeDrop": self.relative_drop, "canaryShare": self.canary_share}


def assess(canary: Arm, control: Arm, *, min_drop: float, alpha: float,
           min_requests: int = MIN_ARM_REQUESTS) -> CanaryVerdict:
    """PASS: the canary's failure rate per request is at least ``min_drop`` below the control's
    and significantly lower (exact test, p <= alpha). FAIL: higher, or a drop below
    ``min_drop``. INCONCLUSIVE: an arm too small, or a drop the counts cannot prove."""
    arms = f"canary {canary.failures}/{canary.requests} vs control {control.failures}/{control.requests}"
    small = [name for name, arm in (("canary", canary), ("control", control))
             if arm.requests < min_requests]
    if small:
        return CanaryVerdict("INCONCLUSIVE", (
            f"{' and '.join(small)} arm too small to judge ({arms} failing requests; at least "
            f"{min_requests} requests on the target route per arm are needed).",), None, None, None)
    share = canary.requests / (canary.requests + control.requests)
    if control.failures == 0:
        return CanaryVerdict("INCONCLUSIVE", (
            f"the control arm shows no target failures ({arms}): nothing for the change to remove "
            "in this window.",), None, None, share)
    drop = 1 - canary.rate / control.rate
    p = p_value_drop(control.failures, control.requests, canary.failures, canary.requests)
    rates = f"{arms} failing requests ({canary.rate:.3%} vs {control.rate:.3%}; canary share {share:.1%})"
    if canary.rate > control.rate:
        return CanaryVerdict("FAIL", (f"the canary fails more often than the control: {rates}.",),
                             p, drop, share)
    if drop < min_drop:
        return CanaryVerdict("FAIL", (
            f"relative drop {drop:.1%} is below min_drop {min_drop:.0%}: {rates}.",), p, drop, share)
    if p <= alpha:
        return CanaryVerdict("PASS", (
            f"relative drop {drop:.1%} >= min_drop {min_drop:.0%}: {rates}.",
            f"exact conditional test over the same minutes: p = {p:.3g} <= alpha {alpha}."),
            p, drop, share)
    best = min_achievable_p(control.failures, canary.requests / control.requests)
    why = (f"even zero canary failures would give p = {best:.3g} > alpha {alpha}" if best > alpha
           else f"p = {p:.3g} > alpha {alpha}")
    return CanaryVerdict("INCONCLUSIVE", (
        f"relative drop {drop:.1%} >= min_drop {min_drop:.0%} but not proven: {why}; {rates}. "
        "A longer window or a larger canary share could decide it.",), p, drop, share)
