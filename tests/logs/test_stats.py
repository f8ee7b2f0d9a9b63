import itertools
import math
from fractions import Fraction

import pytest

from reversal.logs.stats import (
    binom_cdf,
    binom_sf,
    blocks,
    deflate,
    dispersion,
    hypergeom_cdf,
    min_achievable_p,
    p_value_drop,
    p_value_drop_vs_controls,
    p_value_rise,
    pearson_dispersion,
    rank_test_lower,
)


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


def test_binomial_tail_of_thousands_of_events_matches_integer_arithmetic():
    # p = 1/2: P(X <= k) = sum C(n, i) / 2^n exactly, in integers
    for n, k in ((4001, 1900), (4001, 2000), (300, 3)):
        exact = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
        assert binom_cdf(k, n, 0.5) == pytest.approx(float(exact), rel=1e-9)


def _hypergeom_exact(k, total, marked, drawn):
    return Fraction(sum(math.comb(marked, i) * math.comb(total - marked, drawn - i) for i in range(k + 1)),
                    math.comb(total, drawn))


@pytest.mark.parametrize(("k", "total", "marked", "drawn"), [
    (0, 20, 5, 6), (2, 20, 5, 6), (5, 20, 5, 6), (1, 50, 10, 10), (30, 400, 120, 90), (0, 7, 0, 3),
])
def test_hypergeometric_matches_exact_counting(k, total, marked, drawn):
    assert hypergeom_cdf(k, total, marked, drawn) == pytest.approx(
        float(_hypergeom_exact(k, total, marked, drawn)), rel=1e-9)


def test_did_p_value_is_fishers_exact_test_by_enumerating_tables():
    # target 24 -> 0 while 100 control events -> 40: every table with the same margins
    base, post, c_base, c_post = 24, 0, 100, 40
    n_target, n_post, total = base + post, post + c_post, base + post + c_base + c_post

    def table_prob(x):  # target post count x, margins fixed
        return Fraction(math.comb(n_post, x) * math.comb(total - n_post, n_target - x),
                        math.comb(total, n_target))

    assert p_value_drop_vs_controls(base, post, c_base, c_post) == pytest.approx(float(table_prob(0)),
                                                                                 rel=1e-9)
    assert p_value_drop_vs_controls(20, 8, 100, 40) == pytest.approx(
        float(sum(Fraction(math.comb(48, x) * math.comb(120, 28 - x), math.comb(168, 28)) for x in range(9))),
        rel=1e-9)
    assert p_value_drop_vs_controls(0, 0, 50, 50) == 1.0  # no target signal: no evidence


def _rank_p_brute(before, after):
    pooled = list(before) + list(after)
    order = sorted(pooled)
    rank = {v: Fraction(sum(i + 1 for i, w in enumerate(order) if w == v), order.count(v))
            for v in set(pooled)}
    observed = sum(rank[v] for v in after)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(after)):
        total += 1
        hits += sum(rank[pooled[i]] for i in chosen) <= observed
    return Fraction(hits, total)


@pytest.mark.parametrize(("before", "after"), [
    ([1] * 6, [0] * 6), ([0, 0, 0, 5, 5, 5], [0] * 6), ([3, 1, 2], [0, 0, 5]),
    ([4, 4, 0, 2, 7, 1], [1, 0, 2, 0, 0, 3]),
    ([0.2, 0.5, 0.5, 1.0], [0.0, 0.5, 0.1]), ([2, 2], [2, 2, 2]),
])
def test_rank_test_matches_brute_force_enumeration_with_ties(before, after):
    assert rank_test_lower(before, after) == pytest.approx(float(_rank_p_brute(before, after)), rel=1e-12)


def test_rank_test_known_answers():
    assert rank_test_lower([1] * 6, [0] * 6) == pytest.approx(1 / 924)  # 1 / C(12, 6)
    assert rank_test_lower([0, 0, 0, 9, 9, 9], [0] * 6) == pytest.approx(84 / 924)  # C(9, 6) / C(12, 6)
    assert rank_test_lower([], [0, 1]) == 1.0 == rank_test_lower([1], [])


def test_dispersion_is_pearson_chi2_over_df_at_the_worst_block_size():
    # one burst: 30 events in one minute of 30 (the rest zero), a quiet second window
    burst = [30] + [0] * 29
    chi2, df = pearson_dispersion([burst, [0] * 30], 1)
    mean = Fraction(30, 30)
    assert df == 29
    assert chi2 == pytest.approx(float(sum((Fraction(c) - mean) ** 2 / mean for c in burst)))
    phi, _ = dispersion([burst, [0] * 30])
    assert phi == pytest.approx(max(pearson_dispersion([burst], b)[0] / pearson_dispersion([burst], b)[1]
                                    for b in (1, 2, 3, 5)))
    assert phi > 25 and deflate(30, phi) == 1  # a burst of 30 is worth one event
    # evenly spread counts are not overdispersed: the factor never goes below 1
    assert dispersion([[1] * 30, [1, 0] * 15]) == (1.0, 1)
    assert blocks([1, 2, 3, 4, 5, 6, 7], 3) == [6, 15]
    assert (deflate(10, 3.0), deflate(10, 3.0, up=True), deflate(9, 3.0, up=True)) == (3, 4, 3)
