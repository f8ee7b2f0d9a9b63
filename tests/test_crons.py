import json

import pytest

from reversal.crons import changes, guard, read_vercel_json, schedules
from reversal.errors import InputError

BEFORE = [{"path": "/api/cron/response-timing", "schedule": "*/5 * * * *"},
          {"path": "/api/cron/followups", "schedule": "0 * * * *"}]


def test_schedules_group_by_path_and_fold_spaces():
    assert schedules([*BEFORE, {"path": "/api/cron/followups", "schedule": "30  *  * * *"}]) == {
        "/api/cron/followups": ("0 * * * *", "30 * * * *"),
        "/api/cron/response-timing": ("*/5 * * * *",),
    }


def test_changes_name_the_path_and_both_schedules():
    after = [{"path": "/api/cron/response-timing", "schedule": "*/10 * * * *"},
             {"path": "/api/cron/new", "schedule": "0 0 * * *"}]
    assert changes(schedules(BEFORE), schedules(after)) == [
        "/api/cron/followups: removed (was 0 * * * *)",
        "/api/cron/new: added with schedule 0 0 * * *",
        "/api/cron/response-timing: schedule */5 * * * * -> */10 * * * *",
    ]
    assert changes(schedules(BEFORE), schedules(list(reversed(BEFORE)))) == []


def test_guard_fails_on_a_change_unless_break_glass():
    changed = [{"path": "/api/cron/response-timing", "schedule": "* * * * *"}, BEFORE[1]]
    result = guard({"deployment": BEFORE, "vercel_json": BEFORE},
                   {"deployment": changed, "vercel_json": BEFORE}, None)
    assert not result["ok"]
    assert result["differences"] == [
        "deployment: /api/cron/response-timing: schedule */5 * * * * -> * * * * *"]
    allowed = guard({"deployment": BEFORE}, {"deployment": changed}, "moving to a queue")
    assert allowed["ok"] and allowed["break_glass"] == "moving to a queue"
    same = guard({"deployment": BEFORE}, {"deployment": BEFORE}, "unused")
    assert same["ok"] and same["break_glass"] is None


def test_read_vercel_json(tmp_path):
    assert read_vercel_json(tmp_path) == {"file": None, "crons": []}
    (tmp_path / "vercel.json").write_text(json.dumps({"crons": BEFORE}))
    assert read_vercel_json(tmp_path)["crons"] == BEFORE
    (tmp_path / "vercel.json").write_text("{nope")
    with pytest.raises(InputError, match=r"vercel\.json"):
        read_vercel_json(tmp_path)
