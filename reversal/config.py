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

_KNOWN_KEYS = {
    "project_id", "org_id", "team_id", "app_url", "environment", "artifacts", "playbooks_dir",
    "secrets", "signatures", "env_file", "database_url_env", "vercel_api", "vercel_logs_api",
    "inngest_api",
}


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
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise InputError(
            f"{path}: unknown settings {unknown}; known settings: {', '.join(sorted(_KNOWN_KEYS))}."
        )
    for key, value in data.items():
        if key in ("secrets",):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{path}: field '{key}' must be a list of env var names.")
        elif key == "signatures":
            if not isinstance(value, dict):
                raise InputError(f"{path}: field 'signatures' must map names to regexes.")
        elif value is not None and not isinstance(value, str):
            raise InputError(f"{path}: field '{key}' must be a string (got {value!r}).")
    return data


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
    env_file = pick("REVERSAL_ENV_FILE", "env_file")
    return Config(
        root=root,
        project_id=pick("VERCEL_PROJECT_ID", "project_id", linked.get("projectId")),
        org_id=pick("VERCEL_ORG_ID", "org_id", linked.get("orgId")),
        team_id=pick("VERCEL_TEAM_ID", "team_id"),
        app_url=pick("REVERSAL_APP_URL", "app_url"),
        environment=data.get("environment") or "production",
        artifacts=root / pick("REVERSAL_ARTIFACTS", "artifacts", "artifacts"),
        playbooks_dir=playbooks_path if playbooks_path.is_dir() else None,
        secrets=tuple(data.get("secrets") or DEFAULT_SECRETS),
        signatures=data.get("signatures") or {},
        env_file=root / env_file if env_file else None,
        database_url_env=data.get("database_url_env") or "DATABASE_URL",
        vercel_api=pick("REVERSAL_VERCEL_API", "vercel_api", DEFAULT_API),
        vercel_logs_api=pick("REVERSAL_VERCEL_LOGS_API", "vercel_logs_api", DEFAULT_LOGS_API),
        inngest_api=pick("REVERSAL_INNGEST_API", "inngest_api", DEFAULT_INNGEST_API),
        source=source,
        environ=environ,
    )
