"""Project configuration: ``reversal.yaml`` + environment + ``.vercel/project.json``.

Precedence (DESIGN): defaults < config file < environment < command-line flags. Secrets are
read from the environment (or an env file) only and kept out of ``repr``; the config file
never holds a secret value, only which secret keys matter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reversal.errors import InputError

CONFIG_NAME = "reversal.yaml"
DEFAULT_API = "https://api.vercel.com"
DEFAULT_LOGS_API = "https://vercel.com"
DEFAULT_INNGEST_API = "https://api.inngest.com"
DEFAULT_SECRETS = ("CRON_SECRET", "INNGEST_SIGNING_KEY")

ENVIRONMENTS = ("production", "preview")  # Vercel targets the flag writes and log filters support

# setting -> what it must be. Adding a setting is one line here (plus its use in load_config).
_SCHEMA: dict[str, str] = {
    "project_id": "text", "org_id": "text", "team_id": "text", "app_url": "url",
    "environment": "environment", "artifacts": "path", "playbooks_dir": "path",
    "secrets": "names", "signatures": "regexes", "env_file": "path", "database_url_env": "name",
    "vercel_api": "url", "vercel_logs_api": "url", "inngest_api": "url", "gates": "gates",
}
_KNOWN_KEYS = frozenset(_SCHEMA)
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class Config:
    root: Path
    project_id: str | None = None
    org_id: str | None = None
    team_id: str | None = None
    app_url: str | None = None
    environment: str = "production"
    artifacts: Path = Path("artifacts")
    playbooks_dir: Path | None = None
    secrets: tuple[str, ...] = DEFAULT_SECRETS
    signatures: Mapping[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    database_url_env: str = "DATABASE_URL"
    vercel_api: str = DEFAULT_API
    vercel_logs_api: str = DEFAULT_LOGS_API
    inngest_api: str = DEFAULT_INNGEST_API
    gates: tuple = ()  # reversal.gates.Gate, run before every slice's first production change
    source: Path | None = None  # the reversal.yaml read, if any
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def secret(self, name: str) -> str | None:
        """A secret from the environment, else from ``env_file`` (as ``vercel env pull`` writes
        it); refused with surrounding whitespace. Never logged, never part of ``repr``."""
        from reversal.platform.envfile import read_secret

        return read_secret(name, environ=self.environ, env_file=self.env_file)

    @property
    def token(self) -> str | None:
        return self.environ.get("VERCEL_TOKEN")

    @property
    def database_url(self) -> str | None:
        return self.environ.get(self.database_url_env)

    def catalogue(self):  # -> reversal.logs.signatures.Catalogue
        from reversal.logs.signatures import build_catalogue

        return build_catalogue(self.signatures, origin=str(self.source or CONFIG_NAME))

    def load_playbooks(self):  # -> dict[str, Playbook]
        from reversal.playbooks import load_playbooks

        return load_playbooks(self.playbooks_dir, self.catalogue().names)


def _read_yaml(path: Path) -> dict[str, Any]:
    from reversal.yamlfile import read_yaml

    data = read_yaml(path, "config file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of settings at the top level.")
    from reversal.playbooks import did_you_mean

    for key, value in data.items():
        if key not in _KNOWN_KEYS:
            raise InputError(
                f"{path}: unknown setting {key!r}{did_you_mean(str(key), _KNOWN_KEYS)}; known settings: "
                f"{', '.join(sorted(_KNOWN_KEYS))}."
            )
        if value is not None:
            _check_setting(path, key, _SCHEMA[key], value)
    return data


def _check_setting(path: Path, key: str, kind: str, value: Any) -> None:
    """One setting against its kind; the error names the file, the field and what is expected."""
    import re

    def fail(expected: str) -> InputError:
        return InputError(f"{path}: field '{key}' must be {expected} (got {value!r}).")

    if kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) and re.fullmatch(_ENV_NAME, v)
                                                  for v in value):
            raise fail("a list of env var names")
    elif kind == "gates":
        from reversal.gates import parse_gates

        parse_gates(value, str(path))
    elif kind == "regexes":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in value.items()):
            raise fail("a mapping of signature names to regexes")
    elif not isinstance(value, str) or not value.strip():
        raise fail("a non-empty string")
    elif kind == "environment" and value not in ENVIRONMENTS:
        raise fail(f"one of {', '.join(ENVIRONMENTS)} (the Vercel environments reversal reads and writes)")
    elif kind == "name" and not re.fullmatch(_ENV_NAME, value):
        raise fail("an env var name")
    elif kind == "url" and (problem := url_problem(value, ("http", "https"))):
        raise fail(f"an absolute http(s) URL ({problem})")
    elif kind == "path" and "\x00" in value:
        raise fail("a path")


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``url`` is not an absolute URL with one of ``schemes``, or None. The one URL check:
    whitespace (a pasted newline), a port that does not parse (``http://[::1``, ``:99999``) or
    is 0, no scheme or no host; checked up front so no later ``urlsplit`` raises a bare ValueError."""
    from urllib.parse import urlsplit

    if url != url.strip() or any(c.isspace() for c in url):
        return "it contains whitespace"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"it cannot be parsed ({exc})"
    if parts.scheme not in schemes:
        return f"it has no {' or '.join(f'{s}://' for s in schemes)} scheme"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "its port is 0"
    return None


def linked_project(root: Path) -> dict[str, str]:
    """``.vercel/project.json`` as ``vercel link`` writes it: ``projectId``, ``orgId``."""
    path = root / ".vercel" / "project.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON object ({exc}).") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with projectId and orgId.")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the effective configuration. ``path`` is ``--config``; else ``./reversal.yaml``."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    if path is not None and not path.is_file():
        raise InputError(f"{path}: config file not found (given with --config).")
    if environ.get("REVERSAL_ARTIFACTS", "").strip() == "" and "REVERSAL_ARTIFACTS" in environ:
        raise InputError("REVERSAL_ARTIFACTS is set but empty; expected the evidence folder's path.")
    source = path or (cwd / CONFIG_NAME if (cwd / CONFIG_NAME).is_file() else None)
    data = _read_yaml(source) if source else {}
    root = source.parent if source else cwd
    linked = linked_project(root)

    def pick(env_key: str | None, file_key: str, default: Any = None) -> Any:
        if env_key and environ.get(env_key):
            return environ[env_key]
        return data.get(file_key) or default

    playbooks_dir = data.get("playbooks_dir")
    playbooks_path = (root / playbooks_dir) if playbooks_dir else root / "playbooks"
    if playbooks_dir and not playbooks_path.is_dir():
        raise InputError(
            f"{source}: field 'playbooks_dir' names {playbooks_path}, which is not a folder; create it "
            "(reversal init writes the built-in playbooks there) or remove the setting to use the "
            "built-in playbooks."
        )
    artifacts = root / pick("REVERSAL_ARTIFACTS", "artifacts", "artifacts")
    if artifacts.exists() and not artifacts.is_dir():
        raise InputError(f"artifacts folder {artifacts} (artifacts in {source or CONFIG_NAME}, or "
                         "REVERSAL_ARTIFACTS) is a file; expected a folder for the evidence packets.")
    env_file = pick("REVERSAL_ENV_FILE", "env_file")
    for env_key, file_key in (("REVERSAL_VERCEL_API", "vercel_api"), ("REVERSAL_VERCEL_LOGS_API",
                              "vercel_logs_api"), ("REVERSAL_INNGEST_API", "inngest_api")):
        problem = environ.get(env_key) and url_problem(environ[env_key], ("http", "https"))
        if problem:
            raise InputError(f"{env_key} {environ[env_key]!r}: expected an absolute http(s) URL, but "
                             f"{problem} (it overrides '{file_key}' in {CONFIG_NAME}).")
    return Config(
        root=root,
        project_id=pick("VERCEL_PROJECT_ID", "project_id", linked.get("projectId")),
        org_id=pick("VERCEL_ORG_ID", "org_id", linked.get("orgId")),
        team_id=pick("VERCEL_TEAM_ID", "team_id"),
        app_url=pick("REVERSAL_APP_URL", "app_url"),
        environment=data.get("environment") or "production",
        artifacts=artifacts,
        playbooks_dir=playbooks_path if playbooks_path.is_dir() else None,
        secrets=tuple(data.get("secrets") or DEFAULT_SECRETS),
        signatures=data.get("signatures") or {},
        env_file=root / env_file if env_file else None,
        database_url_env=data.get("database_url_env") or "DATABASE_URL",
        vercel_api=pick("REVERSAL_VERCEL_API", "vercel_api", DEFAULT_API),
        vercel_logs_api=pick("REVERSAL_VERCEL_LOGS_API", "vercel_logs_api", DEFAULT_LOGS_API),
        inngest_api=pick("REVERSAL_INNGEST_API", "inngest_api", DEFAULT_INNGEST_API),
        gates=_gates(data.get("gates"), source),
        source=source,
        environ=environ,
    )


def _gates(raw: Any, source: Path | None) -> tuple:
    """``gates:`` parsed only when present, so ``reversal --help`` paths never import gates."""
    if raw is None:
        return ()
    from reversal.gates import parse_gates

    return parse_gates(raw, str(source or CONFIG_NAME))
