"""Quiet, strict reading of env files as ``vercel env pull`` writes them.

By hand, the team once sourced a pulled file through a tool that printed a log line, and that
text ended up inside ``CRON_SECRET``. This parser prints nothing and accepts only
``KEY=value`` lines (``export`` prefix, double or single quotes, ``\\n``/``\\r`` escapes as the
CLI writes them), comments and blank lines: any other line is an error naming its line number,
never its text, because that text may be a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from reversal.errors import InputError
from reversal.secrets import describe

_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _value(raw: str, path: Path, number: int, key: str) -> str:
    if raw.startswith('"'):
        # `vercel env pull` escapes newlines but not quotes: the value runs to the last quote.
        end = raw.rfind('"')
        rest = raw[end + 1:].strip()
        if end == 0 or (rest and not rest.startswith("#")):
            raise InputError(
                f"{path}:{number}: the double-quoted value of {key} is not closed on its line "
                "(expected KEY=\"value\" as 'vercel env pull' writes it)."
            )
        return _unescape(raw[1:end])
    if raw.startswith("'"):
        end = raw.find("'", 1)
        rest = raw[end + 1:].strip()
        if end == -1 or (rest and not rest.startswith("#")):
            raise InputError(f"{path}:{number}: the single-quoted value of {key} is not closed on its line.")
        return raw[1:end]
    # unquoted: an inline comment is cut off; any other whitespace stays visible to the checks
    return re.split(r"\s+#", raw, maxsplit=1)[0]


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY -> value`` of an env file; the last definition of a key wins, as in dotenv."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the env file ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the env file is not UTF-8 text.") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(line.lstrip())
        if match is None:
            raise InputError(
                f"{path}:{number}: not a KEY=value line (its text is not shown: it may hold a "
                "secret). Remove stray output (e.g. log lines pasted or redirected into the file) "
                "and pull the file again with 'vercel env pull'."
            )
        key, raw = match.group(1), match.group(2)
        values[key] = _value(raw, path, number, key)
    return values


def read_secret(name: str, *, environ: Mapping[str, str], env_file: Path | None) -> str | None:
    """``name`` from the environment, else from ``env_file``; refused if it has surrounding
    whitespace (a trailing newline in a signing key fails every signature check)."""
    if name in environ:
        value, origin = environ[name], "the environment"
    elif env_file is not None:
        value, origin = parse_env_file(env_file).get(name), str(env_file)
    else:
        return None
    if value is None:
        return None
    shape = describe(name, value)
    if shape.leading_or_trailing_whitespace:
        raise InputError(
            f"{name} from {origin} has leading or trailing whitespace ({shape.length} characters "
            f"including it; {len(value.strip())} without). Fix the stored value (trim it) rather "
            "than trimming here, or the deployed app keeps the broken value."
        )
    return value


def local_copy(name: str, *, environ: Mapping[str, str], env_file: Path | None) -> dict[str, object] | None:
    """The shape of the local copy of ``name`` (the environment, else ``env_file``), never its
    value; None when there is none. Used where Vercel cannot show the value (sensitive vars);
    never raises: a broken env file is reported, not a failure of the audit."""
    if name in environ:
        value, origin = environ[name], "the environment"
    elif env_file is not None:
        try:
            value, origin = parse_env_file(env_file).get(name), str(env_file)
        except InputError as exc:
            return {"origin": str(env_file), "error": str(exc)}
    else:
        return None
    if value is None:
        return None
    shape = describe(name, value)
    return {"origin": origin, "length": shape.length, "whitespace": shape.leading_or_trailing_whitespace}
