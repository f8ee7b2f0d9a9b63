"""Sandbox traffic models (knob ``traffic_model``): how failure rates move over simulated time."""

import itertools

import pytest

from reversal.errors import InputError
from reversal.sandbox.app import ROUTES
from reversal.sandbox.settings import parse_knobs
from reversal.sandbox.traffic import DECAY_FLOOR, MINUTE_MS, TrafficModel

T0 = 1771383600000
TARGET = "/api/cron/response-timing"


def test_stationary_hands_the_configured_rates_back_untouched():
    base = {TARGET: 0.5}
    model = TrafficModel("stationary", seed=1)
    assert all(model.rates(T0 + m * MINUTE_MS, base, "dpl_a", T0) is base for m in range(30))


def test_decay_starts_when_production_first_changes_and_falls_on_every_route():
    model = TrafficModel("decay", seed=1)
    before = [model.rates(T0 + m * MINUTE_MS, {}, "dpl_seed", T0 - 3_600_000) for m in range(30)]
    assert all(r[p] == route.default_failure_rate for r in before for p, route in ROUTES.items())
    redeploy_ready = T0 + 30 * MINUTE_MS
    after = [model.rates(redeploy_ready + m * MINUTE_MS, {TARGET: 0.8}, "dpl_new", redeploy_ready)
             for m in range(40)]
    assert after[0][TARGET] == pytest.approx(0.8)  # the incident starts ending at READY ...
    shares = [r[TARGET] / 0.8 for r in after]
    assert all(a > b for a, b in itertools.pairwise(shares))  # ... and keeps falling
    assert shares[-1] == pytest.approx(DECAY_FLOOR, abs=0.01)
    for path, route in ROUTES.items():  # every route, by the same factor
        assert after[10][path] / (0.8 if path == TARGET else route.default_failure_rate) == \
            pytest.approx(shares[10])


def test_bursty_factors_average_one_persist_for_minutes_and_follow_the_seed():
    def factors(seed):
        model = TrafficModel("bursty", seed=seed)
        return [model.rates(T0 + m * MINUTE_MS, {TARGET: 0.001}, "d", T0)[TARGET] / 0.001
                for m in range(4000)]

    first = factors(7)
    assert first == factors(7) and first != factors(8)
    assert sum(first) / len(first) == pytest.approx(1.0, abs=0.15)
    repeats = sum(a == b for a, b in itertools.pairwise(first)) / (len(first) - 1)
    assert repeats == pytest.approx(0.6, abs=0.05)  # redrawn with probability 0.4 a minute
    assert max(first) > 5 * min(first) + 1  # overdispersed


def test_knob_parses_and_refuses_an_unknown_model():
    assert parse_knobs(["traffic_model=decay"]).traffic_model == "decay"
    assert parse_knobs([]).traffic_model == "stationary"
    with pytest.raises(InputError, match="traffic_model='weekly': expected one of stationary, bursty, decay"):
        parse_knobs(["traffic_model=weekly"])
