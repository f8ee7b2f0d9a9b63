"""``env fix`` planning: which tainted production values the tool may trim, and the exact
steps for the ones it may not.

The team normalized four trailing-newline production booleans by hand, redeployed and
re-audited. Only surrounding whitespace is fixed here, and only where the value can be read:
a trimmed value is derived from the one read, so nothing is invented. A sensitive variable can
never be read back, so the tool cannot know its trimmed value: the operator re-enters it. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reversal.platform.envaudit import AuditCheck

WHITESPACE_REASON = "leading or trailing whitespace"


@dataclass(frozen=True)
class Fix:
    key: str
    kind: str  # secret | flag | must_be_off | other
    action: str  # "trim" (the tool writes it) | "manual" (steps for the operator) | "none"
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "kind": self.kind, "action": self.action, "detail": self.detail}


def _manual_steps(key: str, environment: str) -> str:
    return (f"{key} is sensitive, so its value cannot be read and trimmed here, and its local copy "
            "carries surrounding whitespace. Fix the local copy, and re-enter it in Vercel without "
            f"the whitespace: `vercel env rm {key} {environment} --yes`, then "
            f"`printf '%s' \"$VALUE\" | vercel env add {key} {environment} --sensitive` "
            "(printf adds no newline; `echo` would), then run 'reversal env fix --redeploy' to "
            "redeploy and re-audit.")


def plan_fixes(checks: Iterable[AuditCheck], environment: str) -> list[Fix]:
    """One entry per failing check: trimmed by the tool, manual steps, or nothing to do here
    (an absent secret or a flag outside its allowed values is not a whitespace taint)."""
    fixes = []
    for check in checks:
        if check.ok:
            continue
        if check.type is not None and check.whitespace:  # sensitive: only its local copy was seen
            fixes.append(Fix(check.key, check.kind, "manual", _manual_steps(check.key, environment)))
        elif check.reason == WHITESPACE_REASON:
            fixes.append(Fix(check.key, check.kind, "trim",
                             f"trim surrounding whitespace ({check.length} characters now)"))
        else:
            fixes.append(Fix(check.key, check.kind, "none",
                             f"not a whitespace taint ({check.reason}); fix it in Vercel by hand"))
    return fixes
