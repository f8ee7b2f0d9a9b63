"""The reliability harness: run one CLI case as a hostile operator would, and check the contract.

Every case runs with a canary value of each secret kind in the environment (Vercel token,
CRON_SECRET, Inngest signing key, database password) and asserts:

* the exit code (a set where another engineer's command may still choose among them);
* on a non-zero exit, one ``reversal: …`` paragraph on stderr naming what the case names
  (file, field, variable or value);
* no traceback and no "internal error" anywhere;
* no canary in stdout, stderr or any file the command wrote;
* nothing recorded lost: every file present before the command is still there, unchanged.

Cases run in-process (``reversal.cli.main`` inside click's isolation: fast); ``proc=True``
cases run ``python -m reversal`` in a subprocess (FIFOs, /dev/stdin, signals, other users).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.zrg import CLI_LOGS, EXPORT

CANARY_TOKEN = "canaryTOKEN-7f3a9c1e5b"
CANARY_CRON = "canaryCRON-4d2e8b6a1f"
CANARY_SIGNING = "signkey-prod-canary9e8d7c6b5a"
CANARY_DB_PASSWORD = "canaryDBPW-3c5e7a"
CANARIES = (CANARY_TOKEN, CANARY_CRON, CANARY_SIGNING, "canary9e8d7c6b5a", CANARY_DB_PASSWORD)
DSN = f"postgresql://admin:{CANARY_DB_PASSWORD}@127.0.0.1:1/ledger"

# Everything a command could read from the environment, reset for every case; the platform
# URLs point at a closed loopback port, and without VERCEL_ORG_ID no request is even attempted.
BASE_ENV: dict[str, str | None] = {
    **{k: None for k in os.environ if k.startswith(("REVERSAL_", "VERCEL_", "INNGEST_"))},
    "DATABASE_URL": DSN,
    "VERCEL_TOKEN": CANARY_TOKEN,
    "CRON_SECRET": CANARY_CRON,
    "INNGEST_SIGNING_KEY": CANARY_SIGNING,
    "VERCEL_PROJECT_ID": "prj_reliability",
    "REVERSAL_VERCEL_API": "http://127.0.0.1:1",
    "REVERSAL_VERCEL_LOGS_API": "http://127.0.0.1:1",
    "REVERSAL_INNGEST_API": "http://127.0.0.1:1",
    "REVERSAL_APP_URL": "http://127.0.0.1:1",
    "NO_COLOR": "1",
}


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    argv: tuple[str, ...]
    code: int | frozenset[int]
    names: tuple[str, ...] = ()  # each must appear in the output (stderr, or stdout for reports)
    setup: Callable[[Path], object] | None = None
    env: dict[str, str | None] = field(default_factory=dict)
    proc: bool = False
    stdin: bytes | None = None
    timeout: float = 60

    def codes(self) -> frozenset[int]:
        return self.code if isinstance(self.code, frozenset) else frozenset({self.code})


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def _snapshot(root: Path) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _expand(arg: str, tmp: Path) -> str:
    return (arg.replace("{tmp}", str(tmp)).replace("{export}", str(EXPORT))
            .replace("{ndjson}", str(CLI_LOGS[0])))


def invoke(argv: list[str], env: dict[str, str | None], cwd: Path, stdin: bytes | None = None) -> Outcome:
    """``reversal ARGV`` in-process, as a new process would run it (clean redaction registry)."""
    from click.testing import CliRunner

    from reversal import redact
    from reversal.cli import main

    redact.reset()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with CliRunner().isolation(input=stdin, env=env) as streams:
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            out, err = streams[0].getvalue(), streams[1].getvalue()
    finally:
        os.chdir(previous)
    return Outcome(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def spawn(argv: list[str], env: dict[str, str | None], cwd: Path, stdin: bytes | None = None,
          timeout: float = 60, uid: int | None = None) -> Outcome:
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    full["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    command = [sys.executable, "-m", "reversal", *argv]
    if uid is not None:  # as another user: root ignores permissions, so read-only cases need one
        command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]
    done = subprocess.run(command, input=stdin, capture_output=True, cwd=cwd, env=full, timeout=timeout)
    return Outcome(done.returncode, done.stdout.decode("utf-8", "replace"),
                   done.stderr.decode("utf-8", "replace"))


def check(case: Case, tmp: Path, run: Callable[[Case, Path], Outcome] | None = None) -> Outcome:
    """Run ``case`` in ``tmp`` and assert its contract; returns the outcome for extra checks."""
    if case.setup is not None:
        case.setup(tmp)
    before = _snapshot(tmp)
    argv = [_expand(a, tmp) for a in case.argv]
    env = {**BASE_ENV, **{k: (_expand(v, tmp) if v else v) for k, v in case.env.items()}}
    if run is not None:
        result = run(case, tmp)
    elif case.proc:
        result = spawn(argv, env, tmp, case.stdin, case.timeout)
    else:
        result = invoke(argv, env, tmp, case.stdin)
    after = _snapshot(tmp)
    text = result.out + result.err
    shown = f"exit {result.code}\n--- stdout\n{result.out[-3000:]}\n--- stderr\n{result.err[-3000:]}"
    assert result.code in case.codes(), shown
    assert "Traceback" not in text and "internal error" not in text, shown
    if result.code != 0:
        errors = [line for line in result.err.splitlines() if line.startswith("reversal: ")]
        assert len(errors) <= 1, shown  # one paragraph, not a cascade of errors
    if result.code == 2:  # bad input: that one paragraph and nothing else
        assert result.err.startswith("reversal: ") and len(result.err.strip().splitlines()) == 1, shown
    for name in case.names:
        assert _expand(name, tmp) in text, f"{name!r} not named\n{shown}"
    written = [tmp / p for p, digest in after.items() if before.get(p) != digest]
    for canary in CANARIES:
        assert canary not in text, f"canary {canary} leaked in output\n{shown}"
        for path in written:
            assert canary not in path.read_text("utf-8", "replace"), f"canary {canary} leaked into {path}"
    lost = [p for p, digest in before.items() if after.get(p) != digest]
    assert not lost, f"recorded files lost or changed: {lost}\n{shown}"
    return result
