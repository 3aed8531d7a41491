"""Values and rows as the snapshot writes them: ISO 8601 instants, decimals as strings,
SQL rows as dicts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from evidence.custody.canonical import instant, utc_iso


def instant_iso(microseconds: int | None) -> str | None:
    """An instant read with `instant_sql`, as the snapshot writes timestamps."""
    return iso(instant(microseconds))


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    return value.isoformat()


def num(value) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def fetch_pairs(cursor, sql: str, params=None) -> list[tuple]:
    cursor.execute(sql, params or {})
    return cursor.fetchall()


def fetch(cursor, sql: str, params=None) -> list[dict[str, Any]]:
    cursor.execute(sql, params or {})
    columns = [c.name for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
