"""Cohort baselines: where one account's value sits among customers on the same plan.

"Unusual" only means something against a stated comparison group. Every signal compares an
account with the other accounts on its plan that were active in the window (a tier-1
hobbyist and an enterprise integration are not comparable), as a multiple of the cohort
median and as a percentile. The median, not the mean, so that a few extreme accounts (the
very ones under investigation) cannot move the yardstick they are measured against; and
the accounts under analysis are left out of the cohort a finding states altogether (issue
#18: a yardstick must not contain the accounts it measures). `Cohorts.without` gives that
cohort; the stored baseline says how many accounts it left out.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Baseline:
    """One account's value against its cohort."""

    cohort: str
    cohort_size: int
    median: float
    multiple: float | None
    percentile: float
    # Accounts under analysis on this plan left out of the cohort.
    excluded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort,
            "cohort_size": self.cohort_size,
            "median": _round(self.median),
            "multiple_of_median": None if self.multiple is None else _round(self.multiple),
            "percentile": round(self.percentile, 2),
            "analysed_accounts_excluded": self.excluded,
        }

    @property
    def customers(self) -> str:
        """The cohort as the sentence names it: "tier-3 customers"."""
        return cohort_label(self.cohort)


def cohort_label(plan: str) -> str:
    return f"{plan} customers" if plan else "customers with no recorded plan"


class Cohorts:
    """Sorted values per plan, so each account's median multiple and percentile is a lookup."""

    def __init__(
        self, members: dict[str, dict[str, float]], excluded: dict[str, int] | None = None
    ) -> None:
        self._members = members
        self._excluded = excluded or {}
        self._sorted = {plan: sorted(vals.values()) for plan, vals in members.items()}
        self._medians = {plan: median(vals) for plan, vals in self._sorted.items()}

    @classmethod
    def build(cls, items: list[tuple[str, str, float]]) -> Cohorts:
        """From (plan, account, value) for every account measured."""
        members: dict[str, dict[str, float]] = {}
        for plan, account, value in items:
            members.setdefault(plan, {})[account] = value
        return cls(members)

    def without(self, accounts: set[str]) -> Cohorts:
        """The same cohorts less `accounts` (the accounts under analysis)."""
        members, excluded = {}, {}
        for plan, values in self._members.items():
            members[plan] = {a: v for a, v in values.items() if a not in accounts}
            excluded[plan] = len(values) - len(members[plan])
        return Cohorts(members, excluded)

    def members(self, plan: str) -> set[str]:
        """The accounts a finding on `plan` is compared with."""
        return set(self._members.get(plan, ()))

    def median_of(self, plan: str) -> float:
        return self._medians.get(plan, 0.0)

    def baseline(self, plan: str, value: float) -> Baseline:
        cohort = self._sorted.get(plan, [])
        middle = self._medians.get(plan, 0.0)
        multiple = value / middle if middle > 0 else None
        return Baseline(
            cohort=plan,
            cohort_size=len(cohort),
            median=middle,
            multiple=multiple,
            percentile=percentile_of(cohort, value),
            excluded=self._excluded.get(plan, 0),
        )


def median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    if not n:
        return 0.0
    mid = n // 2
    if n % 2:
        return float(sorted_values[mid])
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2


def percentile_of(sorted_values: list[float], value: float) -> float:
    """Share of the cohort (in %) with a strictly lower value (the exclusive percentile
    rank), so "more than 99% of customers" is literally true of the number stored."""
    n = len(sorted_values)
    if not n:
        return 0.0
    return 100.0 * bisect_left(sorted_values, value) / n


def _round(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    digits = max(0, 3 - math.floor(math.log10(abs(value))))
    return round(value, digits)


# --- words -----------------------------------------------------------------------------


def multiple_words(multiple: float | None) -> str:
    """ "47x" / "2.5x" / "a tenth of": how a sentence states a multiple of the median."""
    if multiple is None:
        return "an undefined multiple"
    if multiple >= 10:
        return f"{multiple:,.0f}x"
    if multiple >= 1:
        return f"{multiple:.1f}x"
    if multiple == 0:
        return "none of"
    return f"{multiple:.2f}x"


def percentile_words(baseline: Baseline) -> str:
    """ "higher than 99.9% of tier-3 customers", stated conservatively (rounded down)."""
    p = baseline.percentile
    if p == 0:
        return f"as low as any of the {baseline.customers}"
    if p < 1:
        return f"higher than fewer than 1% of {baseline.customers}"
    if p >= 99.9:
        share = "99.9%"
    elif p >= 99:
        share = f"{math.floor(p * 10) / 10:g}%"
    else:
        share = f"{math.floor(p):g}%"
    return f"higher than {'only ' if p < 50 else ''}{share} of {baseline.customers}"


def share_words(value: float) -> str:
    """A share as a sentence states it: "97%", "0.4%", "0%"."""
    pct = 100 * value
    if pct == 0 or pct >= 10:
        return f"{pct:.0f}%"
    if pct >= 1:
        return f"{pct:.1f}%"
    return f"{pct:.2f}%"
