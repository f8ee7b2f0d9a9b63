"""Secret hygiene: describe a secret without revealing it; scrub known values from text.

Operators need to know whether a secret is present, how long it is, and whether it carries
surrounding whitespace (a trailing newline in ``INNGEST_SIGNING_KEY`` failed every Inngest
callback with ``Invalid signature``). They never need the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reversal.redact import REDACTED  # noqa: F401  (re-exported: one marker everywhere)


@dataclass(frozen=True)
class SecretShape:
    key: str
    present: bool
    length: int
    leading_or_trailing_whitespace: bool

    def as_json(self) -> dict[str, object]:
        """Keys as in the team's hand-made ``post-fix-env-whitespace-check-*.json``."""
        return {
            "key": self.key,
            "present": self.present,
            "hasLeadingOrTrailingWhitespace": self.leading_or_trailing_whitespace,
            "length": self.length,
        }


def describe(key: str, value: str | None) -> SecretShape:
    if value is None:
        return SecretShape(key, False, 0, False)
    return SecretShape(key, True, len(value), value != value.strip())


class Redactor:
    """Scrubs text of the given secret values and of every secret ``reversal.redact`` knows
    (one mechanism: the values are registered there too, for the other output paths)."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        from reversal.redact import register

        self._values = [s for s in secrets if s]
        register(self._values)

    def __call__(self, text: str) -> str:
        from reversal.redact import scrub

        return scrub(text, self._values)
