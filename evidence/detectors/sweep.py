"""Coverage sweep: prompts that never repeat, as a programme walking a subject area sends."""

from __future__ import annotations

from evidence.detectors.activity import NEAR_UNIQUE_USES
from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory

MIN_PROMPTED = 30
# Near-uniqueness only sets an account apart in a record where ordinary customers repeat
# themselves: the account must also be this many times the cohort median.
MIN_MULTIPLE = 4.0


class CoverageSweep(Signal):
    code = "coverage_sweep"
    name = "Coverage sweep"
    version = "1"
    extraction = True
    categories = (ClauseCategory.OUTPUT_EXTRACTION, ClauseCategory.COMPETING_MODELS)
    threshold = 0.8
    sample_note = "requests whose prompt template is near-unique in the whole record"
    methodology = Methodology(
        definition=(
            "Share of the account's prompted requests whose prompt template (numbers and "
            f"quoted values masked) occurs at most {NEAR_UNIQUE_USES} times in the whole "
            "usage record, across all customers, over accounts with at least "
            f"{MIN_PROMPTED} prompted requests. Ordinary applications repeat themselves and "
            "each other; a programme assembling a dataset varies every prompt."
        ),
        threshold=(
            f"At least 80% of the prompts near-unique, and at least {MIN_MULTIPLE:g} times "
            "the plan median. In a small record almost every template is rare, the median "
            "customer's share is high and the signal stays silent rather than guess."
        ),
        false_positives=(
            "Applications whose prompts embed free text (documents, user messages) near the "
            "start of the prompt."
        ),
        error_rate=(
            f"Fired on at most 0.25% of ordinary accounts in {MEASURED_ON}, none at "
            "20,000 accounts: support bots whose templates have thousands of fills. With "
            "the absolute threshold alone it fired on up to 10% of ordinary accounts in "
            "the smallest worlds, hence the relative condition."
        ),
    )

    def measure(self, row):
        if row["prompted"] < MIN_PROMPTED:
            return None
        return Measure(row["near_unique"] / row["prompted"], {"prompted": row["prompted"]})

    def fires(self, measure, result):
        middle = result.cohorts.median_of(result.plan)
        measure.facts["threshold_share"] = max(self.threshold, MIN_MULTIPLE * middle)
        return measure.value >= self.threshold and measure.value >= MIN_MULTIPLE * middle

    def threshold_of(self, result):
        return result.measure.facts.get("threshold_share", self.threshold)

    def explain(self, measure, baseline, fired):
        sentence = (
            f"{share_words(measure.value).capitalize()} of its {measure.facts['prompted']:,} "
            f"prompts were near-unique (a template seen at most {NEAR_UNIQUE_USES} times "
            "in the whole record), the pattern of a programme covering a subject area; the "
            f"median {baseline.cohort or 'unplanned'} customer: {share_words(baseline.median)}; "
            f"{percentile_words(baseline)}."
        )
        if not fired and measure.value >= self.threshold:
            sentence += (
                f" Not flagged: ordinary customers' prompts are this rare in the record too "
                f"(the signal needs {share_words(measure.facts['threshold_share'])}, "
                f"{MIN_MULTIPLE:g} times the median of every customer on the plan)."
            )
        elif not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def sample_condition(self, measure):
        return (
            "EXISTS (SELECT 1 FROM det_key k WHERE k.template = u.prompt_template_key "
            "AND k.uses <= %s::int)",
            [NEAR_UNIQUE_USES],
        )


DETECTOR = register(CoverageSweep())
