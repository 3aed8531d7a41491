"""How the report writes numbers, money, dates and labels, and caps its tables: one
definition shared by every section."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

CATEGORY_LABELS = {
    "competing_models": "Competing models",
    "output_extraction": "Output extraction",
    "limit_circumvention": "Circumvention of limits",
    "key_transfer": "Key transfer / resale",
    "account_sharing": "Account sharing",
    "region": "Region",
    "other": "Other",
    "uncategorised": "Uncategorised",
}
BASIS_LABELS = {
    "cluster": "Detected cluster",
    "payment": "Shared payment method",
    "admission": "Respondent's admission or records",
    "investigation": "Investigator's finding",
    "other": "Other",
}
CENT = Decimal("0.01")


def n(value) -> str:
    """A count as a reader reads it: 1,234,567."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def day(iso: str | None) -> str:
    return iso[:10] if iso else "—"


def moment(iso: str | None) -> str:
    """An instant as the report prints it: 2026-01-05 10:00 UTC."""
    if not iso:
        return "—"
    value = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def ratio(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


class Capped(list):
    """A table's shown rows, remembering how many there were in all."""

    def __init__(self, rows, *, limit: int, total: int | None = None):
        if total is None:
            rows = list(rows)
            total = len(rows)
        # Only the shown rows are built (and redacted, and logged as redacted).
        super().__init__(islice(rows, limit))
        self.total = total

    @property
    def truncated(self) -> bool:
        return self.total > len(self)
