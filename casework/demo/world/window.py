"""The synthetic world's 30-day window and the timestamps written inside it.

Every instant of the world is an integer of milliseconds from the window's start, so the
generator does integer arithmetic and formats a timestamp only when it writes one.
"""

from __future__ import annotations

from datetime import UTC, datetime

WINDOW_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WINDOW_DAYS = 30
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WINDOW_MS = WINDOW_DAYS * DAY_MS
WINDOW_HOURS = WINDOW_DAYS * 24
_WINDOW_START_S = int(WINDOW_START.timestamp())


def ms_from_iso(iso: str) -> int:
    """Milliseconds from the window start to an ISO-8601 UTC instant (negative before it)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int((moment - WINDOW_START).total_seconds() * 1000)


def iso_seconds(ms: int) -> str:
    return datetime.fromtimestamp(_WINDOW_START_S + ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DAY_PREFIX = [
    datetime.fromtimestamp(_WINDOW_START_S + day * 86_400, UTC).strftime("%Y-%m-%dT")
    for day in range(WINDOW_DAYS)
]


def iso_millis(ms: int) -> str:
    """Usage timestamps: ISO-8601 UTC with milliseconds, the precision provider logs keep."""
    day, rest = divmod(ms, DAY_MS)
    hour, rest = divmod(rest, HOUR_MS)
    minute, rest = divmod(rest, 60_000)
    second, milli = divmod(rest, 1000)
    return f"{_DAY_PREFIX[day]}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"
