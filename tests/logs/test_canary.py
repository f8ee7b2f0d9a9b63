from fractions import Fraction
from math import comb

import pytest

from reversal.logs.canary import Arm, assess


def _exact_p(k_control: int, n_control: int, k_canary: int, n_canary: int) -> float:
    """P(X <= k_canary), X ~ Binomial(k_control + k_canary, n_canary / (n_control + n_canary)),
    in exact rational arithmetic (independent of the log-space implementation)."""
    total, p = k_control + k_canary, Fraction(n_canary, n_control + n_canary)
    return float(sum(comb(total, i) * p ** i * (1 - p) ** (total - i) for i in range(k_canary + 1)))


def test_pass_needs_a_material_and_significant_drop_measured_per_request():
    verdict = assess(Arm("dpl_new", 100, 0), Arm("dpl_old", 900, 40), min_drop=0.8, alpha=0.05)
    assert verdict.verdict == "PASS"
    assert verdict.canary_share == pytest.approx(0.1)
    assert verdict.p_value == pytest.approx(_exact_p(40, 900, 0, 100), rel=1e-9)


def test_an_offload_that_does_not_help_fails():
    verdict = assess(Arm("dpl_new", 100, 4), Arm("dpl_old", 900, 40), min_drop=0.8, alpha=0.05)
    assert verdict.verdict == "FAIL" and "below min_drop" in verdict.reasons[0]
    worse = assess(Arm("dpl_new", 100, 9), Arm("dpl_old", 900, 40), min_drop=0.8, alpha=0.05)
    assert worse.verdict == "FAIL" and "more often" in worse.reasons[0]


def test_small_arms_and_unprovable_drops_are_inconclusive():
    small = assess(Arm("dpl_new", 5, 0), Arm("dpl_old", 900, 40), min_drop=0.8, alpha=0.05)
    assert small.verdict == "INCONCLUSIVE" and "canary arm too small" in small.reasons[0]
    weak = assess(Arm("dpl_new", 100, 0), Arm("dpl_old", 900, 3), min_drop=0.8, alpha=0.05)
    assert weak.verdict == "INCONCLUSIVE" and "even zero canary failures" in weak.reasons[0]
    quiet = assess(Arm("dpl_new", 100, 0), Arm("dpl_old", 900, 0), min_drop=0.8, alpha=0.05)
    assert quiet.verdict == "INCONCLUSIVE"


def test_the_realised_split_not_the_configured_share_sets_the_exposure():
    # a 10% rolling release that in fact served the canary 30% of the route's requests
    verdict = assess(Arm("a", 300, 0), Arm("b", 700, 30), min_drop=0.8, alpha=0.05)
    assert verdict.canary_share == pytest.approx(0.3)
    assert verdict.p_value == pytest.approx(_exact_p(30, 700, 0, 300), rel=1e-9)
    assert verdict.p_value != pytest.approx(_exact_p(30, 900, 0, 100), rel=1e-3)
