"""Vercel's own clients against the sandbox: the pinned ``@vercel/sdk`` and ``vercel`` CLI.

``node_clients`` installs ``tests/contract/package-lock.json`` with ``npm ci`` into
``tests/contract/node_modules`` (git-ignored) the first time, and fails (never skips) when node or
npm is missing: CI must not pass without running these tests. ``sdk`` runs one per-operation script
of ``tests/contract/sdk/``; ``vercel_cli`` runs the CLI with ``--api`` pointed at a sandbox, from a
folder linked by ``.vercel/project.json``, with HOME and the XDG dirs in a temp folder, no telemetry
and no update check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reversal.sandbox import SandboxInfo
from tests.sandbox.conftest import sandbox_starter

HERE = Path(__file__).parent
MODULES = HERE / "node_modules"


def _installed_version(package: str) -> str | None:
    manifest = MODULES / package / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """``tests/contract/node_modules`` holding exactly the pinned versions."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the contract tests need node and npm on PATH (node >= 20): install them; "
                    "they are not optional")
    pins = json.loads((HERE / "package.json").read_text())["dependencies"]
    if any(_installed_version(name) != version for name, version in pins.items()):
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                              capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            pytest.fail(f"npm ci in {HERE} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    wrong = {name: _installed_version(name) for name, version in pins.items()
             if _installed_version(name) != version}
    if wrong:
        pytest.fail(f"{MODULES} does not hold the pinned versions {pins}: found {wrong}")
    return MODULES


@pytest.fixture(scope="module")
def start_served() -> Iterator[Callable[..., SandboxInfo]]:
    """Sandboxes served on loopback for the module; stopped at its end."""
    with sandbox_starter(seed=11) as start:
        yield start


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ", "SYSTEMROOT")}


def _node_env(info: SandboxInfo) -> dict[str, str]:
    return {**_base_env(), "SANDBOX_API": info.api, "VERCEL_TOKEN": info.token,
            "VERCEL_TEAM_ID": info.team_id, "VERCEL_PROJECT_ID": info.project_id}


@pytest.fixture
def sdk(node_clients: Path) -> Callable[..., Any]:
    """``sdk(info, "get-project", {...})``: the operation's validated result; a zod failure fails the test."""

    def call(info: SandboxInfo, operation: str, args: dict[str, Any] | None = None) -> Any:
        proc = subprocess.run(["node", str(HERE / "sdk" / f"{operation}.mjs"), json.dumps(args or {})],
                              cwd=HERE, env=_node_env(info), capture_output=True, text=True, timeout=120,
                              check=False)
        try:
            answer = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pytest.fail(f"sdk/{operation}.mjs exited {proc.returncode} with no answer: {proc.stderr[-2000:]}")
        if not answer["ok"]:
            pytest.fail(f"@vercel/sdk {operation} rejected the sandbox's answer:\n{answer['detail']}")
        return answer["result"]

    return call


@pytest.fixture
def vercel_cli(node_clients: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``vercel_cli(info, "env", "ls")`` run in a linked folder; returns the finished process."""
    home, app = tmp_path / "home", tmp_path / "app"
    (app / ".vercel").mkdir(parents=True)
    home.mkdir()

    def run(info: SandboxInfo, *args: str) -> subprocess.CompletedProcess[str]:
        (app / ".vercel" / "project.json").write_text(
            json.dumps({"projectId": info.project_id, "orgId": info.team_id}))
        env = {**_base_env(), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
               "VERCEL_TELEMETRY_DISABLED": "1", "NO_UPDATE_NOTIFIER": "1", "CI": "1", "NO_COLOR": "1"}
        argv = [str(node_clients / ".bin" / "vercel"), "--api", info.api, "--token", info.token,
                "--no-color", *args]
        return subprocess.run(argv, cwd=app, env=env, capture_output=True, text=True, timeout=120,
                              check=False)

    return run
