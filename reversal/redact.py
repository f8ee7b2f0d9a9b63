"""The one redaction mechanism: every path out of the process (error messages, run.log,
artifacts, DSN descriptions) goes through ``scrub``/``scrub_obj`` before it is written.

Two layers, because neither is enough alone:

* known values: every secret the process has seen (``VERCEL_TOKEN``, ``CRON_SECRET``,
  ``INNGEST_SIGNING_KEY``, the database password, any env var named like a secret), registered
  once and replaced wherever they appear, whatever surrounds them;
* shapes: credentials in text the process did not expect: DSN passwords in URL form, broken
  URL forms (``postgres//admin:PW@@h:p/db``, ``admin:PW@host/db``, ``[::1:1`` hosts) and
  libpq ``key=value`` form (``password=…``), ``Bearer …`` headers, Inngest signing keys.

Over-redacting a harmless ``user:x@host`` is acceptable; showing a password is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 4  # shorter values ("true", "on") are flags, not secrets

SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|SIGNING_KEY|API_KEY|PRIVATE_KEY|CREDENTIALS?|DSN|DATABASE_URL)",
    re.IGNORECASE,
)
"""Names (env vars, config or JSON keys) whose values are secrets."""

KNOWN_SECRET_NAMES = ("VERCEL_TOKEN", "CRON_SECRET", "INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY",
                      "DATABASE_URL")

_WORD = re.compile(r"[^\s'\"<>]*:[^\s'\"<>]*@[^\s'\"<>]*")
_KEY_VALUE = re.compile(
    r"(?P<keep>\b(?:password|passwd|pwd|sslpassword)\s*[=:]\s*"
    r"|\b(?:secret|token|api_?key|signing_?key|access_token)\s*=\s*"
    r"|\"(?:password|secret|token|api_?key|signing_?key|access_token)\"\s*:\s*"
    r"|\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|SIGNING_KEY|DATABASE_URL)[A-Z0-9_]*=)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\"]+)",
    re.IGNORECASE,
)
_SHAPES = (
    (re.compile(r"(?P<keep>\bBearer\s+)[^\s'\"]+", re.IGNORECASE), rf"\g<keep>{REDACTED}"),
    (re.compile(r"\bsignkey-[A-Za-z]+-[0-9A-Za-z]{8,}"), REDACTED),
)


def _userinfo(match: re.Match[str]) -> str:
    """``scheme://user:PASSWORD@host`` in any broken form: the password is what follows the
    first ':' after the last '//' and runs to the word's last '@' (so 'PW@@h' hides 'PW@')."""
    word = match.group(0)
    at = word.rfind("@")
    head, tail = word[:at], word[at:]
    base = head.rfind("//") + 2 if "//" in head else 0
    colon = head.find(":", base)
    if colon < 0 or colon == len(head) - 1:
        return word
    return head[: colon + 1] + REDACTED + tail


def _key_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[0] in "'\"" else ""
    return f"{match.group('keep')}{quote}{REDACTED}{quote}"


_known: set[str] = set()
_ordered: list[str] = []


def register(values: Iterable[str | None]) -> None:
    """Remember secret values (and their stripped forms) for every later ``scrub``."""
    global _ordered
    added = False
    for value in values:
        if not value:
            continue
        for form in (value, value.strip(), *_dsn_passwords(value)):
            if len(form) >= MIN_SECRET_LEN and form not in _known:
                _known.add(form)
                added = True
    if added:
        _ordered = sorted(_known, key=len, reverse=True)


def reset() -> None:
    """Forget every registered value (a long-lived embedder, or tests running many commands
    in one process, starts each command clean as a new process would)."""
    global _ordered
    _known.clear()
    _ordered = []


def register_environ(environ: Mapping[str, str]) -> None:
    """Register every environment value whose name says it is a secret."""
    register(v for k, v in environ.items() if k in KNOWN_SECRET_NAMES or SECRET_NAME.search(k))


def _dsn_passwords(value: str) -> list[str]:
    """Passwords inside a DSN value, URL or key=value form, parsed without ever raising."""
    found = [m.group(1) for m in re.finditer(r"\bpassword\s*=\s*'?([^\s']+)", value, re.IGNORECASE)]
    at = value.rfind("@")
    if at > 0:
        userinfo = value[:at].rsplit("/", 1)[-1]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1].rstrip("@"))
    return [f for f in found if f]


def scrub(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret value, ``extra`` value and secret shape replaced."""
    values = _ordered
    extras = [v for e in extra if e for v in (e, e.strip()) if len(v) >= MIN_SECRET_LEN]
    if extras:
        values = sorted({*values, *extras}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _KEY_VALUE.sub(_key_value, _WORD.sub(_userinfo, text))
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def scrub_obj(value: Any) -> Any:
    """A JSON-like value with every string scrubbed, and the value of any key named like a
    secret (``password``, ``token``…) replaced whole unless it is already redacted
    (``Bearer [REDACTED]`` stays readable); structure and types are kept."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _keyed(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_obj(v) for v in value]
    return value


def _keyed(key: Any, value: Any) -> Any:
    clean = scrub_obj(value)
    if isinstance(key, str) and isinstance(clean, str) and clean and REDACTED not in clean \
            and _secret_key(key):
        return REDACTED
    return clean


def _secret_key(key: str) -> bool:
    return bool(SECRET_NAME.search(key)) or key.lower() in ("password", "authorization", "token")


def describe_dsn(dsn: str) -> str:
    """A database URL as it may be shown: scheme, host, port and database, never the user's
    password or the query; never raises, whatever the DSN looks like."""
    from urllib.parse import urlsplit

    text = dsn.strip()
    if text.startswith("sqlite:"):
        rest = text.removeprefix("sqlite:").removeprefix("//").split("?", 1)[0]
        return "sqlite://" + rest.rsplit("@", 1)[-1]
    if "://" not in text:
        if "=" in text:  # libpq key=value
            pairs = dict(re.findall(r"(\w+)\s*=\s*'?([^\s']*)", text))
            return " ".join(f"{k}={pairs[k]}" for k in ("host", "port", "dbname") if k in pairs) \
                or "<key=value DSN>"
        return "<unparsable database URL>"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{text.split('://', 1)[0]}://<unparsable host>"
    return scrub(f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}")
