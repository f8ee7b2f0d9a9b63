"""Start/stop leaves nothing behind; two sandboxes run side by side with separate state."""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

from reversal.sandbox import Sandbox, SandboxSettings
from reversal.sandbox.durable import sqlite_path
from tests.sandbox.conftest import set_flag


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


def test_stop_leaves_no_thread_port_or_temp_file():
    before = set(threading.enumerate())
    with Sandbox(SandboxSettings(seed=3, factor=600)) as info:
        db = sqlite_path(info.database_url)
        assert os.path.exists(db)
        urls = [info.api, info.logs_api, info.app, info.inngest_api]
        assert not any(_refused(u) for u in urls)
        assert len(set(threading.enumerate()) - before) >= 6
    assert set(threading.enumerate()) <= before
    assert all(_refused(u) for u in urls)
    assert not os.path.exists(os.path.dirname(db))


def test_two_sandboxes_at_once_have_independent_state(start_sandbox):
    one, two = start_sandbox(seed=1), start_sandbox(seed=1)
    assert len({one.api, two.api, one.app, two.app}) == 4
    assert one.token != two.token and one.database_url != two.database_url
    set_flag(one, "CRON_FOLLOWUPS_USE_INNGEST", "true")
    from tests.sandbox.conftest import env_by_key

    assert env_by_key(one)["CRON_FOLLOWUPS_USE_INNGEST"]["value"] == "true"
    assert env_by_key(two)["CRON_FOLLOWUPS_USE_INNGEST"]["value"] == "false"
