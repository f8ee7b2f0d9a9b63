"""End-to-end runs of the real CLI, in subprocesses, against the embedded sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# A fixed traffic seed: the sandbox's failures are random like production's, and a barometer
# can fail the gate by chance (about alpha/2 per run); tests that need a PASS must not flake.
SEED = "seed=11"
SEEDED = ("--sandbox-knob", SEED)
FAST = ("--sandbox-knob", "factor=600", *SEEDED)


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "reversal", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def iteration_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "artifacts").glob("*/state.json"))


def state_of(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())


class Served:
    """A `reversal sandbox serve --json` process and the environment that points at it."""

    def __init__(self, proc: subprocess.Popen, info: dict) -> None:
        self.proc, self.info = proc, info
        self.env = dict(info["env"])

    def audit(self) -> list[dict]:
        import httpx

        reply = httpx.get(f"{self.info['api'].rstrip('/')}/_sandbox/audit",
                          headers={"Authorization": f"Bearer {self.info['token']}"}, timeout=10)
        reply.raise_for_status()
        return reply.json()["entries"]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    procs: list[subprocess.Popen] = []

    def start(*knobs: str, factor: int = 600) -> Served:
        args = [sys.executable, "-m", "reversal", "sandbox", "serve", "--json",
                "--factor", str(factor)]
        for knob in (SEED, *knobs):  # later knobs win
            args += ["--knob", knob]
        proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)
        procs.append(proc)
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"sandbox did not start: {proc.stderr.read()}")
        return Served(proc, json.loads(line))

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def set_faults(served: Served, **knobs) -> dict:
    """Break or heal the served sandbox while it runs (``POST /_sandbox/faults``)."""
    import httpx

    reply = httpx.post(f"{served.info['api'].rstrip('/')}/_sandbox/faults", json=knobs,
                       headers={"Authorization": f"Bearer {served.info['token']}"}, timeout=10)
    reply.raise_for_status()
    return reply.json()


def deployments(served: Served) -> list[dict]:
    return [e for e in served.audit() if e["action"] == "deployment.create"]


def start(args: list[str], cwd: Path, served: Served) -> subprocess.Popen:
    """A reversal command in the background against ``served``."""
    env = {**os.environ, **served.env, "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "reversal", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def wait_for(condition, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
