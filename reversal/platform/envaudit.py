"""Env audit rules, pure: presence, length, surrounding whitespace, allowed flag values.

Used by ``reversal env audit`` and by the preflight step of every iteration. A check never
carries a value: flags are reported by their derived state (on / off / absent / invalid).

A ``sensitive`` variable can never be read back (Vercel CLI 51.8+ creates production/preview
vars sensitive by default; teams can enforce it). Unreadable is never a failure: it is reported
by presence, type and targets, and its local copy (the environment, or the env file pulled
with ``vercel env pull``) is checked for surrounding whitespace instead. A sensitive flag's
state is unknown here; a write to it is verified by the probe (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reversal.secrets import describe

DEFAULT_OFF = "false"


@dataclass(frozen=True)
class AuditCheck:
    key: str
    kind: str  # secret | flag | must_be_off | other
    present: bool
    length: int
    whitespace: bool
    allowed: tuple[str, ...] | None  # flags only
    state: str | None  # flags only: on / off / absent / invalid / unknown (never the raw value)
    ok: bool
    reason: str
    type: str | None = None  # Vercel's type, when the variable is unreadable (sensitive)
    targets: tuple[str, ...] = ()
    local: Mapping[str, Any] | None = None  # the local copy's shape: origin, length, whitespace

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "key": self.key,
            "present": self.present,
            "hasLeadingOrTrailingWhitespace": self.whitespace,
            "length": self.length,
            "kind": self.kind,
        }
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
            out["state"] = self.state
        if self.type is not None:
            out["type"] = self.type
            out["targets"] = list(self.targets)
            out["readable"] = False
            out["localCopy"] = dict(self.local) if self.local else None
        out["ok"] = self.ok
        out["reason"] = self.reason
        return out


def rules_for(playbooks: Iterable, secrets: Iterable[str]) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """key -> (kind, allowed values): a flag allows (on, off), a must-be-off flag only its off
    value (a slice's own off value, else "false"); flags win over a same-named secret."""
    books = list(playbooks)
    flags = {b.flag.name: b.flag for b in books}
    rules: dict[str, tuple[str, tuple[str, ...] | None]] = {s: ("secret", None) for s in secrets}
    for name, flag in flags.items():
        rules[name] = ("flag", (flag.on, flag.off))
    for book in books:
        for name in book.must_be_off:
            rules[name] = ("must_be_off", (flags[name].off if name in flags else DEFAULT_OFF,))
    return rules


def _unreadable(key: str, kind: str, allowed: tuple[str, ...] | None, facts: Any) -> AuditCheck:
    """A present variable that cannot be read back: never a failure by itself."""
    kind_of = getattr(facts, "type", None) or "sensitive"
    targets = tuple(getattr(facts, "targets", ()) or ())
    local = getattr(facts, "local", None)
    where = f"{kind_of}, targets {', '.join(targets) or 'unknown'}"
    length, whitespace, ok = 0, False, True
    if allowed is not None:
        reason = (f"present ({where}); its value cannot be read back, so its state is unknown here: "
                  "a write to it is verified by the probe's answer")
        return AuditCheck(key, kind, True, 0, False, allowed, "unknown", True, reason, kind_of,
                          targets, local)
    if not local:
        reason = f"present ({where}); cannot be read back; no local copy to check for whitespace"
    elif "error" in local:
        reason = f"present ({where}); cannot be read back; local copy not checked: {local['error']}"
    else:
        length, whitespace = int(local["length"]), bool(local["whitespace"])
        ok = not whitespace
        reason = (f"present ({where}); cannot be read back; local copy from {local['origin']}: "
                  + ("leading or trailing whitespace" if whitespace else
                     f"{length} characters, no surrounding whitespace"))
    return AuditCheck(key, kind, True, length, whitespace, None, None, ok, reason, kind_of, targets, local)


def check_value(key: str, kind: str, allowed: tuple[str, ...] | None, value: str | None,
                readable: bool, facts: Any = None) -> AuditCheck:
    """One check; ``facts`` (``flags.EnvFacts``) describe an unreadable variable."""
    if not readable:
        return _unreadable(key, kind, allowed, facts)
    shape = describe(key, value)
    present = value is not None

    def done(ok: bool, reason: str, state: str | None = None) -> AuditCheck:
        return AuditCheck(key, kind, present, shape.length, shape.leading_or_trailing_whitespace,
                          allowed, state, ok, reason)

    if value is None:
        if kind in ("secret", "other"):
            return done(False, "absent")
        return done(True, "absent (the app's default applies)", "absent")
    if shape.leading_or_trailing_whitespace:
        return done(False, "leading or trailing whitespace", "invalid" if allowed else None)
    if allowed is None:
        return done(shape.length > 0, "ok" if shape.length else "empty")
    if kind == "must_be_off":
        if value == allowed[0]:
            return done(True, "off", "off")
        return done(False, f"must be absent or {allowed[0]!r} before this slice runs", "on")
    on, off = allowed
    if value == on:
        return done(True, "on", "on")
    if value == off:
        return done(True, "off", "off")
    return done(False, f"not one of the allowed values {on!r} / {off!r}", "invalid")


def audit(
    values: Mapping[str, str | None],
    playbooks: Iterable,
    secrets: Iterable[str],
    *,
    keys: Iterable[str] | None = None,
    unreadable: Collection[str] | Mapping[str, Any] = (),
) -> list[AuditCheck]:
    """Pure: one check per key (default: the secrets, then every flag and must-be-off flag).

    ``values`` maps a key to its decrypted value or None when absent; ``unreadable`` names keys
    that exist but cannot be decrypted (sensitive vars), or maps them to their
    ``flags.EnvFacts`` (type, targets, local copy)."""
    rules = rules_for(playbooks, secrets)
    facts = unreadable if isinstance(unreadable, Mapping) else {}
    return [
        check_value(key, *rules.get(key, ("other", None)), values.get(key), key not in unreadable,
                    facts.get(key))
        for key in (list(dict.fromkeys(keys)) if keys else list(rules))
    ]
