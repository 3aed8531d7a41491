"""Release chasing: traffic moved to a newly released model within two days of release."""

from __future__ import annotations

import datetime as dt

from evidence.detectors.activity import RELEASE_HOURS
from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory

MIN_REQUESTS = 3


class ReleaseChasing(Signal):
    code = "release_chasing"
    name = "Release chasing"
    version = "2"
    # Context, not extraction: an eager customer moves to a new model in its first days too
    # (issue #16's hard negatives). It counts beside an extraction signal, as scale does,
    # and a campaign's group measure (`coordination`) weighs it for the group as a whole.
    extraction = False
    categories = (ClauseCategory.COMPETING_MODELS,)
    threshold = 0.75
    sample_note = "requests to the newly released model on the second day after its release"
    methodology = Methodology(
        definition=(
            "For each model whose release date (from the model catalogue) falls in the "
            "window: the share of the account's tokens that went to the new model during the "
            "second day after release (24 to 48 hours after it), for accounts that used "
            f"other models in the week before the release and sent at least {MIN_REQUESTS} "
            "requests that day. The largest share over the releases is reported. A harvester "
            "moves everything to the newest model at once, to capture it before it is "
            "protected; product teams test first and move in stages, over days or weeks."
        ),
        threshold="At least 75% of the day's tokens on the new model.",
        false_positives=(
            "Evaluation firms benchmarking a new model on release day (usually part of "
            "their traffic), early adopters switching a single workload."
        ),
        error_rate=(
            "Fired on at most 0.01% of ordinary accounts (one of 16,798 at 20,000 accounts) "
            f"in {MEASURED_ON}."
        ),
    )

    def measure(self, row):
        best = None
        for release in row["releases"]:
            if release["before_requests"] < MIN_REQUESTS or release["requests"] < MIN_REQUESTS:
                continue
            if not release["tokens"]:
                continue
            share = release["new_tokens"] / release["tokens"]
            if best is None or share > best.value:
                best = Measure(
                    share,
                    {
                        "model": release["model"],
                        "released_at": release["released_at"],
                        "requests": release["requests"],
                    },
                )
        return best

    def explain(self, measure, baseline, fired):
        released = measure.facts["released_at"].strftime("%Y-%m-%d %H:%M UTC")
        sentence = (
            f"On the second day after {measure.facts['model']} was released ({released}), "
            f"{share_words(measure.value)} of its tokens went to {measure.facts['model']} "
            f"({measure.facts['requests']:,} requests that day); the median "
            f"{baseline.cohort or 'unplanned'} customer: {share_words(baseline.median)}; "
            f"{percentile_words(baseline)}."
        )
        if not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def sample_condition(self, measure):
        released = measure.facts["released_at"]
        return (
            "u.model = %s AND u.ts >= %s::timestamptz AND u.ts < %s::timestamptz",
            [
                measure.facts["model"],
                released + dt.timedelta(hours=RELEASE_HOURS - 24),
                released + dt.timedelta(hours=RELEASE_HOURS),
            ],
        )


DETECTOR = register(ReleaseChasing())
