"""Exact one-sided tests on two Poisson counts observed over different exposures.

Given ``k_base`` events over ``t_base`` minutes and ``k_post`` over ``t_post``, and conditioning
on the total ``n = k_base + k_post``, under equal rates ``k_post ~ Binomial(n, p)`` with
``p = t_post / (t_base + t_post)``. That turns "did the rate drop?" into an exact binomial
tail, valid for the small counts a 30-minute window yields, with no scipy. Tails are summed
in log space (``math.lgamma``) so thousands of events neither overflow nor underflow.
"""

from __future__ import annotations

import math


def _log_pmf(k: int, n: int, p: float) -> float:
    """log P(X = k) for X ~ Binomial(n, p), 0 < p < 1."""
    log_comb = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_comb + k * math.log(p) + (n - k) * math.log1p(-p)


def _log_sum_exp(terms: list[float]) -> float:
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if n < 0 or not 0 <= p <= 1:
        raise ValueError(f"binomial needs n >= 0 and 0 <= p <= 1 (got n={n}, p={p})")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0:
        return 1.0
    if p == 1:
        return 0.0
    return min(1.0, math.exp(_log_sum_exp([_log_pmf(i, n, p) for i in range(k + 1)])))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return binom_cdf(n - k, n, 1 - p)


def _post_share(t_base: float, t_post: float) -> float:
    if t_base <= 0 or t_post <= 0:
        raise ValueError(f"exposures must be positive (got baseline={t_base}, post={t_post})")
    return t_post / (t_base + t_post)


def p_value_drop(k_base: int, t_base: float, k_post: int, t_post: float) -> float:
    """One-sided p-value for "the post rate is lower than the baseline rate".

    H0: post rate >= baseline rate. p = P(X <= k_post), X ~ Binomial(k_base + k_post,
    t_post / (t_base + t_post)). No events at all gives p = 1 (no evidence either way).
    """
    return binom_cdf(k_post, k_base + k_post, _post_share(t_base, t_post))


def p_value_rise(k_base: int, t_base: float, k_post: int, t_post: float) -> float:
    """One-sided p-value for "the post rate is higher than the baseline rate" (barometers).

    H0: post rate <= baseline rate. p = P(X >= k_post) under the same binomial.
    """
    return binom_sf(k_post, k_base + k_post, _post_share(t_base, t_post))


def min_achievable_p(k_base: int, exposure_ratio: float) -> float:
    """The smallest drop p-value any post window could give: the one for zero post events.

    ``exposure_ratio`` is ``t_post / t_base``. With ``p = r / (1 + r)`` the best case is
    ``(1 - p) ** k_base``; when it exceeds alpha, no outcome can prove a drop and the verdict
    must be INCONCLUSIVE (3 baseline events over equal windows: 0.125 > 0.05).
    """
    if exposure_ratio <= 0:
        raise ValueError(f"exposure ratio must be positive (got {exposure_ratio})")
    return p_value_drop(k_base, 1.0, 0, exposure_ratio)
