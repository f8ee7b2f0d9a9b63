import os

import pytest


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch):
    """The machine fsyncs every write (crash safety); in-memory branch tests need speed, not disks."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def fast_tmp(tmp_path_factory):
    """A folder in memory when the machine has one (many small atomic writes per branch)."""
    import shutil
    import tempfile
    from pathlib import Path

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("fast")
        return
    path = Path(tempfile.mkdtemp(prefix="reversal-test-", dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)
