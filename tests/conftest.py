"""Shared fixtures: a throwaway PostgreSQL cluster for tests that need a real server.

``postgres_dsn`` starts one cluster per test session in a temporary directory with the
``initdb``/``pg_ctl`` found on PATH (as user ``nobody`` when running as root, because initdb
refuses root), listening only on 127.0.0.1 and a socket inside that directory. A missing
PostgreSQL is an error, never a skip: CI must not pass without running these tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "postgres"
PG_PASSWORD = "pg-test-password"  # trust auth ignores it; it lets tests check DSN redaction


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--", *argv]
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def _run(argv: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        _as_cluster_owner(argv), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        output = proc.stderr.strip() or proc.stdout.strip()
        raise RuntimeError(f"{' '.join(argv[:2])} failed (exit {proc.returncode}): {output}")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a database on a private PostgreSQL cluster; the cluster is gone after the session."""
    missing = [tool for tool in ("initdb", "pg_ctl", "postgres") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"PostgreSQL server tools not on PATH: {missing}; install PostgreSQL 15.", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="reversal-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        nobody = __import__("pwd").getpwnam("nobody")
        for path in (base, sockets):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    port = _free_port()
    started = False
    try:
        _run(["initdb", "-D", str(data), "-U", PG_USER, "-A", "trust", "--no-sync", "-E", "UTF8"], base)
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(["pg_ctl", "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w", "start"], base)
        started = True
        import psycopg

        admin = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE reversal_test")
        yield f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/reversal_test"
    finally:
        if started:
            _run(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"], base)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class PgDatabase:
    """A fresh database with the ledger tables, plus a writable admin connection for seeding."""

    dsn: str
    admin: object  # psycopg.Connection (autocommit), kept untyped so importing stays lazy


@pytest.fixture
def ledger_pg(postgres_dsn: str) -> Iterator[PgDatabase]:
    import psycopg

    from reversal.platform.ledger_schema import POSTGRES_DDL

    name = f"ledger_{uuid.uuid4().hex[:12]}"
    server, _, _ = postgres_dsn.rpartition("/")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server}/{name}"
    admin = psycopg.connect(dsn, autocommit=True)
    try:
        admin.execute(POSTGRES_DDL)
        yield PgDatabase(dsn=dsn, admin=admin)
    finally:
        admin.close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
