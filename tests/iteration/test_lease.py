"""The project lease over a fake env API that behaves as Vercel's: create without upsert fails
with ENV_ALREADY_EXISTS while the key exists."""

from __future__ import annotations

import itertools

import pytest

from reversal.errors import LockHeld
from reversal.iteration.lease import LEASE_KEY, LeaseRecord, ProjectLease, held
from reversal.platform.vercel import EnvVar, VercelError


class FakeEnvAPI:
    def __init__(self) -> None:
        self.envs: dict[str, EnvVar] = {}
        self.ids = itertools.count(1)
        self.calls: list[str] = []

    def create_env(self, key, value, *, target, upsert=True, type="encrypted"):
        self.calls.append("create")
        assert not upsert
        if any(e.key == key for e in self.envs.values()):
            raise VercelError("exists", status=200, code="ENV_ALREADY_EXISTS")
        env = EnvVar(f"env_{next(self.ids)}", key, value, type, tuple(target))
        self.envs[env.id] = env
        return env

    def find_env(self, key, target):
        return next((e for e in self.envs.values() if e.key == key and target in e.target), None)

    def edit_env(self, env_id, value):
        self.calls.append("edit")
        old = self.envs[env_id]
        self.envs[env_id] = EnvVar(old.id, old.key, value, old.type, old.target)

    def delete_env(self, env_id):
        self.calls.append("delete")
        self.envs.pop(env_id, None)


def test_second_taker_gets_lockheld_naming_the_holder_then_takes_it_after_release():
    api = FakeEnvAPI()
    first = ProjectLease(api, "reversal run --route response-timing (pid 1)", iteration="rt-1")
    first.acquire()
    [env] = api.envs.values()
    assert env.target == ("development",) and LeaseRecord.parse(env.value).iteration == "rt-1"
    holder = r"reversal run --route response-timing \(pid 1\).*unlock --force"
    with pytest.raises(LockHeld, match=holder) as info:
        ProjectLease(api, "B").acquire()
    assert info.value.exit_code == 4
    first.release()
    assert api.envs == {}
    ProjectLease(api, "B").acquire()


def test_an_expired_lease_is_broken_and_a_live_one_is_renewed_not_stolen():
    api, now = FakeEnvAPI(), [1_000_000]
    old = ProjectLease(api, "A", ttl_s=60, wall_ms=lambda: now[0])
    old.acquire()
    now[0] += 30_000
    old.renew()
    now[0] += 40_000  # 70 s after the first take, 40 s after the renewal: still live
    with pytest.raises(LockHeld):
        ProjectLease(api, "B", wall_ms=lambda: now[0]).acquire()
    now[0] += 60_000
    taker = ProjectLease(api, "B", wall_ms=lambda: now[0])
    taker.acquire()
    old.release()  # the old holder's release must not delete the new holder's lease
    assert LeaseRecord.parse(api.find_env(LEASE_KEY, "development").value).holder == "B"


def test_a_lease_of_a_dead_process_on_this_host_is_broken():
    api = FakeEnvAPI()
    dead = ProjectLease(api, "A")
    dead.acquire()
    env = next(iter(api.envs.values()))
    record = LeaseRecord.parse(env.value)
    api.edit_env(env.id, LeaseRecord(record.holder, record.host, 2**22 + 12345, None,
                                     record.expires_ms, record.nonce).value())
    ProjectLease(api, "B").acquire()


def test_held_releases_even_when_the_block_fails():
    api = FakeEnvAPI()
    with pytest.raises(RuntimeError), held(ProjectLease(api, "A")):
        raise RuntimeError("boom")
    assert api.envs == {} and api.calls[-1] == "delete"
