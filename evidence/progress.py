"""Progress of long work, written where a person can see it while the work runs.

An ingest or a detection run is one transaction, so that a failure leaves nothing behind;
nothing it writes is visible to anyone else until it commits. `ProgressRecorder` writes
the work's progress row through a database connection of its own, in autocommit, so the
progress page and the API see it move while the work's own transaction is still open. It
writes at most every `every_seconds` (the last figures are always written by `close`), so
watching a run costs it a few small UPDATEs, not one per row.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone
from psycopg import sql

logger = logging.getLogger(__name__)
EVERY_SECONDS = 0.5


class ProgressRecorder:
    """Write `fields` of the row `pk` of `model` as the work reports them; callable.

    Progress is a courtesy to the person waiting, never part of the evidence: if the side
    connection fails, the work goes on and the failure is logged.
    """

    def __init__(self, model: type[Model], pk: int, *, every_seconds: float = EVERY_SECONDS):
        self.model = model
        self.pk = pk
        self.every_seconds = every_seconds
        self.latest: dict[str, Any] = {}
        self.written: dict[str, Any] = {}
        self._last = float("-inf")
        self._connection = None

    def __call__(self, **fields: Any) -> None:
        self.latest.update(fields)
        now = time.monotonic()
        if now - self._last >= self.every_seconds:
            self._last = now
            self._write()

    def close(self) -> None:
        """Write the last figures and let the side connection go."""
        if self.latest != self.written:
            self._write()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _write(self) -> None:
        meta = self.model._meta
        values = dict(self.latest, updated_at=timezone.now())
        columns = [meta.get_field(name).column for name in values]
        statement = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            sql.Identifier(meta.db_table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns),
            sql.Identifier(meta.pk.column),
        )
        try:
            side = self._side_connection()
            with side.cursor() as cursor:
                cursor.execute(statement, [*values.values(), self.pk])
        except Exception:  # see the class docstring: never fails the work
            logger.warning("progress of %s %s not written", meta.label, self.pk, exc_info=True)
            self._connection = None
            return
        self.written = dict(self.latest)

    def _side_connection(self):
        if self._connection is None or self._connection.closed:
            # Same server and database as the work, but its own session: what it writes
            # commits at once, whatever the work's transaction is doing.
            self._connection = connection.get_new_connection(connection.get_connection_params())
            self._connection.autocommit = True
        return self._connection


# pg_advisory_lock(key1, key2): key1 names the kind of work, key2 its row. A worker holds
# the lock while it carries the work out; the server releases it when the worker's
# connection ends, however it ends (even SIGKILL), so a row marked running with no lock
# held was left by a worker that stopped.
INGEST_LOCK_KEY = 0x50434947  # "PCIG"
DETECTION_LOCK_KEY = 0x50434454  # "PCDT"


@contextmanager
def work_lock(key: int, pk: int):
    """Hold the lock of row `pk` of the kind `key` while the block runs; yields False when
    another live worker holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [key, pk])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [key, pk])


def work_held(key: int) -> set[int]:
    """The rows of the kind `key` that a live worker is carrying out now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objsubid = 2 AND granted",
            [key],
        )
        return {row[0] for row in cursor.fetchall()}


def work_recover(model: type[Model], *, key: int, queued: str, running: str, **reset) -> list[int]:
    """Rows left running by a worker that stopped go back to `queued` (their transaction
    rolled back: nothing of them was stored), with `reset`; returns every queued row's id,
    for a starting worker to send again. A row whose message survived too is harmless: the
    second delivery finds it taken."""
    held = work_held(key)
    for pk in model.objects.filter(status=running).values_list("pk", flat=True):
        if pk not in held:
            model.objects.filter(pk=pk, status=running).update(status=queued, **reset)
    return list(model.objects.filter(status=queued).order_by("pk").values_list("pk", flat=True))
