import math
from fractions import Fraction

import pytest

from reversal.logs.stats import binom_cdf, binom_sf, min_achievable_p, p_value_drop, p_value_rise


def _exact_cdf(k: int, n: int, p: Fraction) -> Fraction:
    """Brute force with rational arithmetic: no floating point anywhere."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


def test_hand_computed_small_cases():
    assert binom_cdf(0, 3, 0.5) == pytest.approx(0.125)
    assert binom_cdf(1, 6, 0.5) == pytest.approx(7 / 64)
    assert binom_sf(3, 3, 0.5) == pytest.approx(0.125)
    assert binom_cdf(1, 2, 0.25) == pytest.approx(1 - 0.25**2)
    # 3 baseline events, none after, equal windows: the best p-value possible is 1/8
    assert p_value_drop(3, 30, 0, 30) == pytest.approx(0.125)
    assert min_achievable_p(3, 1.0) == pytest.approx(0.125)
    assert min_achievable_p(5, 1.0) == pytest.approx(1 / 32)


@pytest.mark.parametrize(("k", "n", "num", "den"), [
    (0, 10, 1, 3), (4, 10, 1, 3), (10, 40, 1, 2), (7, 25, 2, 7), (30, 120, 1, 5), (0, 1, 1, 2),
])
def test_matches_brute_force_rational_sum(k, n, num, den):
    p = Fraction(num, den)
    assert binom_cdf(k, n, num / den) == pytest.approx(float(_exact_cdf(k, n, p)), rel=1e-9)
    assert binom_sf(k, n, num / den) == pytest.approx(float(1 - _exact_cdf(k - 1, n, p)), rel=1e-9)


def test_large_counts_neither_overflow_nor_underflow():
    # 600 events halved over equal windows: the drop is overwhelming but the p-value is exact
    value = p_value_drop(400, 30, 200, 30)
    exact = _exact_cdf(200, 600, Fraction(1, 2))
    assert value == pytest.approx(float(exact), rel=1e-9)
    assert 0 < value < 1e-15
    assert p_value_drop(5000, 30, 5000, 30) == pytest.approx(0.5, abs=0.01)


def test_exposure_ratio_changes_the_answer():
    # 10 events in 10 min vs 10 events in 30 min is a drop in rate: p uses p = 30/40
    assert p_value_drop(10, 10, 10, 30) == pytest.approx(float(_exact_cdf(10, 20, Fraction(3, 4))), rel=1e-9)
    assert p_value_drop(10, 10, 10, 30) < 0.05
    assert min_achievable_p(3, 2.0) == pytest.approx((1 / 3) ** 3)


def test_rise_is_the_other_tail():
    expected = float(1 - _exact_cdf(11, 14, Fraction(1, 2)))
    assert p_value_rise(2, 30, 12, 30) == pytest.approx(expected, rel=1e-9)
    assert p_value_rise(5, 30, 5, 30) > 0.5
    assert p_value_rise(0, 30, 0, 30) == 1.0
    assert p_value_drop(0, 30, 0, 30) == 1.0


def test_degenerate_inputs_are_rejected():
    with pytest.raises(ValueError, match="exposures"):
        p_value_drop(1, 0, 1, 1)
    with pytest.raises(ValueError, match="exposure ratio"):
        min_achievable_p(3, 0)
