"""Exact one-sided tests on two Poisson counts observed over different exposures.

Given ``k_base`` events over ``t_base`` minutes and ``k_post`` over ``t_post``, and conditioning
on the total ``n = k_base + k_post``, under equal rates ``k_post ~ Binomial(n, p)`` with
``p = t_post / (t_base + t_post)``. That turns "did the rate drop?" into an exact binomial
tail, valid for the small counts a 30-minute window yields, with no scipy. Tails are summed
in log space (``math.lgamma``) so thousands of events neither overflow nor underflow.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

TAIL_LOG = 80.0  # terms below exp(-80) of the largest cannot change a double-precision sum
TAIL_SDS = 12


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
    # From k downwards, each term from the one above (pmf(i-1) = pmf(i) * i/(n-i+1) * (1-p)/p);
    # below the mode they only shrink, so stop once they weigh less than exp(-TAIL_LOG) of the
    # largest: tens of thousands of events cost a few hundred terms.
    term = _log_pmf(k, n, p)
    terms, top, odds, mode = [term], term, math.log((1 - p) / p), n * p
    for i in range(k, 0, -1):
        term += math.log(i / (n - i + 1)) + odds
        top = max(top, term)
        if i - 1 < mode and term < top - TAIL_LOG:
            break
        terms.append(term)
    return min(1.0, math.exp(_log_sum_exp(terms)))


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


def hypergeom_cdf(k: int, total: int, marked: int, drawn: int) -> float:
    """P(X <= k) for X ~ Hypergeometric: ``drawn`` items out of ``total`` of which ``marked``
    are marked; summed in log space like ``binom_cdf``."""
    if not 0 <= marked <= total or not 0 <= drawn <= total:
        raise ValueError(f"hypergeometric needs 0 <= marked, drawn <= total (got {total}, {marked}, {drawn})")
    low, high = max(0, drawn - (total - marked)), min(drawn, marked)
    if k < low:
        return 0.0
    if k >= high:
        return 1.0

    def log_comb(n: int, r: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)

    base = log_comb(total, drawn)
    mean = drawn * marked / total
    spread = math.sqrt(mean * (1 - marked / total) + 1)
    first = max(low, math.floor(mean - TAIL_SDS * spread - 1))
    if first > k:
        first = low
    terms = [log_comb(marked, i) + log_comb(total - marked, drawn - i) - base for i in range(first, k + 1)]
    return min(1.0, math.exp(_log_sum_exp(terms)))


def p_value_drop_vs_controls(base: int, post: int, control_base: int, control_post: int) -> float:
    """One-sided p-value for "the target's post/baseline ratio is below the controls'"
    (difference-in-differences on counts over the same two windows).

    Under H0 the target and the pooled controls change by the same factor, so given every
    margin of the 2x2 table the target's post count is hypergeometric (Fisher's exact test):
    the windows' lengths cancel out. No control signal at all gives p = 1.
    """
    total = base + post + control_base + control_post
    return hypergeom_cdf(post, total, post + control_post, base + post)


def pearson_dispersion(windows: Sequence[Sequence[int]], block: int) -> tuple[float, int]:
    """Pearson chi-square and degrees of freedom of ``block``-minute sums, each window's blocks
    around that window's own mean (a real drop between windows is not dispersion)."""
    chi2, df = 0.0, 0
    for counts in windows:
        sums = [sum(counts[i:i + block]) for i in range(0, len(counts) - block + 1, block)]
        mean = sum(sums) / len(sums) if sums else 0
        if len(sums) < 2 or mean == 0:
            continue
        chi2 += math.fsum((s - mean) ** 2 for s in sums) / mean
        df += len(sums) - 1
    return chi2, df


BLOCKS = (1, 2, 3, 5)  # minutes per block: bursts last minutes, so one minute is not one event
MIN_DF = 4  # fewer degrees of freedom estimate nothing


def dispersion(windows: Sequence[Sequence[int]]) -> tuple[float, int]:
    """Quasi-Poisson dispersion of per-minute counts: the largest Pearson chi2/df over block
    sizes of ``BLOCKS`` minutes (never below 1), and the block size that gave it.

    A Poisson process gives about 1 at every block size; failures that arrive together (one
    burst in one minute, an incident over several) inflate it. Dividing counts by it turns them
    into the number of independent events they are worth.
    """
    best, best_block = 1.0, 1
    for block in BLOCKS:
        chi2, df = pearson_dispersion(windows, block)
        if df >= MIN_DF and chi2 / df > best:
            best, best_block = chi2 / df, block
    return best, best_block


def deflate(count: int, phi: float, *, up: bool = False) -> int:
    """``count / phi`` as whole independent events, rounded down (``up``: rounded up), so the
    exact tests on deflated counts stay conservative in the direction that matters."""
    value = count / phi
    return math.ceil(value - 1e-9) if up else math.floor(value + 1e-9)


def blocks(counts: Sequence[int], size: int) -> list[int]:
    """Sums of consecutive ``size``-minute blocks (a trailing partial block is left out)."""
    return [sum(counts[i:i + size]) for i in range(0, len(counts) - size + 1, size)]


def rank_test_lower(before: Sequence[float], after: Sequence[float]) -> float:
    """Exact one-sided permutation p-value that ``after`` values are stochastically lower than
    ``before`` (Wilcoxon rank-sum with mid-ranks for ties): the share of the ways to label
    ``len(after)`` of the pooled values "after" whose rank sum is at most the observed one.

    Blocks of minutes are the units: whatever happens inside a block (a burst, a cron's rows),
    under H0 the blocks of the two windows are exchangeable. No value at all gives p = 1.
    """
    pooled = sorted([(v, 0) for v in before] + [(v, 1) for v in after])
    size, picks = len(pooled), len(after)
    if not before or not after:
        return 1.0
    ranks, i = [], 0  # doubled mid-ranks: integers
    while i < size:
        j = i
        while j + 1 < size and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        ranks += [i + j + 2] * (j - i + 1)
        i = j + 1
    observed = sum(r for r, (_, side) in zip(ranks, pooled, strict=True) if side)
    at_most = sum(n for total, n in _rank_sums(tuple(ranks), picks).items() if total <= observed)
    return at_most / math.comb(size, picks)


@functools.lru_cache(maxsize=4096)
def _rank_sums(ranks: tuple[int, ...], picks: int) -> dict[int, int]:
    """How many ways ``picks`` of ``ranks`` add up to each total (the null distribution; the
    same tie pattern recurs, hence the cache)."""
    ways: list[dict[int, int]] = [{0: 1}] + [{} for _ in range(picks)]  # ways[k][rank sum]
    for rank in ranks:
        for k in range(picks - 1, -1, -1):
            into = ways[k + 1]
            for total, n in ways[k].items():
                into[total + rank] = into.get(total + rank, 0) + n
    return ways[picks]
