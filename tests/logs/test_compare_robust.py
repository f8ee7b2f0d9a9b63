"""The checks that make a verdict trustworthy on real traffic: bursts, controls, pre-trend."""

import pytest

from reversal.logs.assess import Counts, Measurements, assess
from reversal.logs.compare import DEFAULT_GATE, render_markdown
from reversal.playbooks import Burst, Gate, parse_playbook
from tests.logs.test_compare import POST, ROUTE, codes, failing, healthy, reason, run

OTHERS = ("/api/cron/followups", "/api/cron/availability", "/api/cron/background-jobs")


def controls(per_minute_base, per_minute_post):
    """Three untouched cron routes failing as given, in both windows."""
    out = []
    for i, route in enumerate(OTHERS):
        out += failing(per_minute_base, route=route, tag=f"cb{i}")
        out += failing(per_minute_post, start=POST, route=route, tag=f"cp{i}")
    return out


def split(records):
    return [r for r in records if r.ts_ms < POST], [r for r in records if r.ts_ms >= POST]


def test_a_single_burst_does_not_make_a_verdict():
    # 200 failures in one minute, none after: the exact test alone says p ~ 1e-60
    result = run(failing([0] * 12 + [200] + [0] * 17), healthy(30, POST))
    assert result.verdict == "INCONCLUSIVE"
    assert codes(result)["too_little_signal"] == "inconclusive"
    test = result.assessment.test
    # one busy block of twelve lands in the baseline by chance half the time
    assert test.p_exact < 1e-50 and test.p_blocks == pytest.approx(0.5)
    disp = result.assessment.dispersion
    assert disp.phi > 100 and disp.effective_events[0] == 1
    assert disp.effective_minutes[0] == pytest.approx(30 / disp.phi)


def test_shared_drop_is_inconclusive_and_names_both_drops():
    # every route falls from 1/min to one failure in the whole post window
    base, post = split(failing([1] * 30) + controls([1] * 30, [0] * 12 + [1] + [0] * 17))
    post += failing([0] * 29 + [1], start=POST)
    result = run(base, post)
    assert result.verdict == "INCONCLUSIVE"
    shared = reason(result, "shared_drop")
    assert shared.outcome == "inconclusive"
    assert "failures fell everywhere (controls −97%, target −97%" in shared.message
    assert "the incident may have ended on its own" in shared.message
    assert shared.numbers["drop"] == pytest.approx(1 - 3 / 90)
    assert shared.numbers["p_value"] > 0.05
    assert {c["route"] for c in shared.numbers["routes"]} == set(OTHERS)
    assert codes(result)["significant"] == "ok"  # the drop itself is real; its cause is not shown


def test_drop_beyond_falling_controls_passes():
    # the controls halve, the target vanishes: 100% drop beyond the controls
    base, post = split(failing([1] * 30) + controls([1] * 30, [1, 0] * 15))
    result = run(base, post)
    assert result.verdict == "PASS"
    assert reason(result, "beyond_controls").numbers["drop"] == pytest.approx(0.5)


def test_drop_beyond_steady_controls_passes():
    base, post = split(failing([1] * 30) + controls([1] * 30, [1] * 30))
    result = run(base, post)
    assert result.verdict == "PASS", [r.message for r in result.reasons if r.outcome != "ok"]
    beyond = reason(result, "beyond_controls")
    assert beyond.numbers["adjusted_drop"] == pytest.approx(1.0) and beyond.numbers["p_value"] <= 0.05
    doc = result.to_json()
    assert doc["controls"]["usable"] and doc["controls"]["drop"] == pytest.approx(0.0)
    assert [c["route"] for c in doc["controls"]["routes"]] == sorted(OTHERS)
    text = render_markdown(doc)
    assert "- **Controls** (every other failing route and the barometers)" in text
    assert "- **Dispersion**" in text and "- **Pre-trend**" in text
    assert "| `/api/cron/followups` | 30 | 30 | +0% |" in text


def test_playbook_controls_override_the_automatic_choice():
    base, post = split(failing([1] * 30) + controls([1] * 30, [1, 0] * 15))
    gate = Gate(0.8, 0.05, Burst(3, 3), (), controls=("/api/cron/nothing-failing",))
    result = run(base, post, gate=gate)
    assert [c.route for c in result.assessment.controls.routes] == ["/api/cron/nothing-failing"]
    assert codes(result)["no_controls"] == "note" and result.verdict == "PASS"
    assert result.to_json()["gate"]["controls"] == ["/api/cron/nothing-failing"]
    book = parse_playbook({
        "slice": "response-timing", "route": ROUTE, "kind": "cron",
        "flag": {"name": "F", "on": "true", "off": "false"}, "target": {"statuses": [500]},
        "durable": {"function": "f"}, "gate": {"controls": ["/api/cron/followups"]},
    }, "book.yaml")
    assert book.gate.controls == ("/api/cron/followups",)
    assert parse_playbook({**_minimal(), "gate": {}}, "book.yaml").gate.controls is None


def _minimal():
    return {"slice": "response-timing", "route": ROUTE, "kind": "cron",
            "flag": {"name": "F", "on": "true", "off": "false"}, "target": {"statuses": [500]},
            "durable": {"function": "f"}}


def test_pre_trend_collapsing_baseline_is_inconclusive_with_numbers():
    # 3/min for 20 minutes, then nearly nothing for the last 10: the drop began before the change
    result = run(failing([3] * 20 + [0] * 9 + [1]), failing([0] * 30, start=POST) + healthy(30, POST))
    assert result.verdict == "INCONCLUSIVE"
    trend = reason(result, "pre_trend")
    assert trend.outcome == "inconclusive"
    assert trend.numbers["first_two_thirds"] == {"events": 60, "minutes": 20}
    assert trend.numbers["last_third"] == {"events": 1, "minutes": 10}
    assert trend.numbers["drop"] == pytest.approx(1 - (1 / 10) / (60 / 20))
    assert "already collapsing inside the baseline" in trend.message


def test_measurements_alone_decide_and_controls_that_cannot_inform_are_set_aside():
    target = Counts((1,) * 30, (0,) * 30)
    lone_burst = Counts((0,) * 10 + (40,) + (0,) * 19, (0,) * 30)  # a control's own incident, ended
    a = assess(Measurements(target, {"/x": lone_burst}, 30, 30), min_drop=0.8, alpha=0.05)
    assert not a.controls.usable and a.controls.dispersion.effective_events[0] < 5
    assert [r.code for r in a.reasons] == ["drop_ok", "significant", "no_controls", "no_pre_trend"]
    steady = Counts((1,) * 30, (1,) * 30)
    b = assess(Measurements(target, {"/y": steady}, 30, 30), min_drop=0.8, alpha=0.05)
    assert "beyond_controls" in [r.code for r in b.reasons]
    assert b.controls.p_value == max(b.controls.p_value, 1 / 924)  # the block rank test bounds it
    assert DEFAULT_GATE.controls is None
