"""Stopping the embedded PostgreSQL that `make demo` leaves behind (issue #20): a process
killed without detaching (a worker's pool child) kept the server running with no
documented way to stop it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, var_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ.update(PACTA_VAR_DIR=str(var_dir), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def var_dir():
    # Not pytest's tmp_path: run by root, the server runs as its own user, which must be
    # able to reach the data directory's parent.
    folder = Path(tempfile.mkdtemp(prefix="pacta-embedded-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    if (folder / "pgdata" / "postmaster.pid").exists():
        _manage("stop_embedded_db", var_dir=folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_demo_stop_stops_a_server_a_killed_process_left_running(var_dir):
    # A process that attaches and dies without detaching, as a killed worker child does.
    started = _manage(
        "shell",
        "-c",
        "from django.db import connection; connection.ensure_connection(); import os; os._exit(0)",
        var_dir=var_dir,
    )
    assert started.returncode == 0, started.stderr
    pgdata = var_dir / "pgdata"
    assert (pgdata / "postmaster.pid").exists()

    stopped = _manage("stop_embedded_db", "--json", var_dir=var_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {
        "pgdata": str(pgdata.resolve()),
        "was_running": True,
        "attached": [],
    }
    assert not (pgdata / "postmaster.pid").exists()
    again = _manage("stop_embedded_db", var_dir=var_dir)
    assert again.returncode == 0, again.stderr
    assert "was not running" in again.stdout


def test_a_database_server_is_not_stopped_from_here(var_dir):
    result = _manage(
        "stop_embedded_db", var_dir=var_dir, DATABASE_URL="postgres://pacta@db.invalid:5432/p"
    )
    assert result.returncode == 2
    assert "DATABASE_URL is set" in result.stderr
