import json

import httpx
import pytest
import respx

from reversal.errors import InputError, StepFailed
from reversal.platform.flags import plan_write, read_flag, write_flag
from reversal.platform.vercel import EnvVar, RetryPolicy
from tests.platform.fakes import FakeVercel, make_client

ALLOWED = ("true", "false")


@pytest.fixture
def fake():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVercel(router)


def test_edit_then_read_back(fake):
    fake.add_env("CRON_FOLLOWUPS_USE_INNGEST", "false")
    result = write_flag(make_client(), key="CRON_FOLLOWUPS_USE_INNGEST", value=" true\n", allowed=ALLOWED)
    assert result.changed and result.previous == "false" and result.value == "true"
    assert fake.value("CRON_FOLLOWUPS_USE_INNGEST") == "true"  # trimmed before writing
    assert result.read_back.value == "true" and not result.read_back.whitespace


def test_same_value_is_not_rewritten(fake):
    fake.add_env("F", "true")
    result = write_flag(make_client(), key="F", value="true", allowed=ALLOWED)
    assert not result.changed
    assert not any(r.method in ("PATCH", "POST") for r in fake.requests)


def test_value_with_whitespace_is_rewritten_clean(fake):
    fake.add_env("F", "true\n")  # what the team shipped by hand
    result = write_flag(make_client(), key="F", value="true", allowed=ALLOWED)
    assert result.changed and fake.value("F") == "true"


def test_absent_flag_is_created(fake):
    result = write_flag(make_client(), key="NEW_FLAG", value="true", allowed=ALLOWED)
    assert result.changed and result.previous is None and fake.value("NEW_FLAG") == "true"


def test_value_outside_allowed_is_refused_before_any_write(fake):
    fake.add_env("F", "false")
    with pytest.raises(InputError, match=r"'yes' is not allowed.*'true', 'false'"):
        write_flag(make_client(), key="F", value="yes", allowed=ALLOWED)
    assert fake.value("F") == "false" and not fake.requests


def test_read_back_with_trailing_newline_is_refused(fake):
    fake.add_env("F", "false")
    # the platform stores something else than what was sent (an encoding bug, a proxy, ...)
    fake.router.routes["edit_env"].side_effect = lambda request, env_id: (
        fake.envs[env_id].update(value="true\n") or httpx.Response(200, json={**fake.envs[env_id]}))
    with pytest.raises(StepFailed) as info:
        write_flag(make_client(), key="F", value="true", allowed=ALLOWED)
    message = str(info.value)
    assert "Flag F" in message and "5 characters" in message and "leading/trailing whitespace" in message
    assert "true\n" not in message


def test_read_back_mismatch_is_refused(fake):
    fake.add_env("F", "false")
    # accepted, not applied
    fake.router.routes["edit_env"].side_effect = lambda request, env_id: httpx.Response(200, json={})
    with pytest.raises(StepFailed, match="does not equal the value written"):
        write_flag(make_client(), key="F", value="true", allowed=ALLOWED)


def test_read_flag_shapes(fake):
    fake.add_env("F", " true")
    read = read_flag(make_client(), "F")
    assert (read.present, read.length, read.whitespace) == (True, 5, True)
    absent = read_flag(make_client(), "G")
    assert (absent.present, absent.value, absent.length) == (False, None, 0)


# -- sensitive flags: verification decided before the write -----------------------------------------


def test_sensitive_flag_is_written_and_left_to_the_probe_never_failed(fake):
    env_id = fake.add_env("F", "false", type="sensitive")
    journal = []
    result = write_flag(make_client(), key="F", value="true", allowed=ALLOWED,
                        on_step=lambda event, step: journal.append((event, dict(step))))
    assert fake.envs[env_id]["value"] == "true"
    assert result.changed and result.sensitive and result.verification == "probe"
    assert result.previous is None and result.read_back.present and result.read_back.length == 4
    assert [(e, s["step"]) for e, s in journal] == [("intent", "edit"), ("done", "edit")]
    assert journal[0][1]["length"] == 4 and journal[0][1]["whitespace"] is False
    assert journal[0][1]["verification"] == "probe"  # decided before the write
    doc = result.as_json()
    assert doc["previous"] is None and doc["verification"] == "probe" and "true" not in str(doc.values())


def test_created_var_that_becomes_sensitive_is_not_a_failure(fake):
    fake.enforce_sensitive = True  # the team enforces sensitive: new vars cannot be read back
    result = write_flag(make_client(), key="NEW_FLAG", value="true", allowed=ALLOWED)
    assert fake.value("NEW_FLAG") == "true"
    assert result.sensitive and result.verification == "probe"


def test_plan_is_decided_from_the_record_before_writing():
    shared = EnvVar("e1", "F", "false", "encrypted", ("production", "preview", "development"))
    plan = plan_write([shared], "F")
    assert plan.record is None and plan.split_from is shared and plan.others == ("preview", "development")
    own = EnvVar("e2", "F", None, "sensitive", ("production",))
    assert plan_write([own], "F").verification == "probe" and plan_write([own], "F").record is own
    assert plan_write([], "F").record is None and plan_write([], "F").verification == "read-back"


# -- shared records: production gets its own ------------------------------------------------------


def test_shared_record_is_split_and_preview_development_keep_their_value(fake):
    shared = fake.add_env("F", "false", target=("production", "preview", "development"))
    journal = []
    result = write_flag(make_client(), key="F", value="true", allowed=ALLOWED,
                        on_step=lambda event, step: journal.append((event, step["step"])))
    assert fake.envs[shared]["target"] == ["preview", "development"]
    assert fake.envs[shared]["value"] == "false"
    assert fake.value("F", "production") == "true"
    assert fake.value("F", "preview") == fake.value("F", "development") == "false"
    assert result.env_id != shared and result.previous == "false"
    assert result.split == {"step": "detach-production", "envId": shared, "key": "F",
                            "from": ["production", "preview", "development"],
                            "to": ["preview", "development"]}
    assert result.others == ({"envId": shared, "targets": ["preview", "development"], "type": "encrypted",
                              "checked": "targets and value"},)
    assert journal == [("intent", "detach-production"), ("done", "detach-production"),
                       ("intent", "create"), ("done", "create")]
    patch = next(r for r in fake.requests if r.method == "PATCH")
    assert json.loads(patch.content) == {"target": ["preview", "development"]}  # value untouched


def test_split_resumes_after_a_crash_between_detach_and_create(fake):
    shared = fake.add_env("F", "false", target=("production", "preview"))
    create = fake.router.routes["create_env"]
    real = create.side_effect
    create.side_effect = httpx.ConnectError("killed")  # the process dies here
    with pytest.raises(Exception):  # noqa: B017 -- any failure: the run is interrupted
        write_flag(make_client(retry=RetryPolicy(attempts=1)), key="F", value="true", allowed=ALLOWED)
    assert fake.envs[shared]["target"] == ["preview"] and fake.value("F", "production") is None
    create.side_effect = real
    result = write_flag(make_client(), key="F", value="true", allowed=ALLOWED)  # resume
    assert fake.value("F", "production") == "true" and fake.value("F", "preview") == "false"
    assert sum(1 for e in fake.envs.values() if e["key"] == "F") == 2
    assert result.others[0]["envId"] == shared


def test_preview_changed_during_the_write_stops_the_step(fake):
    fake.add_env("F", "false")
    preview = fake.add_env("F", "false", target=("preview",))
    real = fake.router.routes["edit_env"].side_effect

    def edit_both(request, env_id):
        fake.envs[preview]["value"] = "true"  # someone (or a bad PATCH) touched preview
        return real(request, env_id)

    fake.router.routes["edit_env"].side_effect = edit_both
    with pytest.raises(StepFailed, match=rf"the preview record {preview} changed"):
        write_flag(make_client(), key="F", value="true", allowed=ALLOWED)


def test_a_sensitive_flag_is_never_asked_for_its_decrypted_value(fake):
    env_id = fake.add_env("F", "false", type="sensitive")
    read = read_flag(make_client(), "F")
    write_flag(make_client(), key="F", value="true", allowed=ALLOWED)
    assert read.present and read.value is None
    assert not [r for r in fake.requests if r.method == "GET" and r.url.path.endswith(f"/env/{env_id}")]
