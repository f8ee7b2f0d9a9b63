"""Cases that need real processes: FIFOs, signals, another user (root ignores permissions),
a full disk; each still checked by the same contract as the table."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.builders import files, real_export_head
from tests.reliability.harness import BASE_ENV, CANARIES, Case, Outcome, check, invoke, spawn

NOBODY = 65534
PROCESS_CASES: list[str] = []  # ids, counted with the table in the figures


def _writer(path: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(path, "wb") as fifo:
            fifo.write(data)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_fifo_is_read_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "in.fifo")
    writer = _writer(tmp_path / "in.fifo", real_export_head().encode())
    result = check(Case("fifo", "inputs", ("attribute", "--json", "{tmp}/in.fifo"), 0, ('"rows": 50',),
                        proc=True, timeout=30), tmp_path)
    writer.join(5)
    assert not writer.is_alive() and '"rows": 50' in result.out


def test_fifo_compare_both_windows_from_fifos(tmp_path: Path) -> None:
    for name in ("a.fifo", "b.fifo"):
        os.mkfifo(tmp_path / name)
    writers = [_writer(tmp_path / n, real_export_head().encode()) for n in ("a.fifo", "b.fifo")]
    check(Case("fifo-compare", "inputs", ("compare", "{tmp}/a.fifo", "{tmp}/b.fifo", "--route",
                                          "/api/cron/response-timing", "--json"), frozenset({0, 1, 3}),
               ('"verdict"',), proc=True, timeout=30), tmp_path)
    for writer in writers:
        writer.join(5)


def test_process_substitution(tmp_path: Path) -> None:
    """``reversal attribute <(cat export.json)``: a pipe under /dev/fd, not seekable."""
    (tmp_path / "e.json").write_text(real_export_head(), encoding="utf-8")
    env = {k: v for k, v in {**os.environ, **BASE_ENV}.items() if v is not None}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m reversal attribute --json <(cat e.json)'],
                          cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b'"rows": 50' in done.stdout and b"Traceback" not in done.stderr


def _started(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in {**os.environ, **BASE_ENV}.items() if v is not None}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.Popen([sys.executable, "-m", "reversal", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _outcome(proc: subprocess.Popen) -> Outcome:
    out, err = proc.communicate(timeout=30)
    return Outcome(proc.returncode, out.decode(), err.decode())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_waiting_for_input(tmp_path: Path, sig: signal.Signals) -> None:
    """A FIFO nobody writes to: the command waits; a signal ends it cleanly (130 for SIGINT,
    143 for SIGTERM, as shells report them)."""
    os.mkfifo(tmp_path / "in.fifo")
    proc = _started(["attribute", str(tmp_path / "in.fifo")], tmp_path)
    time.sleep(1.5)
    proc.send_signal(sig)
    result = _outcome(proc)
    assert result.code == 128 + sig, result
    assert "Traceback" not in result.err
    assert result.err.strip().startswith("reversal: interrupted")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sandbox_serve_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _started(["sandbox", "serve", "--json"], tmp_path)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith(b"{"), proc.stderr.read()  # type: ignore[union-attr]
    proc.send_signal(sig)
    result = _outcome(proc)
    assert result.code == 0 and "Traceback" not in result.err


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder owned by root, readable by everyone: read-only for user nobody."""
    path = Path(tempfile.mkdtemp(prefix="reversal-ro-"))
    path.chmod(0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _as_nobody(case: Case) -> object:
    def run(c: Case, tmp: Path) -> Outcome:
        from tests.reliability.harness import _expand

        argv = [_expand(a, tmp) for a in c.argv]
        env = {**BASE_ENV, **c.env, "HOME": str(tmp)}
        return spawn(argv, env, tmp, uid=NOBODY)
    return run


def test_init_into_read_only_dir(shared_dir: Path) -> None:
    case = Case("init-read-only", "filesystem", ("init", "{tmp}/project"), 2, ("{tmp}/project",))
    check(case, shared_dir, run=_as_nobody(case))  # type: ignore[arg-type]


def test_read_only_artifacts_exit_1_naming_the_path(shared_dir: Path) -> None:
    """probe --out into a folder nobody may write: exit 1 naming it and what to do."""
    case = Case("out-read-only", "filesystem", ("probe", "--route", "response-timing", "--out",
                                                "{tmp}/probe.json"), 1, ("{tmp}", "permissions"))
    check(case, shared_dir, run=_as_nobody(case))  # type: ignore[arg-type]


def test_read_only_artifacts_keep_the_recorded_packet(shared_dir: Path) -> None:
    """verify and status as nobody over a root-owned packet: read works, nothing changes."""
    from tests.reliability.builders import packet

    packet()(shared_dir)
    for sub in shared_dir.rglob("*"):
        sub.chmod(0o755 if sub.is_dir() else 0o644)
    case = Case("verify-read-only", "filesystem", ("verify",), 0, ("verifies",))
    check(case, shared_dir, run=_as_nobody(case))  # type: ignore[arg-type]


def test_full_disk_exits_1_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while an artifact is written (simulated at the fsync of the atomic writer)."""
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "probe.json"))
    files(**{"keep.txt": "recorded"})(tmp_path)
    monkeypatch.setattr(os, "fsync", full)
    result = invoke(["probe", "--route", "response-timing", "--out", str(tmp_path / "probe.json")],
                    BASE_ENV, tmp_path)
    assert result.code == 1 and "probe.json" in result.err and "free space" in result.err, result
    assert (tmp_path / "keep.txt").read_text() == "recorded" and not (tmp_path / "probe.json").exists()
    assert not any(c in result.out + result.err for c in CANARIES)


def test_run_log_is_private_and_scrubbed(tmp_path: Path) -> None:
    from reversal import redact
    from reversal.evidence.runlog import RunLog

    redact.reset()
    redact.register([CANARIES[0]])
    (tmp_path / "run.log").write_text("", encoding="utf-8")
    (tmp_path / "run.log").chmod(0o644)  # as an older version left it
    log = RunLog(tmp_path / "run.log", iteration="it")
    log.error("step.failed", error=f"connect postgresql://admin:{CANARIES[4]}@h/db with {CANARIES[0]}",
              password=CANARIES[1])
    log.close()
    text = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert (tmp_path / "run.log").stat().st_mode & 0o777 == 0o600
    assert "step.failed" in text and not any(c in text for c in CANARIES)
