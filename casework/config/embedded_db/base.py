"""Django database backend: stock PostgreSQL, pointed at the embedded server on first use."""

from __future__ import annotations

from pathlib import Path

from django.db.backends.postgresql import base

from casework.config.embedded_db import embedded_database_ensure, embedded_server

_ensured: set[tuple[str, str]] = set()


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL whose host and port come from the embedded server in OPTIONS['pgdata']."""

    def get_connection_params(self):
        options = dict(self.settings_dict["OPTIONS"])
        pgdata = Path(options.pop("pgdata"))
        server = embedded_server(pgdata)
        name = self.settings_dict["NAME"]
        # The application database is created on first use; the test database is created
        # by Django's test runner from the `postgres` maintenance database.
        if name and (str(pgdata), name) not in _ensured and not name.startswith("test_"):
            embedded_database_ensure(server, name)
            _ensured.add((str(pgdata), name))
        saved = self.settings_dict["OPTIONS"]
        self.settings_dict["OPTIONS"] = options
        try:
            params = super().get_connection_params()
        finally:
            self.settings_dict["OPTIONS"] = saved
        params["host"] = server.socket_dir
        params["port"] = server.port
        params["user"] = "postgres"
        return params
