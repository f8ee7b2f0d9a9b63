import json

import pytest

from reversal.iteration.ports import PlatformError
from reversal.logs.liveness import Liveness, SentProbe, check_file, expected_ids, require_live, scan
from reversal.logs.model import LogRecord
from reversal.logs.readers import read_records
from reversal.platform.probe import ProbeResult, vercel_request_id
from tests.zrg import EXPORT, OPERATOR_ARTIFACTS

ROUTE = "/api/webhooks/email"


def rec(rid, route=ROUTE, ts=1000, message=""):
    return LogRecord(ts_ms=ts, route=route, status=200, message=message, request_id=rid)


def test_probe_found_and_requests_counted_once_per_request():
    records = [rec("a"), rec("a", message="second line"), rec("b"), rec("probe-1"), rec("c", route="/other")]
    live = scan(records, route=ROUTE, expected=["probe-1"])
    assert live.live and live.found == ("probe-1",) and live.requests == 3
    assert live.problem() is None and live.flags() == []
    require_live(live, "post")  # no exception
    assert live.as_json()["probesExpected"] == ["probe-1"]


def test_a_probe_missing_at_the_window_end_means_the_source_lags():
    live = scan([rec("a"), rec("opening")], route=ROUTE, expected=["opening", "closing"])
    assert not live.live and live.missing == ("closing",)
    assert "1 of the loop's 2 probe request(s) (closing)" in live.problem() and "lags" in live.problem()


def test_missing_probe_is_not_evidence_and_stops_as_a_platform_error():
    live = scan([rec("a"), rec("b")], route=ROUTE, expected=["probe-1"])
    assert not live.live and live.requests == 2
    assert "probe-1" in live.problem() and "not evidence" in live.problem()
    with pytest.raises(PlatformError, match="post window is not evidence"):
        require_live(live, "post")


def test_empty_window_is_flagged_and_not_live():
    live = scan([], route=ROUTE, expected=["probe-1"])
    assert live.requests == 0 and live.flags() == [f"no requests on {ROUTE} in this window"]
    assert live.problem() is not None and not live.as_json()["live"]


def test_no_probe_sent_in_window_cannot_show_liveness():
    live = scan([rec("a")], route=ROUTE, expected=[])
    assert "no probe request" in live.problem()


def test_capture_without_request_ids_counts_rows_and_says_why():
    records = [rec(""), rec(""), rec("", route="/other")]
    live = scan(records, route=ROUTE, expected=["probe-1"])
    assert live.requests == 2 and not live.has_request_ids
    assert "no request ids" in live.problem()


def test_expected_ids_keeps_the_window_and_dedupes():
    sent = [SentProbe(50, "early"), SentProbe(100, "p1"), SentProbe(150, "p1"), SentProbe(200, "p2"),
            SentProbe(201, "late")]
    assert expected_ids(sent, 100, 200) == ("p1", "p2")


def test_request_id_from_a_real_x_vercel_id_header():
    name = "baseline-response-timing-response-headers-2026-02-18T03-15-37Z.txt"
    headers = (OPERATOR_ARTIFACTS / name).read_text()
    header = next(line.split(":", 1)[1].strip() for line in headers.splitlines()
                  if line.lower().startswith("x-vercel-id:"))
    assert vercel_request_id(header) == "2c8dd-1771384544933-13e91ad0e7da"
    assert vercel_request_id("cle1::iad1::abc12-1-ff") == "abc12-1-ff"
    assert vercel_request_id(None) is None and vercel_request_id("") is None


def test_probe_result_lists_the_request_ids_of_its_exchanges():
    result = ProbeResult(True, "dispatch", "https://x/api", 202, [], None, None, 0, exchanges=[
        {"responseHeaders": {"x-vercel-id": "iad1::aaaaa-1-01"}},
        {"responseHeaders": {"x-vercel-id": "iad1::bbbbb-2-02"}},
        {"responseHeaders": {}}])
    assert result.request_ids() == ["aaaaa-1-01", "bbbbb-2-02"]
    assert result.to_json()["requestIds"] == ["aaaaa-1-01", "bbbbb-2-02"]


def test_check_file_on_the_real_export(tmp_path):
    rows = json.loads(EXPORT.read_text())
    target = next(r for r in rows if r["requestPath"].endswith(ROUTE))["requestId"]
    live = check_file(EXPORT, route=ROUTE, expected=[target])
    distinct = {r.request_id for r in read_records(EXPORT) if r.route == ROUTE}
    assert live.live and live.requests == len(distinct) > 100
    # a capture whose filter kept another route: the webhook probe is not in it
    other = tmp_path / "other.json"
    other.write_text(json.dumps([r for r in rows if not r["requestPath"].endswith(ROUTE)]))
    missed = check_file(other, route=ROUTE, expected=[target])
    assert not missed.live and missed.requests == 0 and missed.flags()
    assert isinstance(missed, Liveness)
