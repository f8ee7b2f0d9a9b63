"""Probes against a real HTTP server on 127.0.0.1 that plays the app's cron routes."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from reversal.errors import InputError
from reversal.platform.probe import join_url, probe_route, probe_url, write_probe_artifact
from reversal.playbooks import load_playbooks

SECRET = "cron-secret-value-1234"
T0 = int(dt.datetime(2026, 2, 18, 5, 56, 47, tzinfo=dt.UTC).timestamp() * 1000)


def _bucket(ms: int, minutes: int) -> str:
    start = dt.datetime.fromtimestamp(ms // 1000 // (minutes * 60) * minutes * 60, dt.UTC)
    return start.strftime("%Y-%m-%dT%H:%M")


@dataclass
class App:
    """What the fake app does; tests flip these knobs to break one contract at a time."""

    mode: str = "dispatch"  # dispatch | inline
    now_ms: int = T0
    accept_unauthenticated: bool = False
    bucket_offset_min: int = 0
    event_name: str = "cron/response-timing.requested"
    echo_auth: bool = False
    redirect_to: str | None = None
    server_ms: int | None = None  # the app's own clock, when it differs from the prober's
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def _handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            auth = self.headers.get("authorization")
            app.requests.append((self.path, auth))
            target = self.raw_requestline.decode().split(" ")[1]  # http.server collapses "//"
            if target.startswith("//"):
                return self._send(308, {}, {"location": "/" + target.lstrip("/")})
            if app.redirect_to:
                return self._send(308, {}, {"location": app.redirect_to})
            if self.path != "/api/cron/response-timing":
                return self._send(404, {"error": "not found"})
            if auth != f"Bearer {SECRET}" and not app.accept_unauthenticated:
                return self._send(401, {"error": "Unauthorized"})
            if app.mode == "inline":
                return self._send(200, {"success": True, "inserted": 0, "durationMs": 5613})
            at = (app.server_ms or app.now_ms) + app.bucket_offset_min * 60_000
            key = "cron:response-timing:" + _bucket(at, 5)
            body = {
                "success": True,
                "mode": "dispatch-only",
                "dispatch": {"source": "cron/response-timing", "dispatchKey": key,
                             "dispatchWindowSeconds": 300},
                "event": {"name": app.event_name, "id": f"{app.event_name}:{key}"},
            }
            if app.echo_auth:
                body["debug"] = {"authorization": auth}
            return self._send(202, body, {"x-debug-auth": auth or ""} if app.echo_auth else None)

    return Handler


@pytest.fixture
def app() -> Iterator[tuple[App, str]]:
    state = App()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class SteppingClock:
    """Returns the given instants one after another (then the last), and tells the app."""

    def __init__(self, app: App, *instants: int) -> None:
        self.app, self.instants = app, list(instants)

    def now_ms(self) -> int:
        now = self.instants.pop(0) if len(self.instants) > 1 else self.instants[0]
        self.app.now_ms = now
        return now

    def sleep(self, seconds: float) -> None:
        raise AssertionError("a probe never sleeps")


@pytest.fixture(scope="module")
def playbook():
    return load_playbooks(None)["response-timing"]


def _probe(app_url: str, state: App, playbook, expect="dispatch", secret=SECRET, *instants):
    clock = SteppingClock(state, *(instants or (T0,)))
    with httpx.Client(timeout=5) as http:
        return probe_route(http=http, app_url=app_url, playbook=playbook, expect=expect,
                           secret=secret, clock=clock)


def test_join_url_is_canonical():
    assert join_url("https://a.example/", "/api/x") == "https://a.example/api/x"
    assert join_url("https://a.example//", "api/x") == "https://a.example/api/x"
    assert join_url("https://a.example/base/", "/api/x") == "https://a.example/base/api/x"
    assert "//api" not in join_url("http://127.0.0.1:8080/\n", "//api/x")
    with pytest.raises(InputError, match="not an absolute http"):
        join_url("a.example", "/api/x")


def test_dispatch_contract_ok(app, playbook):
    state, url = app
    result = _probe(url + "/", state, playbook)  # trailing slash on the base: still canonical
    assert result.problems == [] and result.ok
    assert result.status == 202 and result.unauthorized_status == 401
    assert result.dispatch_key == "cron:response-timing:2026-02-18T05:55"
    assert result.event_id == "cron/response-timing.requested:cron:response-timing:2026-02-18T05:55"
    assert [p for p, _ in state.requests] == ["/api/cron/response-timing"] * 2
    assert [a is None for _, a in state.requests] == [False, True]
    assert [e["status"] for e in result.exchanges] == [202, 401]
    assert result.exchanges[0]["request"] == f"GET {url}/api/cron/response-timing HTTP/1.1"
    assert result.exchanges[0]["body"]["mode"] == "dispatch-only"


def test_inline_contract_ok_and_dispatch_when_inline_expected(app, playbook):
    state, url = app
    state.mode = "inline"
    assert _probe(url, state, playbook, "inline").ok
    state.mode = "dispatch"
    result = _probe(url, state, playbook, "inline")
    assert not result.ok
    assert "status 202, expected 200 (inline)" in result.problems
    assert any("flag is not off" in p for p in result.problems)


def test_inline_response_when_dispatch_expected(app, playbook):
    state, url = app
    state.mode = "inline"
    result = _probe(url, state, playbook)
    assert not result.ok
    assert "status 200, expected 202 (dispatch-only)" in result.problems
    assert "JSON field 'mode' is absent, expected \"dispatch-only\"" in result.problems


def test_double_slash_308_is_a_url_problem(app, playbook):
    state, url = app
    with httpx.Client(timeout=5) as http:
        result = probe_url(http=http, url=url + "//api/cron/response-timing", playbook=playbook,
                           expect="dispatch", secret=SECRET, clock=SteppingClock(state, T0))
    assert not result.ok and result.status == 308
    assert result.location == "/api/cron/response-timing"
    assert len(result.problems) == 1
    assert result.problems[0].startswith("URL problem, not a route failure: 308 redirect to /api/cron")
    assert len(state.requests) == 1  # not followed, no unauthenticated request either


def test_redirect_to_other_host_is_reported_with_location(app, playbook):
    state, url = app
    state.redirect_to = "https://www.zrg.example/api/cron/response-timing"
    result = _probe(url, state, playbook)
    assert result.location == state.redirect_to
    assert "URL problem" in result.problems[0]


def test_route_accepting_unauthenticated_requests_is_caught(app, playbook):
    state, url = app
    state.accept_unauthenticated = True
    result = _probe(url, state, playbook)
    assert not result.ok and result.unauthorized_status == 202
    assert any("auth is NOT preserved" in p for p in result.problems)


def test_missing_secret_gets_401(app, playbook):
    state, url = app
    result = _probe(url, state, playbook, "dispatch", None)
    assert not result.ok and result.status == 401
    assert "no bearer secret (CRON_SECRET) was sent" in result.problems


def test_wrong_dispatch_bucket_is_caught(app, playbook):
    state, url = app
    state.bucket_offset_min = -5
    result = _probe(url, state, playbook)
    assert not result.ok
    assert result.dispatch_key == "cron:response-timing:2026-02-18T05:50"
    assert any("does not match the bucket rule" in p and "05:55" in p for p in result.problems)


def test_request_straddling_a_bucket_boundary_accepts_the_next_bucket(app, playbook):
    state, url = app
    before = int(dt.datetime(2026, 2, 18, 5, 59, 59, 900_000, tzinfo=dt.UTC).timestamp() * 1000)
    # sent at 05:59:59.9, handled (app clock) at 06:00:00.1: the next bucket's key is fine
    state.server_ms = before + 200
    result = _probe(url, state, playbook, "dispatch", SECRET, before, before + 200)
    assert result.dispatch_key == "cron:response-timing:2026-02-18T06:00" and result.ok
    # but a key two buckets off is not
    state.bucket_offset_min = 5
    result = _probe(url, state, playbook, "dispatch", SECRET, before, before + 200)
    assert not result.ok


def test_wrong_event_id_is_caught(app, playbook):
    state, url = app
    state.event_name = "cron/response-timing.requested-v2"
    result = _probe(url, state, playbook)
    assert not result.ok
    assert any("is not deterministic" in p for p in result.problems)


def test_secret_never_reaches_the_artifact(app, playbook, tmp_path: Path):
    state, url = app
    state.echo_auth = True  # the app echoes the Authorization header in body and headers
    result = _probe(url, state, playbook)
    path = write_probe_artifact(result, tmp_path / "probe.json")
    text = path.read_text()
    assert SECRET not in text and SECRET not in json.dumps(result.to_json())
    assert "Bearer [REDACTED]" in text
    assert json.loads(text)["exchanges"][0]["requestHeaders"]["authorization"] == "Bearer [REDACTED]"


def test_connection_refused_is_a_problem(playbook):
    with httpx.Client(timeout=2) as http:
        result = probe_route(http=http, app_url="http://127.0.0.1:9", playbook=playbook,
                             expect="dispatch", secret=SECRET, clock=SteppingClock(App(), T0))
    assert not result.ok and result.status is None
    assert result.problems[0].startswith("request failed")


def test_passive_slice_refuses_probe(playbook):
    webhook = load_playbooks(None)["webhooks-email"]
    with httpx.Client() as http, pytest.raises(InputError, match="verified passively"):
        probe_route(http=http, app_url="http://127.0.0.1:9", playbook=webhook, expect="dispatch",
                    secret=SECRET, clock=SteppingClock(App(), T0))
