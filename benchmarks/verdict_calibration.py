#!/usr/bin/env python3
"""Calibrate the compare gate: how often it says PASS without a true effect, and with one.

usage: .venv/bin/python benchmarks/verdict_calibration.py [--slices N] [--seed S] [--sequential]

Simulates N slices per row with no true effect and N with one, as per-minute failure counts of
the target and of its controls over two 30-minute windows, and runs the gate's checks on them
(``reversal.logs.assess`` plus the post-window burst check; the barometer check is unchanged
and left out). Traffic models:

  stationary  Poisson per minute, constant rates;
  bursty      negative binomial: each route's rate times a gamma(0.5) factor that lasts ~2.5 min;
  decay       an incident ending on its own on every route: rates fall to 30-60% with a 2-8 min
              time constant, starting within 3 min of the windows' boundary;
  cron        every route a cron (every 1, 2, 5 or 10 min) failing with a probability, 1-4 rows each;
  replay      moving-block bootstrap (5-minute blocks, all routes together) of the real export
              tests/fixtures/zrg/exports: every route with >= 10 failures in the baseline is a target.

  canary      (docs/canary.md) two arms served at once: Poisson requests on the route split at
              random, 10% to the canary; each request fails with the same probability in both
              arms under a shared incident that decays (as ``decay``, from the window's start),
              times the effect in the canary. Judged by ``reversal.logs.canary.assess`` (exact
              conditional test on the realised split). ``--canary`` runs these rows only.

Effects: ``webhooks`` ~21,000 -> 0 failures per 30 min; ``response-timing`` ~24 -> 0 per 30 min
over >= 10 minutes; ``partial`` 3/min -> 90% fewer; ``mirror`` (replay) the target's post failures
removed. Prints per row: false PASS (no effect, verdict PASS), false FAIL (true effect >= min_drop,
verdict FAIL), power (true effect, PASS) and the INCONCLUSIVE shares. Exits 1 when a goal is
missed: false PASS <= alpha in every row; power >= 0.95 for the webhooks and response-timing
effects in every parametric model.

``--sequential`` judges each slice as the loop does with a live capture source: a look every
minute from the minimum soak (10 min) with the always-valid sequential test
(``reversal.logs.sequential.look``), the fixed-window gate at the end when no look decided; it
adds the median and 90th-percentile time-to-verdict (minutes) per row, and the goal that the
median for the response-timing effect is at most 0.4 of the window.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reversal.logs.assess import (  # noqa: E402
    Counts,
    Measurements,
    assess,
    compare_controls,
    measure_dispersion,
    pre_trend,
    verdict_of,
)
from reversal.logs.compare import DEFAULT_GATE, find_bursts  # noqa: E402
from reversal.logs.sequential import MIN_SOAK_S, look  # noqa: E402

EXPORT = REPO / "tests" / "fixtures" / "zrg" / "exports" / "zrg-dashboard-log-export-2026-02-17T18-12-24.json"
WINDOW = 30
GOAL_POWER = 0.95
GOAL_TIME_SHARE = 0.4  # sequential: median time-to-verdict of the response-timing effect / window
SEED_MODELS = ("stationary", "cron")  # the seed's effect as observed: steady failures, cron-driven
SEED_EFFECTS = ("webhooks", "response-timing")


def poisson(lam: float, rng: random.Random) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation: exact enough for counts this large
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


@dataclass(frozen=True)
class Route:
    rate: float  # failures per minute (poisson) or failure probability per run (cron)
    period: int = 0  # cron: runs every `period` minutes; 0: Poisson traffic
    rows: int = 1  # cron: rows per failing run


# The target scenarios and the controls a slice is judged against (as the sandbox: other crons
# failing ~0.6/min, two inbox barometers).
TARGETS = {"webhooks": Route(700.0), "response-timing": Route(0.8), "partial": Route(3.0)}
CRON_TARGETS = {"webhooks": Route(1.0, 1, 700), "response-timing": Route(0.8, 2, 2),
                "partial": Route(1.0, 1, 3)}
CONTROLS = (Route(0.6), Route(0.6), Route(0.6), Route(0.6), Route(0.6), Route(0.2))
CRON_CONTROLS = (Route(0.6, 1, 1), Route(0.6, 1, 2), Route(0.9, 5, 4), Route(0.5, 10, 3), Route(0.6, 1, 1))
EFFECT = {"webhooks": 0.0, "response-timing": 0.0, "partial": 0.1}  # post rate share with a true effect

Multiplier = Callable[[int], float]


def simulate(route: Route, minutes: int, factor: Multiplier, rng: random.Random, phase: int) -> list[int]:
    out = []
    for t in range(minutes):
        if route.period:
            runs = (t + phase) % route.period == 0
            out.append(route.rows if runs and rng.random() < min(1.0, route.rate * factor(t)) else 0)
        else:
            out.append(poisson(route.rate * factor(t), rng))
    return out


def bursty_factor(rng: random.Random) -> Multiplier:
    """A gamma(0.5) rate factor (mean 1) redrawn with probability 0.4 each minute."""
    values, current = [], rng.gammavariate(0.5, 2.0)
    for _ in range(2 * WINDOW):
        if rng.random() < 0.4:
            current = rng.gammavariate(0.5, 2.0)
        values.append(current)
    return values.__getitem__


def decay_factor(rng: random.Random) -> Multiplier:
    start = WINDOW + rng.uniform(-3, 3)
    floor, tau = rng.uniform(0.3, 0.6), rng.uniform(2, 8)
    return lambda t: 1.0 if t < start else floor + (1 - floor) * math.exp(-(t - start) / tau)


def one_slice(model: str, scenario: str, effect: bool, rng: random.Random) -> Measurements:
    cron = model == "cron"
    target = (CRON_TARGETS if cron else TARGETS)[scenario]
    shared = decay_factor(rng) if model == "decay" else (lambda t: 1.0)

    def factor() -> Multiplier:
        own = bursty_factor(rng) if model == "bursty" else (lambda t: 1.0)
        return lambda t: shared(t) * own(t)

    def split(series: list[int]) -> Counts:
        return Counts(tuple(series[:WINDOW]), tuple(series[WINDOW:]))

    target_factor = factor()
    share = EFFECT[scenario] if effect else 1.0
    counts = simulate(target, 2 * WINDOW, lambda t: target_factor(t) * (share if t >= WINDOW else 1.0),
                      rng, rng.randrange(max(1, target.period)))
    controls = {f"/control/{i}": split(simulate(c, 2 * WINDOW, factor(), rng,
                                                       rng.randrange(max(1, c.period))))
                for i, c in enumerate(CRON_CONTROLS if cron else CONTROLS)}
    return Measurements(split(counts), controls, WINDOW, WINDOW)


def verdict(m: Measurements, gate=DEFAULT_GATE) -> str:
    reasons = list(assess(m, min_drop=gate.min_drop, alpha=gate.alpha).reasons)
    burst = find_bursts(list(enumerate(m.target.post)), gate.burst)
    return "FAIL" if burst else verdict_of(reasons)


def sequential_verdict(m: Measurements, gate=DEFAULT_GATE) -> tuple[str, int]:
    """(verdict, minutes of post window used), as the loop decides with looks every minute."""
    trend = pre_trend(m.target.baseline, gate.alpha).collapsing
    for t in range(int(MIN_SOAK_S // 60), WINDOW):
        part = Measurements(Counts(m.target.baseline, m.target.post[:t]),
                            {r: Counts(c.baseline, c.post[:t]) for r, c in m.controls.items()},
                            m.baseline_minutes, t)
        controls = compare_controls(part, gate.alpha)
        pooled = ((sum(c.baseline for c in controls.routes), sum(c.post for c in controls.routes))
                  if controls.usable else None)
        phi = measure_dispersion(part.target, (m.baseline_minutes, t)).phi
        seen = look(m.target.baseline, part.target.post, baseline_minutes=m.baseline_minutes,
                    post_minutes=t, controls=pooled, dispersion=phi,
                    min_drop=gate.min_drop, alpha=gate.alpha,
                    burst=(gate.burst.per_minute, gate.burst.minutes), pre_trend=trend)
        if seen.decision != "continue":
            return seen.decision, t
    return verdict(m, gate), WINDOW


def busy_minutes(series: tuple[int, ...]) -> int:
    return sum(1 for c in series if c)


def export_matrix() -> dict[str, list[int]]:
    """Failure rows per route per minute of the real export (5xx, blank or a catalogued signature)."""
    from reversal.logs.compare import Criteria
    from reversal.logs.readers import read_records
    from reversal.logs.signatures import build_catalogue

    catalogue = build_catalogue()
    records = list(read_records(EXPORT))
    first = min(r.ts_ms for r in records) // 60_000
    width = max(r.ts_ms for r in records) // 60_000 - first + 1
    out: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    for r in records:
        if Criteria.route_failure(r, tuple(catalogue.match(r.message))):
            out[r.route][r.ts_ms // 60_000 - first] += 1
    return dict(out)


def replay_slices(matrix: dict[str, list[int]], rng: random.Random, block: int = 5
                  ) -> list[tuple[str, Measurements, Measurements]]:
    """One bootstrap draw: (target, measurements without effect, mirror with the effect)."""
    width = len(next(iter(matrix.values())))

    def draw() -> list[int]:
        starts = [rng.randrange(width - block + 1) for _ in range(WINDOW // block)]
        return [s + i for s in starts for i in range(block)]

    base_idx, post_idx = draw(), draw()
    windows = {route: Counts(tuple(s[i] for i in base_idx), tuple(s[i] for i in post_idx))
               for route, s in matrix.items()}
    out = []
    for target, counts in windows.items():
        if sum(counts.baseline) < 10:
            continue
        controls = {r: c for r, c in windows.items() if r != target and (sum(c.baseline) or sum(c.post))}
        h0 = Measurements(counts, controls, WINDOW, WINDOW)
        h1 = Measurements(Counts(counts.baseline, (0,) * WINDOW), controls, WINDOW, WINDOW)
        out.append((target, h0, h1))
    return out


# The canary model: (requests per minute on the route, failure probability per request, minutes).
CANARY_TRAFFIC = {"busy 30m": (100.0, 0.3, 30), "trickle 30m": (2.75, 0.6, 30),
                  "trickle 90m": (2.75, 0.6, 90)}
CANARY_EFFECTS = {"none": 1.0, "full": 0.0, "partial": 0.1, "harm": 1.5}
CANARY_SHARE = 0.10


def canary_slice(traffic: str, effect: float, rng: random.Random) -> str:
    """One canary window: both arms share one decaying incident minute by minute; Poisson
    requests split at random, so each arm's requests and failures are independent Poissons."""
    from reversal.logs.canary import Arm, assess

    rate, p_fail, minutes = CANARY_TRAFFIC[traffic]
    floor, tau = rng.uniform(0.3, 0.6), rng.uniform(2, 8)
    counts = {"canary": [0, 0], "control": [0, 0]}
    for t in range(minutes):
        p = min(1.0, p_fail * (floor + (1 - floor) * math.exp(-t / tau)))
        for arm, share, p_arm in (("canary", CANARY_SHARE, min(1.0, p * effect)),
                                  ("control", 1 - CANARY_SHARE, p)):
            failures = poisson(rate * share * p_arm, rng)
            counts[arm][0] += failures + poisson(rate * share * (1 - p_arm), rng)
            counts[arm][1] += failures
    gate = DEFAULT_GATE
    return assess(Arm("canary", *counts["canary"]), Arm("control", *counts["control"]),
                  min_drop=gate.min_drop, alpha=gate.alpha).verdict


def canary_rows(n: int, rng: random.Random) -> list[Row]:
    """Per traffic shape: no effect (and a harmful canary) vs a true effect, at a 10% split."""
    rows = []
    for traffic in CANARY_TRAFFIC:
        for effect in ("full", "partial"):
            row = Row("canary", f"{traffic} {effect}", Counter(), Counter())
            for _ in range(n):
                row.h0[canary_slice(traffic, CANARY_EFFECTS["none"], rng)] += 1
                row.h0[canary_slice(traffic, CANARY_EFFECTS["harm"], rng)] += 1
                row.h1[canary_slice(traffic, CANARY_EFFECTS[effect], rng)] += 1
            rows.append(row)
    return rows


@dataclass
class Row:
    model: str
    scenario: str
    h0: Counter
    h1: Counter
    spread: int = 0  # effect slices whose baseline failures span >= 10 minutes
    spread_pass: int = 0
    times: list[int] = field(default_factory=list)  # sequential: minutes to the verdict (effect)

    def time_quantile(self, q: float) -> float | None:
        if not self.times:
            return None
        ordered = sorted(self.times)
        return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    def rate(self, counter: Counter, key: str) -> float:
        return counter[key] / max(1, sum(counter.values()))

    @property
    def power(self) -> float:
        if self.scenario == "response-timing":  # the goal is for failures over >= 10 minutes
            return self.spread_pass / max(1, self.spread)
        return self.rate(self.h1, "PASS")


def run(n: int, seed: int, sequential: bool = False, *, canary_only: bool = False) -> list[Row]:
    rng = random.Random(seed)
    if canary_only:
        return canary_rows(n, rng)
    rows = []

    def judge(m: Measurements, row: Row | None = None) -> str:
        if not sequential:
            return verdict(m)
        decided, minutes = sequential_verdict(m)
        if row is not None:
            row.times.append(minutes)
        return decided

    for model in ("stationary", "bursty", "decay", "cron"):
        for scenario in TARGETS:
            row = Row(model, scenario, Counter(), Counter())
            for _ in range(n):
                row.h0[judge(one_slice(model, scenario, False, rng))] += 1
                m = one_slice(model, scenario, True, rng)
                v = judge(m, row)
                row.h1[v] += 1
                if busy_minutes(m.target.baseline) >= 10:
                    row.spread += 1
                    row.spread_pass += v == "PASS"
            rows.append(row)
    matrix = export_matrix()
    by_target: dict[str, Row] = {}
    for _ in range(n):
        for target, h0, h1 in replay_slices(matrix, rng):
            row = by_target.setdefault(target, Row("replay", f"mirror {target}", Counter(), Counter()))
            row.h0[judge(h0)] += 1
            row.h1[judge(h1, row)] += 1
    return rows + [by_target[k] for k in sorted(by_target)] + ([] if sequential else canary_rows(n, rng))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=None,
                        help="slices per row and hypothesis (default 500; 200 with --sequential)")
    parser.add_argument("--seed", type=int, default=20260217)
    parser.add_argument("--sequential", action="store_true",
                        help="looks every minute from the minimum soak, as the loop with a live source")
    parser.add_argument("--canary", action="store_true", help="run the canary model's rows only")
    args = parser.parse_args(argv)
    args.slices = args.slices or (200 if args.sequential else 500)
    alpha = DEFAULT_GATE.alpha
    began = time.perf_counter()
    rows = run(args.slices, args.seed, args.sequential, canary_only=args.canary)
    mode = "sequential (looks every minute from 10 min)" if args.sequential else "fixed 30-minute window"
    print(f"{args.slices} slices per row without and with a true effect; {mode}; alpha {alpha}, "
          f"min_drop {DEFAULT_GATE.min_drop}; seed {args.seed}\n")
    timing = " median min to verdict | p90 min |" if args.sequential else ""
    print("| model | effect | false PASS | INCONCLUSIVE (no effect) | power | false FAIL "
          f"| INCONCLUSIVE (effect) | n (no effect / effect) |{timing}")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if timing else ""))
    missed = []
    for row in rows:
        false_pass = row.rate(row.h0, "PASS")
        times = (f" {row.time_quantile(0.5):g} | {row.time_quantile(0.9):g} |" if args.sequential else "")
        print(f"| {row.model} | {row.scenario} | {false_pass:.3f} | {row.rate(row.h0, 'INCONCLUSIVE'):.3f} "
              f"| {row.power:.3f} | {row.rate(row.h1, 'FAIL'):.3f} | {row.rate(row.h1, 'INCONCLUSIVE'):.3f} "
              f"| {sum(row.h0.values())} / {sum(row.h1.values())} |{times}")
        if (args.sequential and row.model in SEED_MODELS and row.scenario == "response-timing"
                and row.time_quantile(0.5) > GOAL_TIME_SHARE * WINDOW):
            missed.append(f"{row.model}/{row.scenario}: median time to verdict "
                          f"{row.time_quantile(0.5):g} min > {GOAL_TIME_SHARE} x {WINDOW} min")
        if false_pass > alpha:
            missed.append(f"{row.model}/{row.scenario}: false PASS {false_pass:.3f} > alpha {alpha}")
        if row.model not in ("replay", "canary") and row.scenario in SEED_EFFECTS and row.power < GOAL_POWER:
            missed.append(f"{row.model}/{row.scenario}: power {row.power:.3f} < {GOAL_POWER}")
    print("\npower of response-timing counts only slices whose baseline failures span >= 10 minutes.")
    print(f"canary rows: a {CANARY_SHARE:.0%} split; 'no effect' counts both an equal and a 1.5x worse "
          "canary (2 slices per draw); power is reported, not a goal.")
    print(f"took {time.perf_counter() - began:.1f} s")
    for line in missed:
        print(f"goal missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
