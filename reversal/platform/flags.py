"""Flag writes that cannot ship a typo or a trailing newline, nor touch preview/development.

By hand, the team shipped ``true\\n`` into production booleans. Here a value is trimmed and
checked against the playbook's allowed values before it is written, and verified after. How
it is verified is decided *before* writing, from the record's type:

* readable (``encrypted``/``plain``): the decrypted value is read back and compared exactly;
  anything else stops the step (the deployment must not be created with it).
* ``sensitive`` (never readable, CLI 51.8+ default, or enforced by the team): the write is
  journaled with the value's length and whitespace, and the probe proves it took effect (the
  dispatch-only answer for on, the inline answer for off). A record that *becomes* sensitive
  on create (team enforcement) is verified the same way: never write, then fail.

A record shared by production and preview/development (one ``target`` array) is split first:
production is detached from it (PATCH ``target`` without production), then production gets its
own record. Each step checks the world before acting, so re-running ``write_flag`` after a
crash resumes the split; ``on_step`` journals each step's intent and completion. Preview and
development are read again after the write and must be unchanged.

Flag values (``true``/``false``) are not secrets and may be shown; errors still describe a
read-back by its shape only, in case a flag was mistaken for a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reversal.errors import InputError, StepFailed
from reversal.platform.vercel import EnvVar, VercelClient
from reversal.secrets import describe

SENSITIVE = "sensitive"
StepJournal = Callable[[str, Mapping[str, Any]], None]  # ("intent" | "done", step)


def _no_journal(event: str, step: Mapping[str, Any]) -> None:
    """Default ``on_step``: no journal."""


@dataclass(frozen=True)
class FlagRead:
    key: str
    present: bool
    value: str | None
    length: int
    whitespace: bool


@dataclass(frozen=True)
class EnvFacts:
    """What is known of a present variable without its value: type, targets, and for an
    unreadable one the shape of the local copy (env var or pulled env file), if any."""

    type: str
    targets: tuple[str, ...]
    readable: bool
    local: Mapping[str, Any] | None = None  # {"origin", "length", "whitespace"}


@dataclass(frozen=True)
class FlagWrite:
    key: str
    value: str
    previous: str | None  # None: absent, or unreadable (sensitive) before the write
    changed: bool
    env_id: str
    read_back: FlagRead
    verification: str = "read-back"  # or "probe": sensitive, proven by the probe's answer
    sensitive: bool = False
    split: Mapping[str, Any] | None = None  # the shared record production was detached from
    others: tuple[Mapping[str, Any], ...] = field(default=())  # preview/development, unchanged

    def as_json(self) -> dict[str, Any]:
        """The flip record: never the value of a sensitive flag, only its shape."""
        return {
            "key": self.key, "changed": self.changed, "envId": self.env_id,
            "previous": None if self.sensitive else self.previous,
            "length": len(self.value), "whitespace": self.value != self.value.strip(),
            "verification": self.verification, "sensitive": self.sensitive,
            "split": dict(self.split) if self.split else None,
            "othersUnchanged": [dict(o) for o in self.others],
        }


def _read(key: str, env: EnvVar | None) -> FlagRead:
    value = env.value if env is not None else None
    shape = describe(key, value)
    return FlagRead(key, env is not None, value, shape.length, shape.leading_or_trailing_whitespace)


def read_flag(client: VercelClient, key: str, target: str = "production") -> FlagRead:
    """The decrypted value of ``key`` for ``target`` and its shape."""
    return _read(key, client.find_env(key, target))


def _shape(read: FlagRead) -> str:
    if not read.present:
        return "absent"
    if read.value is None:
        return "present but not readable decrypted (sensitive or encrypted blob)"
    return f"{read.length} characters, " + (
        "with leading/trailing whitespace" if read.whitespace else "no surrounding whitespace"
    )


# -- the plan (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagPlan:
    """How ``key`` will be written for ``target``, decided before any write."""

    key: str
    target: str
    record: EnvVar | None  # the record that applies to ``target`` now
    split_from: EnvVar | None  # a shared record production must be detached from first
    verification: str  # "read-back" or "probe"

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(t for t in self.split_from.target if t != self.target) if self.split_from else ()

    def as_json(self) -> dict[str, Any]:
        """What the flip will do, for preflight and the dry run: no value."""
        found = self.record or self.split_from
        return {"key": self.key, "target": self.target, "envId": found.id if found else None,
                "action": "split" if self.split_from else "edit" if self.record else "create",
                "splitFrom": list(self.split_from.target) if self.split_from else None,
                "verification": self.verification}


def plan_write(records: Iterable[EnvVar], key: str, target: str = "production") -> FlagPlan:
    """Pure: which record applies, whether it is shared (split first), how to verify."""
    current = next((e for e in records if e.key == key and target in e.target), None)
    shared = current is not None and any(t != target for t in current.target)
    sensitive = current is not None and current.type == SENSITIVE
    return FlagPlan(key, target, None if shared else current, current if shared else None,
                    "probe" if sensitive else "read-back")


def flag_plan(client: VercelClient, key: str, target: str = "production") -> FlagPlan:
    """The plan ``write_flag`` will follow, read before any change (preflight, dry run)."""
    return plan_write(client.list_env(), key, target)


def _others(records: Iterable[EnvVar], key: str, target: str) -> dict[str, dict[str, Any]]:
    """Every other-environment record of ``key``: targets, type, value shape (readable only)."""
    return {e.id: {"envId": e.id, "targets": list(e.target), "type": e.type,
                   "value": e.value}
            for e in records if e.key == key and target not in e.target}


# -- the steps (effects, each idempotent) ------------------------------------------------------------


def _detach(client: VercelClient, plan: FlagPlan, on_step: StepJournal) -> dict[str, Any]:
    """Remove ``plan.target`` from the shared record; a no-op when a crash left it done."""
    shared = plan.split_from
    assert shared is not None
    step = {"step": "detach-production", "envId": shared.id, "key": plan.key,
            "from": list(shared.target), "to": list(plan.others)}
    on_step("intent", step)
    now = next((e for e in client.list_env() if e.id == shared.id), None)
    if now is not None and plan.target in now.target:
        client.edit_env(shared.id, target=plan.others)
    on_step("done", step)
    return step


def _verify_others(client: VercelClient, key: str, target: str,
                   before: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Preview/development records must have kept their targets and (readable) values."""
    after = _others([_decrypted(client, e) for e in client.list_env() if e.key == key], key, target)
    report = []
    for env_id, was in before.items():
        now = after.get(env_id)
        same = now is not None and now["targets"] == was["targets"] and now["value"] == was["value"]
        if not same:
            raise StepFailed(
                f"Flag {key}: the {'/'.join(was['targets'])} record {env_id} changed during the "
                f"{target} write (now {'absent' if now is None else '/'.join(now['targets'])}); "
                "restore it in Vercel before redeploying."
            )
        report.append({"envId": env_id, "targets": was["targets"], "type": was["type"],
                       "checked": "targets and value" if was["value"] is not None else "targets"})
    return tuple(report)


def _decrypted(client: VercelClient, env: EnvVar) -> EnvVar:
    return env if env.type == SENSITIVE else client.get_env(env.id)


def write_flag(
    client: VercelClient,
    *,
    key: str,
    value: str,
    allowed: tuple[str, ...],
    target: str = "production",
    on_step: StepJournal = _no_journal,
) -> FlagWrite:
    """Set ``key`` to ``value`` for ``target`` only, verified as planned before the write."""
    wanted = value.strip()
    if wanted not in allowed:
        raise InputError(
            f"Flag {key}: value {wanted!r} is not allowed; the playbook allows "
            f"{', '.join(repr(a) for a in allowed)}."
        )
    records = client.list_env()
    plan = plan_write(records, key, target)
    before = _others([_decrypted(client, e) for e in records if e.key == key], key, target)
    split = None
    if plan.split_from is not None:
        split = _detach(client, plan, on_step)
        before = {**before, plan.split_from.id: {
            "envId": plan.split_from.id, "targets": list(plan.others), "type": plan.split_from.type,
            "value": _decrypted(client, plan.split_from).value}}
        previous = before[plan.split_from.id]["value"]
    current = plan.record and _decrypted(client, plan.record)
    if plan.split_from is None:
        previous = current.value if current is not None else None
    if current is not None and plan.verification == "read-back" and previous == wanted:
        others = _verify_others(client, key, target, before)
        return FlagWrite(key, wanted, previous, False, current.id, _read(key, current), others=others)
    step = {"step": "edit" if current is not None else "create", "key": key, "target": target,
            "length": len(wanted), "whitespace": False, "verification": plan.verification}
    on_step("intent", step)
    if current is not None:
        written = client.edit_env(current.id, wanted)
    else:
        written = client.create_env(key, wanted, target=(target,))
    on_step("done", {**step, "envId": written.id or (current.id if current else "")})
    env_id = written.id or (current.id if current else "")
    sensitive = plan.verification == "probe" or written.type == SENSITIVE
    if sensitive:
        found = client.find_env(key, target, decrypt=False)
        read = FlagRead(key, found is not None, None, len(wanted), False)
        if found is None:
            raise StepFailed(f"Flag {key} ({target}): absent after the write; fix it in Vercel and "
                             "retry the step.")
    else:
        read = read_flag(client, key, target)
        if not read.present or read.value is None or read.whitespace or read.value != wanted:
            raise StepFailed(
                f"Flag {key} ({target}): the value read back after the write does not equal the "
                f"value written ({len(wanted)} characters): read back {_shape(read)}. The deployment "
                "must not be created with this env; fix the variable in Vercel and retry the step."
            )
    others = _verify_others(client, key, target, before)
    return FlagWrite(key, wanted, None if sensitive else previous, True, env_id, read,
                     verification="probe" if sensitive else "read-back", sensitive=sensitive,
                     split=split, others=others)


def read_values(
    client: VercelClient, keys: Iterable[str], target: str,
    local: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> tuple[dict[str, str | None], dict[str, EnvFacts]]:
    """Decrypted values of ``keys`` for ``target`` (one list call, then one get per readable
    key) and, for the present keys that cannot be read (sensitive), their facts: type, targets
    and the shape of the local copy (``local(key)``). ``key in unreadable`` works as on a set."""
    wanted = set(keys)
    values: dict[str, str | None] = {}
    unreadable: dict[str, EnvFacts] = {}
    for env in client.list_env():
        if env.key in wanted and target in env.target and env.key not in values:
            value = None if env.type == SENSITIVE else client.get_env(env.id).value
            values[env.key] = value
            if value is None:
                unreadable[env.key] = EnvFacts(env.type, env.target, False,
                                               local(env.key) if local else None)
    return values, unreadable
