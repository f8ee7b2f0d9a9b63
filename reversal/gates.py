"""Safety gates: the app's own checks (lint, build, tests, AI replay suites) that must pass
before the first production change of a slice.

The protocol asks for them before shipping; Argo Rollouts (pre-promotion analysis) and Flagger
(pre-rollout webhooks) gate a rollout the same way. A gate is a shell command run in the app's
checkout; its exit code, duration and the tail of its output (redacted, size-capped) become
evidence. Deciding which gates to run is pure (``plan_gates``); running one is the only effect
(``run_gate``), with the process runner passed in so tests need no real processes.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reversal.durations import parse_duration
from reversal.errors import InputError

DEFAULT_TIMEOUT_S = 1800.0
OUTPUT_CAP_BYTES = 64 * 1024  # the tail kept in the artifact
TIMELINE_LINES = 5  # the last lines shown in the timeline and in a failure message
_GATE_KEYS = {"name", "run", "cwd", "timeout", "env"}


@dataclass(frozen=True)
class Gate:
    name: str
    run: str
    cwd: str = "."
    timeout_s: float = DEFAULT_TIMEOUT_S
    env: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "run": self.run, "cwd": self.cwd, "timeout_s": self.timeout_s,
                "env": sorted(self.env)}  # names only: values may be secrets


@dataclass(frozen=True)
class GateResult:
    name: str
    exit_code: int | None  # None: killed at the timeout
    duration_s: float
    output_tail: str  # redacted, at most OUTPUT_CAP_BYTES
    output_bytes: int  # size of the whole output before capping
    commit: str | None

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def last_lines(self) -> list[str]:
        return self.output_tail.rstrip("\n").splitlines()[-TIMELINE_LINES:]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "exitCode": self.exit_code, "passed": self.passed,
                "timedOut": self.exit_code is None, "durationS": round(self.duration_s, 3),
                "outputBytes": self.output_bytes, "outputTruncated": self.output_bytes > OUTPUT_CAP_BYTES,
                "commit": self.commit, "lastLines": self.last_lines}


@dataclass(frozen=True)
class GateDecision:
    gate: Gate
    action: str  # "run" | "skip-passed" | "skip-break-glass"
    reason: str


def parse_gates(raw: Any, origin: str) -> tuple[Gate, ...]:
    """``gates:`` of ``reversal.yaml`` or a playbook: a list of ``{name, run, cwd, timeout, env}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError(f"{origin}: field 'gates' must be a list of {{name, run, cwd, timeout, env}}.")
    gates: list[Gate] = []
    for index, item in enumerate(raw):
        where = f"{origin}: gates[{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a mapping with 'name' and 'run'.")
        unknown = sorted(set(item) - _GATE_KEYS)
        if unknown:
            raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}; a gate has "
                             f"{', '.join(sorted(_GATE_KEYS))}.")
        name, run = item.get("name"), item.get("run")
        if not isinstance(name, str) or not name.strip() or not name.replace("-", "").replace(
                "_", "").isalnum():
            raise InputError(f"{where}.name: expected a short name of letters, digits, - and _ "
                             f"(got {name!r}).")
        if not isinstance(run, str) or not run.strip():
            raise InputError(f"{where}.run: expected the shell command to run (e.g. 'npm run lint').")
        cwd = item.get("cwd", ".")
        if not isinstance(cwd, str) or not cwd:
            raise InputError(f"{where}.cwd: expected a folder relative to the app's checkout.")
        timeout = item.get("timeout", DEFAULT_TIMEOUT_S)
        if not isinstance(timeout, str | int | float) or isinstance(timeout, bool):
            raise InputError(f"{where}.timeout: expected a positive duration like 10m (got {timeout!r}).")
        timeout_s = parse_duration(timeout, f"{where}.timeout")
        env = item.get("env", {}) or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str | int | float)
                                                 for k, v in env.items()):
            raise InputError(f"{where}.env: expected a mapping of variable names to values.")
        if name in {g.name for g in gates}:
            raise InputError(f"{where}.name: gate {name!r} is listed twice.")
        gates.append(Gate(name, run, cwd, float(timeout_s), {k: str(v) for k, v in env.items()}))
    return tuple(gates)


def merge_gates(project: Iterable[Gate], slice_gates: Iterable[Gate]) -> tuple[Gate, ...]:
    """The project's gates, then the slice's; a slice gate of the same name replaces the project's."""
    own = {g.name: g for g in slice_gates}
    merged = [own.pop(g.name, g) for g in project]
    return (*merged, *own.values())


def plan_gates(gates: Iterable[Gate], passed: Mapping[str, str | None], commit: str | None,
               skips: Mapping[str, str]) -> list[GateDecision]:
    """Which gates to run. ``passed`` maps a gate name to the app commit it last passed on;
    a gate passed for the same known commit is not run again (a dirty or unknown checkout always
    reruns). ``skips`` are the operator's break-glass skips, each with its reason."""
    decisions = []
    for gate in gates:
        if gate.name in skips:
            decisions.append(GateDecision(gate, "skip-break-glass",
                                          f"skipped by the operator: {skips[gate.name]}"))
        elif commit is not None and passed.get(gate.name) == commit:
            decisions.append(GateDecision(gate, "skip-passed", f"passed earlier for commit {commit[:12]}"))
        else:
            decisions.append(GateDecision(gate, "run", "not yet passed for this commit"))
    return decisions


def unknown_skips(gates: Iterable[Gate], skips: Mapping[str, str]) -> list[str]:
    names = {g.name for g in gates}
    return sorted(s for s in skips if s not in names)


def tail(data: bytes, cap: int = OUTPUT_CAP_BYTES) -> str:
    """The last ``cap`` bytes as text, cut at a line start where one is near."""
    if len(data) <= cap:
        return data.decode("utf-8", "replace")
    cut = data[-cap:]
    newline = cut.find(b"\n")
    if 0 <= newline < 1024:
        cut = cut[newline + 1:]
    return cut.decode("utf-8", "replace")


Runner = Callable[[list[str], Path, Mapping[str, str], float], tuple[int | None, bytes]]


def run_process(argv: list[str], cwd: Path, env: Mapping[str, str], timeout_s: float
                ) -> tuple[int | None, bytes]:
    """Run ``argv`` in its own process group; at the timeout the whole group is killed (an
    ``npm run build`` leaves children that would outlive its shell). ``None`` = timed out."""
    import signal

    with subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout_s)
            return proc.returncode, output
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            return None, output + f"\n[killed after {timeout_s:.0f}s]\n".encode()


def app_commit(checkout: Path) -> str | None:
    """The checkout's HEAD commit, or ``None`` when it is not a git checkout or has local
    changes (then a gate result cannot be reused for it)."""
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True,
                      text=True, timeout=30)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain"], capture_output=True,
                       text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() if dirty.returncode == 0 and not dirty.stdout.strip() else None


def run_gate(gate: Gate, checkout: Path, commit: str | None, redact: Callable[[str], str],
             runner: Runner = run_process, monotonic: Callable[[], float] = time.monotonic
             ) -> GateResult:
    """Run one gate in the app's checkout; output (stdout and stderr together) is redacted and
    its tail kept. A gate killed at its timeout has no exit code and did not pass."""
    cwd = (checkout / gate.cwd).resolve()
    if not cwd.is_dir():
        raise InputError(f"gate {gate.name!r}: cwd {cwd} is not a folder; 'cwd' is relative to the "
                         f"app's checkout ({checkout}).")
    started = monotonic()
    code, output = runner(["/bin/sh", "-c", gate.run], cwd, {**os.environ, **gate.env}, gate.timeout_s)
    return GateResult(gate.name, code, monotonic() - started, redact(tail(output)), len(output), commit)
