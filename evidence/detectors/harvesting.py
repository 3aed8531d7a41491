"""Probability harvesting: asking for the model's token distribution, not just its text."""

from __future__ import annotations

from evidence.detectors.activity import HARVEST_SQL
from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory

MIN_REQUESTS = 20


class ProbabilityHarvesting(Signal):
    code = "probability_harvesting"
    name = "Probability harvesting"
    version = "1"
    extraction = True
    categories = (ClauseCategory.OUTPUT_EXTRACTION, ClauseCategory.COMPETING_MODELS)
    threshold = 0.25
    sample_note = "requests asking for 10 or more alternatives per token, or setting logit_bias"
    methodology = Methodology(
        definition=(
            "Share of the account's requests that ask for the ten or more most likely "
            "alternatives of every output token (top_logprobs >= 10, or the legacy "
            "logprobs >= 10) or that steer the distribution with logit_bias, over accounts "
            f"with at least {MIN_REQUESTS} requests. A full token distribution is a far "
            "richer training signal than the text (soft-label distillation)."
        ),
        threshold="At least a quarter of the requests.",
        false_positives=(
            "Calibration research and uncertainty estimation; scoring harnesses usually ask "
            "for five alternatives or fewer, which this signal does not count."
        ),
        error_rate=f"Fired on no ordinary account in {MEASURED_ON}.",
    )

    def measure(self, row):
        if row["requests"] < MIN_REQUESTS:
            return None
        return Measure(
            row["harvest_requests"] / row["requests"],
            {"requests": row["requests"], "matching": row["harvest_requests"]},
        )

    def explain(self, measure, baseline, fired):
        sentence = (
            f"{measure.facts['matching']:,} of its {measure.facts['requests']:,} requests "
            f"({share_words(measure.value)}) asked for the 10 or more most likely alternatives "
            "of every output token or biased the token distribution; the median "
            f"{baseline.cohort or 'unplanned'} customer: {share_words(baseline.median)}; "
            f"{percentile_words(baseline)}."
        )
        if not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def sample_condition(self, measure):
        return HARVEST_SQL, []


DETECTOR = register(ProbabilityHarvesting())
