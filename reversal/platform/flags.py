"""Flag writes that cannot ship a typo or a trailing newline.

By hand, the team shipped ``true\\n`` into production booleans. Here a value is trimmed and
checked against the playbook's allowed values before it is written, and the decrypted value
is read back and compared exactly after; anything else stops the step. Flag values
(``true``/``false``) are not secrets and may be shown; errors still describe the read-back by
its shape only, in case a flag was mistaken for a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reversal.errors import InputError, StepFailed
from reversal.platform.vercel import EnvVar, VercelClient
from reversal.secrets import describe


@dataclass(frozen=True)
class FlagRead:
    key: str
    present: bool
    value: str | None
    length: int
    whitespace: bool


@dataclass(frozen=True)
class FlagWrite:
    key: str
    value: str
    previous: str | None  # None: absent (or unreadable) before the write
    changed: bool
    env_id: str
    read_back: FlagRead


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


def write_flag(
    client: VercelClient,
    *,
    key: str,
    value: str,
    allowed: tuple[str, ...],
    target: str = "production",
) -> FlagWrite:
    """Set ``key`` to ``value`` for ``target`` and prove it by reading it back decrypted."""
    wanted = value.strip()
    if wanted not in allowed:
        raise InputError(
            f"Flag {key}: value {wanted!r} is not allowed; the playbook allows "
            f"{', '.join(repr(a) for a in allowed)}."
        )
    current = client.find_env(key, target)
    previous = current.value if current is not None else None
    if current is not None and previous == wanted:
        return FlagWrite(key, wanted, previous, False, current.id, _read(key, current))
    if current is not None:
        written = client.edit_env(current.id, wanted)
    else:
        written = client.create_env(key, wanted, target=(target,))
    read = read_flag(client, key, target)
    if not read.present or read.value is None or read.whitespace or read.value != wanted:
        raise StepFailed(
            f"Flag {key} ({target}): the value read back after the write does not equal the value "
            f"written ({len(wanted)} characters): read back {_shape(read)}. The deployment must not "
            "be created with this env; fix the variable in Vercel and retry the step."
        )
    return FlagWrite(key, wanted, previous, True, written.id or (current.id if current else ""), read)


def read_values(
    client: VercelClient, keys: Iterable[str], target: str
) -> tuple[dict[str, str | None], set[str]]:
    """Decrypted values of ``keys`` for ``target``: one list call, then one get per present key."""
    wanted = set(keys)
    values: dict[str, str | None] = {}
    unreadable: set[str] = set()
    for env in client.list_env():
        if env.key in wanted and target in env.target and env.key not in values:
            value = client.get_env(env.id).value
            values[env.key] = value
            if value is None:
                unreadable.add(env.key)
    return values, unreadable
