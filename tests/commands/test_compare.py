"""`reversal compare` end to end through ``reversal.cli.main``.

Windows are written as NDJSON in the runtime-logs format and read by the real readers.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from reversal.cli import main
from tests.zrg import EXPORT

ROUTE = "/api/cron/response-timing"
T0 = 1771383600000  # 2026-02-18T03:00:00Z
POST = T0 + 60 * 60_000
MIN = 60_000


@pytest.fixture(autouse=True)
def project(tmp_path, monkeypatch):
    """An empty project folder: built-in playbooks, no reversal.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def line(ts, route=ROUTE, status=500, message="Transaction API error: expired transaction"):
    return {"timestampInMs": ts, "requestPath": route, "responseStatusCode": status,
            "message": message, "level": "error" if status in (500, 504, -1) else "info",
            "source": "serverless"}


def window(path: Path, failing_per_minute: list[int], start: int, *, meta=True, route=ROUTE,
           extra=()) -> Path:
    """An NDJSON window: failing lines as given per minute, one healthy line every minute."""
    rows = []
    for minute, count in enumerate(failing_per_minute):
        rows.append(line(start + minute * MIN + 30_000, status=200, message="ok"))
        rows += [line(start + minute * MIN + 1000 + j, route=route) for j in range(count)]
    rows += list(extra)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if meta:
        until = start + len(failing_per_minute) * MIN
        path.with_suffix(".meta.json").write_text(
            json.dumps({"window": {"since_ms": start, "until_ms": until}}))
    return path


def invoke(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def reasons(doc):
    return {r["code"]: r for r in doc["reasons"]}


def test_clear_drop_passes_exit_0_with_meta_spans(project, capsys):
    base = window(project / "base.jsonl", [2] * 30, T0)
    post = window(project / "post.jsonl", [0] * 20 + [1] + [0] * 9, POST)
    code, out, err = invoke(capsys, base, post, "--route", ROUTE, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "PASS" and doc["exit_code"] == 0
    assert set(reasons(doc)) == {"drop_ok", "significant", "no_burst", "no_controls", "no_pre_trend"}
    assert doc["unit"] == "rows"  # runtime-log lines carry no request id
    assert doc["target_failures"]["baseline"]["events"] == 60
    assert doc["target_failures"]["post"]["events"] == 1
    assert doc["inputs"]["baseline"]["meta"] == str(project / "base.meta.json")
    assert doc["windows"]["post"]["source"] == "meta"
    assert doc["target"]["statuses"] == [500, 504, "blank"]


def test_no_change_fails_exit_1_text_names_the_reason(project, capsys):
    base = window(project / "base.jsonl", [2] * 30, T0)
    post = window(project / "post.jsonl", [2] * 30, POST)
    code, out, _ = invoke(capsys, base, post, "--route", ROUTE)
    assert code == 1
    assert out.startswith(f"compare {ROUTE}: FAIL")
    assert "drop_below_min: relative drop 0.0% is below the gate's min_drop 80%" in out
    assert "\x1b[" not in out  # not a tty: no colours


def test_three_to_zero_is_inconclusive_exit_3_markdown(project, capsys):
    base = window(project / "base.jsonl", ([1] + [0] * 9) * 3, T0)
    post = window(project / "post.jsonl", [0] * 30, POST)
    code, out, _ = invoke(capsys, base, post, "--route", ROUTE, "--format", "md")
    assert code == 3
    assert out.startswith(f"# Compare `{ROUTE}`: **INCONCLUSIVE**")
    assert re.search(r"\| inconclusive \| `too_little_signal` \| too little baseline signal: 3 failure "
                     r"rows .* p = 0\.125 > alpha 0\.05", out)
    assert "No failure events in any minute of the post window." in out


def test_burst_with_builtin_playbook_fails_naming_it(project, capsys):
    base = window(project / "base.jsonl", [5] * 30, T0)
    post = window(project / "post.jsonl", [0] * 5 + [3, 4, 3, 3] + [0] * 21, POST)
    code, out, _ = invoke(capsys, base, post, "--playbook", "response-timing", "--json")
    assert code == 1
    doc = json.loads(out)
    burst = reasons(doc)["sustained_burst"]
    assert burst["numbers"]["start"] == "2026-02-18T04:05Z"
    assert burst["numbers"]["counts"] == [3, 4, 3, 3]
    assert reasons(doc)["drop_ok"]["outcome"] == "ok"
    assert doc["playbook"]["slice"] == "response-timing"
    assert doc["gate"]["barometers"] == ["/api/inbox/conversations", "/api/inbox/counts"]
    assert [r["code"] for r in doc["reasons"]].count("barometer_ok") == 2
    assert "p2028" in doc["target"]["signatures"]


def test_playbook_file_gate_and_flag_overrides(project, capsys):
    book = yaml.safe_load((Path(__file__).parents[2] / "reversal/builtin_playbooks/followups.yaml")
                          .read_text())
    book["gate"] = {"min_drop": 0.5, "alpha": 0.05, "burst": {"per_minute": 50, "minutes": 3},
                    "barometers": ["/api/inbox/conversations"]}
    (project / "slice.yaml").write_text(yaml.safe_dump(book))
    inbox = [line(POST + m * MIN, route="/api/inbox/conversations", status=504) for m in range(25)]
    base = window(project / "base.jsonl", [2] * 30, T0)
    post = window(project / "post.jsonl", [1] * 30, POST, extra=inbox)
    code, out, _ = invoke(capsys, base, post, "--playbook", project / "slice.yaml", "--route", ROUTE,
                          "--signature", "expired_transaction", "--status", "blank", "--json")
    doc = json.loads(out)
    assert doc["target"] == {"route": ROUTE, "statuses": ["blank"], "signatures": ["expired_transaction"]}
    assert doc["gate"]["min_drop"] == 0.5
    assert reasons(doc)["drop_ok"]["numbers"]["relative_drop"] == pytest.approx(0.5)
    worse = reasons(doc)["barometer_worse"]
    assert "/api/inbox/conversations" in worse["message"]
    assert code == 1 and doc["verdict"] == "FAIL"


def test_capture_style_meta_name_and_span_from_records(project, capsys):
    base = window(project / "baseline-response-timing-logs-2026-02-18T03-00-00Z.jsonl", [1] * 60, T0,
                  meta=False)
    (project / "baseline-response-timing-meta-2026-02-18T03-00-00Z.json").write_text(
        json.dumps({"window": {"since_ms": T0, "until_ms": T0 + 60 * MIN}}))
    post = window(project / "post.jsonl", [0] * 30, POST, meta=False)
    code, out, _ = invoke(capsys, base, post, "--route", ROUTE, "--json")
    doc = json.loads(out)
    meta = Path(doc["inputs"]["baseline"]["meta"])
    assert meta.name == "baseline-response-timing-meta-2026-02-18T03-00-00Z.json"
    assert doc["windows"]["baseline"]["minutes"] == 60  # the meta span, not the records'
    assert doc["windows"]["post"]["source"] == "records"
    assert doc["target_failures"]["baseline"]["rate_per_min"] == pytest.approx(1.0)
    assert code == 0


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --route ROUTE, or --playbook SLICE"),
    (["--playbook", "no-such-slice"], "known slices: appointment-reconcile"),
    (["--route", ROUTE, "--status", "5xx"], "--status '5xx': expected an HTTP status"),
    (["--route", ROUTE, "--signature", "nope"], "unknown signatures ['nope']"),
])
def test_bad_usage_exits_2_with_a_message(project, capsys, args, message):
    base = window(project / "base.jsonl", [1] * 3, T0)
    post = window(project / "post.jsonl", [0] * 3, POST)
    code, out, err = invoke(capsys, base, post, *args)
    assert code == 2
    assert message in err and "Traceback" not in err and out == ""


def test_bad_meta_and_empty_window_name_the_file(project, capsys):
    base = window(project / "base.jsonl", [1] * 3, T0)
    post = window(project / "post.jsonl", [0] * 3, POST)
    (project / "post.meta.json").write_text('{"window": {"since_ms": 5}}')
    code, _, err = invoke(capsys, base, post, "--route", ROUTE)
    assert code == 2 and f"{project / 'post.meta.json'}: field 'window.until_ms'" in err
    empty = project / "empty.jsonl"
    empty.write_text("")
    code, _, err = invoke(capsys, base, empty, "--route", ROUTE)
    assert code == 2 and err.count(str(empty)) == 1 and "Traceback" not in err


def test_real_export_against_a_clean_post_window(project, capsys):
    raw = json.loads(EXPORT.read_text())
    mine = [r for r in raw if r["requestPath"].endswith(ROUTE)]
    failing = {r["requestId"] for r in mine if r["responseStatusCode"] in (500, 504, "")}
    first = min(r["timestampInMs"] for r in mine) // MIN * MIN
    last = (max(r["timestampInMs"] for r in mine) // MIN + 1) * MIN
    (project / "zrg.meta.json").write_text(json.dumps({"window": {"since_ms": first, "until_ms": last}}))
    start = last + 30 * MIN
    rest = [line(r["timestampInMs"] - first + start, route=r["requestPath"], status=r["responseStatusCode"])
            for r in raw if not r["requestPath"].endswith(ROUTE) and first <= r["timestampInMs"] < last
            and r["responseStatusCode"] in (500, 504)]  # the rest of the app fails as before
    post = window(project / "post.jsonl", [0] * ((last - first) // MIN), start, extra=rest)
    code, out, _ = invoke(capsys, EXPORT, post, "--playbook", "response-timing",
                          "--baseline-meta", project / "zrg.meta.json", "--json")
    doc = json.loads(out)
    assert doc["unit"] == "requests"  # every failing row carries an id (the post has none failing)
    assert doc["target_failures"]["baseline"]["events"] == len(failing) == 110
    assert doc["target_failures"]["baseline"]["rows"] == len(mine)
    assert code == 0 and doc["verdict"] == "PASS"


def test_json_and_text_carry_dispersion_controls_and_pre_trend(project, capsys):
    other = "/api/cron/followups"
    steady = [line(T0 + m * MIN + 2000, route=other) for m in range(30)]
    steady_post = [line(POST + m * MIN + 2000, route=other) for m in range(30)]
    base = window(project / "base.jsonl", [1] * 30, T0, extra=steady)
    post = window(project / "post.jsonl", [0] * 30, POST, extra=steady_post)
    code, out, _ = invoke(capsys, base, post, "--route", ROUTE, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "PASS"
    assert doc["dispersion"]["phi"] == 1.0 and doc["dispersion"]["effective_minutes"]["baseline"] == 30
    assert doc["controls"]["routes"] == [{"route": other, "baseline": 30, "post": 30, "drop": 0.0}]
    assert doc["controls"]["usable"] and doc["controls"]["adjusted_drop"] == 1.0
    assert doc["pre_trend"]["collapsing"] is False
    assert doc["pre_trend"]["first_two_thirds"] == {"events": 20, "minutes": 20}
    assert {"p_value_exact", "p_value_blocks", "block_minutes"} <= set(doc["target_failures"])
    code, out, _ = invoke(capsys, base, post, "--route", ROUTE, "--control", "/api/cron/none")
    assert code == 0
    assert "controls (not usable): /api/cron/none 0->0" in out
    assert "pre-trend: 20 in 20 min, then 10 in 10 min" in out
    assert "rank test on 5-minute blocks" in out
