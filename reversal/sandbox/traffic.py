"""Synthetic production traffic on the compressed clock, fed straight into ``app.handle``.

Each simulated minute brings one invocation of every cron route (Vercel Cron, authorized
with the deployment's ``CRON_SECRET``), webhook traffic on ``/api/webhooks/email`` (a trickle
plus occasional bursts) and user reads on the two inbox barometers. A minute is generated
once it has fully elapsed, so every request is served by the deployment that really was
serving production at its timestamp.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator

from reversal.sandbox.app import BROWSER_UA, CRON_UA, ROUTES, WEBHOOK_UA, AppRequest

MINUTE_MS = 60_000
CRON_ROUTES = tuple(p for p, r in ROUTES.items() if p.startswith("/api/cron/"))


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
