import httpx
import pytest
import respx

from reversal.errors import InputError, StepFailed
from reversal.platform.flags import read_flag, write_flag
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
