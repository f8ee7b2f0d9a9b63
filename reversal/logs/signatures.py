"""Named failure signatures: regular expressions over log messages.

The built-in catalogue holds every signature seen in the team's real evidence
(``fixtures/zrg``). A project extends or overrides it under ``signatures:`` in
``reversal.yaml``. ``p2028`` is the Prisma interactive-transaction *family* (P2028 itself,
expired transaction, unable to start a transaction), as the team counted it; its members
also exist on their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reversal.errors import InputError

BUILTIN: dict[str, str] = {
    "timeout_60s": r"Task timed out after 60 seconds",
    "timeout_300s": r"Task timed out after 300 seconds",
    "timeout_800s": r"Task timed out after 800 seconds",
    "query_wait_timeout": r"query_wait_timeout",
    "p2028": r"P2028|expired transaction|Unable to start a transaction",
    "expired_transaction": r"expired transaction",
    "unable_to_start_transaction": r"Unable to start a transaction",
    "p2010": r"P2010",
    "client_login_timeout": r"client_login_timeout",
    "statement_timeout_57014": r"57014|canceling statement due to statement timeout",
    "unique_constraint_p2002": r"P2002|Unique constraint failed",
    "invalid_signature": r"Invalid signature",
    "integer_out_of_range_22003": r"22003|out of range for type integer",
}


@dataclass(frozen=True)
class Catalogue:
    """Compiled signatures plus one alternation used to skip non-matching messages fast."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    any_match: re.Pattern[str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.patterns)

    def match(self, message: str) -> list[str]:
        """Names of every signature the message carries (a message may carry several)."""
        if not message or self.any_match.search(message) is None:
            return []
        return [name for name, pattern in self.patterns if pattern.search(message)]


def build_catalogue(overrides: Mapping[str, str] | None = None, *, origin: str = "config",
                    builtin: bool = True) -> Catalogue:
    """Compile the built-ins, with ``overrides`` added or replacing built-ins by name; only
    ``overrides`` when not ``builtin`` (discovery from scratch, a catalogue under test)."""
    merged = dict(BUILTIN) if builtin else {}
    for name, regex in (overrides or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise InputError(
                f"{origin}: signatures: {name!r} is not a valid signature name; expected "
                "lower_snake_case (letters, digits, underscores)."
            )
        if not isinstance(regex, str) or not regex:
            raise InputError(
                f"{origin}: signatures.{name} must be a non-empty regular expression string."
            )
        merged[name] = regex
    compiled = []
    for name, regex in merged.items():
        try:
            compiled.append((name, re.compile(regex)))
        except re.error as exc:
            raise InputError(
                f"{origin}: signatures.{name} is not a valid regular expression ({exc})."
            ) from None
    any_match = re.compile("|".join(f"(?:{p.pattern})" for _, p in compiled) or "(?!)")
    return Catalogue(tuple(compiled), any_match)
