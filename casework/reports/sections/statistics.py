"""Section 7's statement of the statistics behind the findings: the null model and its draws,
the correction for the many pairs examined, the cohorts, the units, the intervals and the
charts' sources. Issue #18: a reviewer must be able to see how small a probability the
method can support, and that no yardstick contains the accounts it measures."""

from __future__ import annotations

from typing import Any

from casework.reports.sections.source import Source
from evidence.detectors.sync_null import EXCEEDANCES, smallest_p
from evidence.detectors.timing import (
    SYNC_FAMILY_P,
    SYNC_MIN_COMMON,
    SYNC_MIN_RATIO,
    sync_null_draws,
)


def statistics_section(source: Source) -> dict[str, Any]:
    if not source.data["detection"]:
        return {"statements": []}
    draws = sync_null_draws()
    return {
        "statements": [
            (
                "Synchronised activity (coincidence probabilities): the null model keeps each "
                "account's own activity, the hours of the days it was active and how many "
                "five-minute intervals in each, and rotates each hour's intervals by a random "
                "number of intervals (a circular shift within the hour, independently for "
                "every hour), so that daily rhythm and bursts are kept and only alignment "
                "within the hour is left to chance; no Poisson formula is used. Every "
                "combination of shifts being equally likely under it, the p-value is exact: "
                "the share of all combinations giving at least the observed number of shared "
                "intervals (computed by convolving the hours' distributions, not sampled). "
                "A seeded Monte Carlo of K actual shifts checks each link, p = (1 + draws at least "
                f"as high as observed) / (K + 1), with K = {draws:,} as configured when this "
                f"report was built (a pair stops early once {EXCEEDANCES} draws reach its "
                f"observed count); the smallest value {draws:,} draws can give is 1/(K + 1) = "
                f"{smallest_p(draws):.2g}, and no statement of the check goes below it. Each "
                "link states both, with its draws."
            ),
            (
                f"A pair is linked when it shares at least {SYNC_MIN_COMMON} intervals, "
                f"{SYNC_MIN_RATIO:g} times the number the null model expects, and its exact "
                "p-value passes the Benjamini-Hochberg procedure at a false discovery rate of "
                f"{SYNC_FAMILY_P:g} over every pair the run examined, pairs under those "
                "minimums counting with p = 1 (the expected share of coincidences among the "
                "links reported stays below that rate)."
            ),
            (
                "Cohorts: every median, multiple of the median and percentile a finding states "
                "compares the account with the customers on its plan active in the window, "
                "less the accounts under analysis (every account the run reported on, this "
                "case's among them); no account is part of the yardstick it is measured "
                "against, and findings.csv records how many were left out. Whether a signal "
                "fired was decided earlier, on the whole plan population."
            ),
            (
                "Units: each finding states its value and its threshold in one unit (the "
                "volume signal both in output tokens, its threshold 20 times the median output "
                "of every customer on the plan)."
            ),
            (
                "Rates: a rate measured on a population or on confirmed verdicts is stated "
                "with its 95% Wilson score interval."
            ),
            (
                "Charts: each chart in section 6 names the exhibit whose rows it plots and "
                "says what it leaves out."
            ),
        ]
    }
