"""Synthetic production traffic on the compressed clock, fed straight into ``app.handle``.

Each simulated minute brings one invocation of every cron route (Vercel Cron, authorized
with the deployment's ``CRON_SECRET``), webhook traffic on ``/api/webhooks/email`` (a trickle
plus occasional bursts) and user reads on the two inbox barometers. A minute is generated
once it has fully elapsed, so every request is served by the deployment that really was
serving production at its timestamp.

``TrafficModel`` (knob ``traffic_model``) shapes the failure rates over time: ``stationary``
(constant, the default), ``bursty`` (each route's rate times a gamma(0.5) factor of mean 1 that
lasts ~2.5 minutes: negative-binomial counts) and ``decay`` (an incident that ends on its own:
from the moment production first changes, e.g. the slice's redeploy, every route's failure rate
falls to ``DECAY_FLOOR`` of itself with a ``DECAY_TAU_MIN`` time constant).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterator, Mapping

from reversal.sandbox.app import BROWSER_UA, CRON_UA, ROUTES, WEBHOOK_UA, AppRequest

MINUTE_MS = 60_000
CRON_ROUTES = tuple(p for p, r in ROUTES.items() if p.startswith("/api/cron/"))
DECAY_FLOOR = 0.35  # share of the failure rate left once the incident is over
DECAY_TAU_MIN = 2.0  # simulated minutes
BURST_SHAPE = 0.5  # gamma shape of the bursty factor (variance 1 / shape)
BURST_REDRAW = 0.4  # chance per minute that a route's bursty factor is drawn again


class TrafficModel:
    """How the inline failure rates vary over simulated time (see the module docstring).

    ``stationary`` hands the configured rates back untouched and draws no random number, so a
    seeded sandbox behaves exactly as without the knob.
    """

    def __init__(self, name: str, seed: int | None) -> None:
        self.name = name
        self._rng = random.Random(f"traffic-model-{seed}" if seed is not None else None)
        self._factors: dict[tuple[str, int], float] = {}
        self._current: dict[str, float] = {}
        self._first_deployment: str | None = None
        self._incident_over_ms: int | None = None

    def _bursty(self, path: str, minute: int) -> float:
        key = (path, minute)
        if key not in self._factors:
            if path not in self._current or self._rng.random() < BURST_REDRAW:
                self._current[path] = self._rng.gammavariate(BURST_SHAPE, 1 / BURST_SHAPE)
            self._factors[key] = self._current[path]
        return self._factors[key]

    def _decay(self, ts_ms: int, deployment_id: str, ready_ms: int) -> float:
        if self._first_deployment is None:
            self._first_deployment = deployment_id
        elif deployment_id != self._first_deployment and self._incident_over_ms is None:
            self._incident_over_ms = ready_ms
        if self._incident_over_ms is None or ts_ms < self._incident_over_ms:
            return 1.0
        elapsed_min = (ts_ms - self._incident_over_ms) / MINUTE_MS
        return DECAY_FLOOR + (1 - DECAY_FLOOR) * math.exp(-elapsed_min / DECAY_TAU_MIN)

    def rates(self, ts_ms: int, base: Mapping[str, float], deployment_id: str, ready_ms: int
              ) -> Mapping[str, float]:
        """The failure rates at ``ts_ms`` for a request served by ``deployment_id`` (READY at
        ``ready_ms``); ``base`` maps routes to configured rates (else the route's default)."""
        if self.name == "stationary":
            return base
        if self.name == "decay":
            shared = self._decay(ts_ms, deployment_id, ready_ms)
            factors = {path: shared for path in ROUTES}
        else:
            factors = {path: self._bursty(path, ts_ms // MINUTE_MS) for path in ROUTES}
        return {path: min(1.0, base.get(path, r.default_failure_rate) * factors[path])
                for path, r in ROUTES.items()}


def minute_requests(minute: int, rng: random.Random) -> list[tuple[int, str, str, str]]:
    """``(ts_ms, method, path, user_agent)`` of the requests of one simulated minute, in time order."""
    start = minute * MINUTE_MS
    out = [(start + rng.randint(0, 900), "GET", path, CRON_UA) for path in CRON_ROUTES]
    webhooks = 1 + (rng.randint(4, 10) if rng.random() < 0.25 else 0)
    burst_at = rng.randint(0, 50_000)
    out += [(start + burst_at + rng.randint(0, 9_999), "POST", "/api/webhooks/email", WEBHOOK_UA)
            for _ in range(webhooks)]
    out += [(start + rng.randint(0, 59_999), "GET", "/api/inbox/conversations", BROWSER_UA) for _ in range(3)]
    out += [(start + rng.randint(0, 59_999), "GET", "/api/inbox/counts", BROWSER_UA) for _ in range(2)]
    return sorted(out)


def synthetic_requests(first_minute: int, last_minute: int, rng: random.Random,
                       secret_for: Callable[[int], str | None]) -> Iterator[tuple[int, AppRequest]]:
    """Requests of minutes ``first_minute..last_minute`` (inclusive); crons carry the secret
    of the deployment serving at their time, as Vercel Cron sends it."""
    for minute in range(first_minute, last_minute + 1):
        for ts, method, path, ua in minute_requests(minute, rng):
            headers = {"user-agent": ua}
            if ua == CRON_UA:
                secret = secret_for(ts)
                if secret:
                    headers["authorization"] = f"Bearer {secret}"
            body = b'{"event":"EMAIL_SENT"}' if method == "POST" else b""
            yield ts, AppRequest(method, path, headers, body, synthetic=True)


class TrafficThread:
    """Generates each simulated minute once it has elapsed, until stopped."""

    def __init__(self, next_minute: int, now_ms: Callable[[], int], emit: Callable[[int, int], None],
                 factor: float) -> None:
        self.next_minute, self.now_ms, self.emit, self.factor = next_minute, now_ms, emit, factor
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sandbox-traffic")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            complete = self.now_ms() // MINUTE_MS - 1
            if complete >= self.next_minute:
                self.emit(self.next_minute, complete)
                self.next_minute = complete + 1
            wait_ms = (complete + 2) * MINUTE_MS - self.now_ms()
            self._stop.wait(min(max(wait_ms / self.factor / 1000, 0.005), 0.5))
