import math
import random

import pytest

from reversal.logs.sequential import (
    PRIOR_RATE,
    PRIOR_SHAPE,
    RHO_GRID,
    _log_mixture,
    _log_null_max,
    always_valid_p,
    drop_evalue,
    running_p,
)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a normal approximation never needed here."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_mixture_closed_form_equals_numeric_integral():
    kb, tb, kp, tp, rho = 7, 30.0, 2, 12.0, 0.2

    def integrand(lam: float) -> float:
        a, b = PRIOR_SHAPE, PRIOR_RATE
        prior = b ** a * lam ** (a - 1) * math.exp(-b * lam) / math.gamma(a)
        return lam ** kb * math.exp(-lam * tb) * (rho * lam) ** kp * math.exp(-rho * lam * tp) * prior

    steps = 200_000
    upper = 5.0
    h = upper / steps
    numeric = sum(integrand((i + 0.5) * h) for i in range(steps)) * h
    assert math.log(numeric) == pytest.approx(_log_mixture(kb, tb, kp, tp, rho), abs=1e-6)


@pytest.mark.parametrize(("kb", "kp"), [(24, 0), (24, 3), (5, 20), (10, 5)])
def test_null_maximum_equals_a_brute_force_search(kb, kp):
    tb, tp = 30.0, 12.0

    def loglik(lam: float, rho: float) -> float:
        mu = rho * lam
        return (kb * math.log(lam) if kb else 0) - lam * tb + (kp * math.log(mu) if kp else 0) - mu * tp

    best = max(loglik(lam, rho) for lam in (i / 1000 for i in range(1, 2000))
               for rho in (1 + j / 20 for j in range(0, 380)))
    assert _log_null_max(kb, tb, kp, tp) == pytest.approx(best, abs=2e-3)


def test_no_evidence_without_a_drop():
    assert drop_evalue(24, 30, 24, 30) < 1
    assert drop_evalue(0, 30, 0, 10) <= 1
    assert always_valid_p(24, 30, 30, 30) == 1.0


def test_response_timing_effect_is_decisive_within_the_minimum_soak():
    # the seed's response-timing slice: ~24 failures per 30 min before, none after
    looks = [(0, float(t)) for t in range(1, 31)]
    p = running_p(looks, 24, 30.0)
    first = next(t for t, value in enumerate(p, start=1) if value <= 0.05)
    assert first <= 10
    assert p == sorted(p, reverse=True)  # a running minimum never rises


def test_dispersion_weakens_the_evidence():
    assert drop_evalue(24, 30, 0, 10, dispersion=4.0) < drop_evalue(24, 30, 0, 10)
    assert drop_evalue(24, 30, 0, 10, dispersion=0.5) == drop_evalue(24, 30, 0, 10)


def test_bad_exposures_are_refused():
    with pytest.raises(ValueError):
        drop_evalue(1, 0, 0, 1)
    with pytest.raises(ValueError):
        drop_evalue(-1, 30, 0, 1)


@pytest.mark.parametrize("rate", [0.1, 0.8, 5.0])
def test_looking_every_minute_keeps_false_pass_below_alpha(rate):
    """Under the null (no change), the chance of *ever* crossing 1/alpha over 30 looks is <= alpha:
    simulated, with the exact binomial bound on the simulation's own noise."""
    rng = random.Random(1234 + int(rate * 10))
    alpha, runs, crossed = 0.05, 1500, 0
    for _ in range(runs):
        kb = sum(_poisson(rng, rate) for _ in range(30))
        kp = 0
        for minute in range(1, 31):
            kp += _poisson(rng, rate)
            if drop_evalue(kb, 30.0, kp, float(minute)) >= 1 / alpha:
                crossed += 1
                break
    # 3 standard errors above alpha is still a failure of validity worth catching
    assert crossed / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_grid_is_all_drops():
    assert all(0 < rho < 1 for rho in RHO_GRID)
