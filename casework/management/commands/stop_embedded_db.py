"""`python manage.py stop_embedded_db [--json]` (`make demo-stop`): stop the embedded
PostgreSQL that `make demo` and commands start in `var/pgdata` when DATABASE_URL is unset.

It never connects to the database itself, so it does not start the server it stops.
Exit status 2 when DATABASE_URL names a server: that one is not Pacta's to stop.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from casework.config.embedded_db import embedded_server_stop
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Stop the embedded PostgreSQL (var/pgdata) that the demo and commands started."
    skip_checks = True

    def run(self, **options) -> None:
        pgdata = settings.DATABASES["default"].get("OPTIONS", {}).get("pgdata")
        if not pgdata:
            self.usage_error(
                "DATABASE_URL is set: the database is a server of its own, not an embedded "
                "one, and is not stopped from here"
            )
        result = embedded_server_stop(Path(pgdata))
        if result["was_running"]:
            line = f"Stopped the embedded PostgreSQL in {result['pgdata']}."
        else:
            line = f"The embedded PostgreSQL in {result['pgdata']} was not running."
        lines = [line]
        if result["attached"]:
            pids = ", ".join(str(pid) for pid in result["attached"])
            lines.append(f"  Processes that were still attached (now disconnected): {pids}")
        self.done(result, text=lines)
