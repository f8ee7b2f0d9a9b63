"""The standard post window's liveness: the probe step's requests must be in the capture."""

import json
from types import SimpleNamespace

import pytest

from reversal.iteration.machine import _post_liveness
from reversal.iteration.ports import PlatformError
from reversal.iteration.state import IterationState

ROUTE = "/api/cron/response-timing"
WINDOW = {"since_ms": 1_000, "until_ms": 100_000}


def _export(tmp_path, ids):
    rows = [{"timestampInMs": 5_000 + i, "requestPath": f"app.vercel.app{ROUTE}", "responseStatusCode": 200,
             "requestId": rid, "message": ""} for i, rid in enumerate(ids)]
    path = tmp_path / "post.json"
    path.write_text(json.dumps(rows))
    return path


def _state(probe):
    return IterationState(iteration="rt-1", slice="response-timing", route=ROUTE, created_ms=0, window_s=60,
                          facts={"probe": probe})


CTX = SimpleNamespace(playbook=SimpleNamespace(route=ROUTE))


def test_probe_found_counts_the_window(tmp_path):
    live = _post_liveness(CTX, _state({"sent_ms": 2_000, "request_ids": ["p1", "p2"]}),
                          _export(tmp_path, ["a", "p1", "p2"]), WINDOW)
    assert live["live"] and live["requests"] == 3 and "2 request(s) found" in live["summary"]


def test_probe_missing_stops_as_a_platform_error(tmp_path):
    with pytest.raises(PlatformError, match="post window is not evidence"):
        _post_liveness(CTX, _state({"sent_ms": 2_000, "request_ids": ["p1"]}), _export(tmp_path, ["a"]),
                       WINDOW)


def test_passive_slice_window_is_counted_and_flagged_when_empty(tmp_path):
    live = _post_liveness(CTX, _state({}), _export(tmp_path, []), WINDOW)
    assert not live["live"] and "not checked" in live["summary"] and "no requests" in live["summary"]
