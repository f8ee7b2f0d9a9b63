import math
import random

import pytest

from reversal.logs.sequential import (
    DROP_GRID,
    PRIOR_RATE,
    PRIOR_SHAPE,
    _log_mixture,
    _log_null_max,
    always_valid_p,
    cron_period_minutes,
    drop_evalue,
    evalue,
    look,
    min_soak_s,
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
    assert _log_null_max(kb, tb, kp, tp, 1.0, True) == pytest.approx(best, abs=2e-3)


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
    assert all(0 < rho < 1 for rho in DROP_GRID)


@pytest.mark.parametrize(("rho0", "above"), [(0.2, False), (1.0, False), (0.5, True)])
def test_boundary_null_maximum_equals_a_brute_force_search(rho0, above):
    kb, kp, tb, tp = 20, 9, 30.0, 10.0

    def loglik(lam: float, rho: float) -> float:
        mu = rho * lam
        return kb * math.log(lam) - lam * tb + kp * math.log(mu) - mu * tp

    rhos = [rho0 + j / 100 for j in range(0, 400)] if above else [rho0 * j / 200 for j in range(1, 201)]
    best = max(loglik(lam, rho) for lam in (i / 500 for i in range(1, 1000)) for rho in rhos)
    assert _log_null_max(kb, tb, kp, tp, rho0, above) == pytest.approx(best, abs=5e-3)


def _simulated_crossings(question, rate, rho, seed, runs=800):
    rng = random.Random(seed)
    crossed = 0
    for _ in range(runs):
        kb = sum(_poisson(rng, rate) for _ in range(30))
        kp = 0
        for minute in range(1, 31):
            kp += _poisson(rng, rate * rho)
            if evalue(question, kb, 30.0, kp, float(minute), min_drop=0.8) >= 20:
                crossed += 1
                break
    return crossed / runs


@pytest.mark.parametrize(("question", "rho"), [("not_material", 0.2), ("rise", 1.0)])
def test_early_fail_e_processes_keep_their_error_below_alpha(question, rho):
    """A true material drop (rho = 0.2) is rarely called 'not material', and no change is rarely
    called a rise, however often one looks."""
    rate = 0.8
    share = _simulated_crossings(question, rate, rho, seed=7)
    assert share <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 800)


def test_an_offload_that_does_not_help_is_decided_early():
    # 24 failures per 30 min before, the same rate after: FAIL well before the window ends
    first = next(m for m in range(1, 31)
                 if evalue("not_material", 24, 30.0, round(0.8 * m), float(m), min_drop=0.8) >= 20)
    assert first < 30


@pytest.mark.parametrize(("schedule", "period"), [
    ("*/5 * * * *", 5), ("* * * * *", 1), ("0 * * * *", 60), ("0,30 * * * *", 30),
    ("0 8 * * *", 1440), ("15 */6 * * *", 360), ("0 9 * * 1-5", 1440), ("5-10 * * * *", 55),
])
def test_cron_period_is_the_longest_gap(schedule, period):
    assert cron_period_minutes(schedule) == period


def test_unreadable_schedules_are_ignored_and_the_floor_holds():
    assert cron_period_minutes("@hourly") is None
    assert cron_period_minutes("*/0 * * * *") is None
    assert min_soak_s(["*/2 * * * *"]) == 600
    assert min_soak_s(["*/10 * * * *", "nonsense"]) == 1200


def _look(post, **kw):
    args = dict(baseline_minutes=30.0, post_minutes=float(len(post)), controls=None, dispersion=1.0,
                min_drop=0.8, alpha=0.05, burst=(3, 3), pre_trend=False)
    args.update(kw)
    return look([1, 1, 0, 1, 1] * 6, post, **args)


def test_look_decides_pass_fail_or_continue():
    assert _look([0] * 10).decision == "PASS"
    assert _look([0] * 3).decision == "continue"
    assert _look([0] * 10, pre_trend=True).decision == "continue"
    assert _look([0, 0, 3, 4, 5, 0]).decision == "FAIL"  # a sustained burst
    assert "burst" in _look([0, 0, 3, 4, 5, 0]).why
    # the controls fell as much as the target: no PASS however long the target stays at zero
    shared = _look([0] * 10, controls=(60, 1))
    assert shared.decision == "continue" and shared.e_drop_controls < 20
    assert _look([0] * 10, controls=(60, 20)).decision == "PASS"
    assert _look([0] * 10).as_json()["p_drop"] <= 0.05
