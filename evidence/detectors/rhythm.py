"""Round-the-clock automation: no daily rhythm, as people and their customers have."""

from __future__ import annotations

import datetime as dt

from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory

MIN_REQUESTS = 100
MIN_DAYS = 7
QUIET_HOURS = 8


def quietest_hours(histogram: list[int]) -> tuple[int, int]:
    """Start hour (UTC) and request count of the quietest 8 consecutive hours of the day."""
    best_start, best = 0, None
    for start in range(24):
        count = sum(histogram[(start + i) % 24] for i in range(QUIET_HOURS))
        if best is None or count < best:
            best_start, best = start, count
    return best_start, best or 0


class RoundTheClock(Signal):
    code = "round_the_clock"
    name = "Round-the-clock automation"
    version = "1"
    categories = (ClauseCategory.OUTPUT_EXTRACTION, ClauseCategory.LIMIT_CIRCUMVENTION)
    threshold = 0.28
    sample_note = "requests sent in the account's quietest eight hours of the day"
    methodology = Methodology(
        definition=(
            "Share of the account's requests sent in its quietest eight consecutive hours "
            "of the day (UTC, whichever eight hours those are for the account), over "
            f"accounts with at least {MIN_REQUESTS} requests spread over {MIN_DAYS} days or more. "
            "Perfectly even traffic puts a third of the requests there; people, and "
            "services used by people, leave a night."
        ),
        threshold="At least 28% of the requests in the quietest eight hours (84% of even).",
        false_positives=(
            "Services whose users span every time zone (global resellers, infrastructure "
            "monitors); a context signal, never enough for a high band alone."
        ),
        error_rate=(
            "Fired on at most 0.01% of ordinary accounts (one of 16,798 at 20,000 accounts) "
            f"in {MEASURED_ON}."
        ),
    )

    def measure(self, row):
        histogram = row["hour_histogram"]
        span = row["last_ts"] - row["first_ts"]
        if row["requests"] < MIN_REQUESTS or span < dt.timedelta(days=MIN_DAYS):
            return None
        start, quiet = quietest_hours(histogram)
        total = sum(histogram)
        return Measure(quiet / total, {"start": start, "quiet": quiet, "requests": total})

    def explain(self, measure, baseline, fired):
        start = measure.facts["start"]
        end = (start + QUIET_HOURS) % 24
        sentence = (
            f"Sent {share_words(measure.value)} of its {measure.facts['requests']:,} requests "
            f"in its quietest eight hours of the day ({start:02d}:00-{end:02d}:00 UTC), where "
            "perfectly even round-the-clock traffic would put 33%; the median "
            f"{baseline.cohort or 'unplanned'} customer: {share_words(baseline.median)}; "
            f"{percentile_words(baseline)}."
        )
        if not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def sample_condition(self, measure):
        hours = [(measure.facts["start"] + i) % 24 for i in range(QUIET_HOURS)]
        return "extract(hour FROM u.ts AT TIME ZONE 'UTC')::int = ANY(%s::int[])", [hours]


DETECTOR = register(RoundTheClock())
