"""Masking failure messages before template mining, and turning mined templates into regexes.

Pure functions. ``mask`` replaces the variable parts of a message with placeholders in one
left-to-right pass, and keeps literally the parts that define a failure *family* in this
domain, returning them as the family key:

* stack-frame lines (``\\n    at …``) → ``<TRACE>``; URLs → ``<URL>``; e-mails → ``<EMAIL>``;
  UUIDs → ``<UUID>``; ISO timestamps → ``<TS>``; long ids and hex strings → ``<ID>``;
  every other number → ``<NUM>``;
* kept: error codes (Prisma ``P2028``; a SQLSTATE such as ``57014`` or an HTTP 4xx/5xx status
  when a label says so: ``code: '57014'``, ``SQLSTATE 57014``, ``status=502``, ``error 502``);
* kept: a number with a time unit when its clause names a limit (``timed out after 60
  seconds``, ``The timeout for this transaction was 5000 ms``), but not a measurement (``however
  5027 ms passed``): configured limits separate families, measured durations vary per row;
* snake_case error identifiers (``query_wait_timeout``) have no digits and stay as they are.

The key is the codes when there are any, else the limits, else the error identifiers: rows
with different keys are never mined together, so ``… after 60 seconds`` and ``… after 300
seconds`` stay two families even on one route.
"""

from __future__ import annotations

import re

PARAM = "<*>"
"""Drain's wildcard for a token that varies between the rows of a template."""

PATTERNS: dict[str, str] = {
    "TRACE": r"(?:\n[ \t]*at [^\n]*)+",
    "URL": r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`<>)\]]+",
    "EMAIL": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "UUID": r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    "TS": r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
    "ID": (r"\b(?=[\w-]{16,})(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]+"
           r"|\b(?=[0-9a-f]*[a-f])[0-9a-f]*\d[0-9a-f]{7,}\b"),
    "NUM": r"(?<![\w.])\d+(?:[.:]\d+)*",
}
"""What each placeholder replaced; the same pattern re-matches it inside a template regex."""

_TOKEN_PATTERNS = {**PATTERNS, "TRACE": r"at\s[^\n]*(?:\n[ \t]*at\s[^\n]*)*", "NUM": r"\d+(?:[.:]\d+)*",
                   "UUID": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"}
"""Inside a template regex: the separator before ``<TRACE>`` already took the newline, and the
context checks that kept a number or a UUID from being cut out of a word are not needed."""

_CODE = (r"(?P<label>\b(?:SQLSTATE|sqlstate|[Cc]ode|[Ss]tatus(?:Code)?|HTTP|[Ee]rror)\b[:=]?\s*[`'\"(\[]?)"
         r"(?P<code>P\d{4}|[0-9][0-9A-Z]{4}|[45]\d\d)\b|\b(?P<prisma>P\d{4})\b")
_LIMIT = (r"(?P<amount>\d+(?:\.\d+)?)(?P<space>\s?)"
          r"(?P<unit>ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b")
_MASK = re.compile(
    f"(?P<TRACE>{PATTERNS['TRACE']})|(?P<URL>{PATTERNS['URL']})|(?P<EMAIL>{PATTERNS['EMAIL']})"
    f"|(?P<UUID>{PATTERNS['UUID']})|(?P<TS>{PATTERNS['TS']})|{_CODE}|(?P<ID>{PATTERNS['ID']})"
    f"|(?<![\\w.]){_LIMIT}|(?P<NUM>{PATTERNS['NUM']})"
)
_LIMIT_WORDS = re.compile(
    r"\b(?:after|timeout|timed out|limit|exceed\w*|max(?:imum)?|deadline|longer than)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:.(){}\[\]\n](?:\s|$)")
_IDENT = re.compile(r"\b[a-z]+(?:_[a-z]+)*_(?:timeout|error|exceeded|refused|reset|failed|denied|closed)\b")
_PLACEHOLDER = re.compile(r"<(?:TRACE|URL|EMAIL|UUID|TS|ID|NUM)>|" + re.escape(PARAM))


def _unit(unit: str) -> str:
    unit = unit.lower()
    if unit.startswith("milli") or unit == "ms":
        return "ms"
    if unit.startswith("m"):
        return "min"
    return "h" if unit.startswith("h") else "s"


def _is_limit(message: str, start: int) -> bool:
    """Does the clause before ``start`` name a limit (``after``, ``timeout``, ``exceeded`` …)?"""
    before = message[max(0, start - 80):start]
    clause = _CLAUSE_END.split(before)[-1]
    return _LIMIT_WORDS.search(clause) is not None


def mask(message: str) -> tuple[str, tuple[str, ...]]:
    """``(masked message, family key)``; see the module docstring for the rules."""
    codes: list[str] = []
    limits: list[str] = []

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind == "TRACE":
            return " <TRACE>"
        if kind in ("code", "prisma"):
            code = match.group(kind)
            codes.append(code.lower() if code.startswith("P") else
                         f"http_{code}" if len(code) == 3 else f"sqlstate_{code.lower()}")
            return match.group(0)
        if kind == "unit":
            if _is_limit(match.string, match.start()):
                limits.append(f"{match.group('amount').replace('.', '_')}{_unit(match.group('unit'))}")
                return match.group(0)
            return f"<NUM>{match.group('space')}{match.group('unit')}"
        return f"<{kind}>"

    masked = _MASK.sub(replace, message)
    key = codes or [f"timeout_{limit}" for limit in limits] or _IDENT.findall(masked)
    return masked, tuple(dict.fromkeys(key))


def template_regex(template: str, *, loose: bool = False) -> str:
    """An anchored regex for a mined template: literal text escaped, whitespace runs as
    ``\\s+``, placeholders as their patterns, Drain's ``<*>`` as one or more words, or as any
    text when ``loose`` (a wildcard that stood for a stack trace in some rows)."""
    wildcard = r"[\s\S]*?" if loose else r"\S+(?:\s+\S+)*?"
    parts = []
    for token in template.split():
        pieces, last = [], 0
        for match in _PLACEHOLDER.finditer(token):
            pieces.append(re.escape(token[last:match.start()]))
            name = match.group(0)
            pattern = wildcard if name == PARAM else _TOKEN_PATTERNS[name[1:-1]]
            pieces.append(f"(?:{pattern})" if "|" in pattern else pattern)
            last = match.end()
        pieces.append(re.escape(token[last:]))
        parts.append("".join(pieces))
    return r"^\s*" + r"\s+".join(parts) + r"\s*$"


def family_name(key: tuple[str, ...], template: str) -> str:
    """A lower_snake_case catalogue name: the key when there is one, else the error text."""
    if key:
        return "_".join(key)[:60]
    text = _PLACEHOLDER.sub(" ", template)
    cut = list(re.finditer(r"(?:Error|error|Exception|failed)\]?:\s", text))
    tail = text[cut[-1].end():] if cut else ""
    words = re.findall(r"[A-Za-z]{2,}", tail)
    if len(words) < 2:
        words = re.findall(r"[A-Za-z]{2,}", text)
    return "_".join(w.lower() for w in words[:6])[:60] or "failure"
