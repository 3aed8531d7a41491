"""Volume outlier: output tokens against the median customer on the same plan."""

from __future__ import annotations

from evidence.detectors.baseline import multiple_words, percentile_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory


class VolumeOutlier(Signal):
    code = "volume_outlier"
    name = "Volume outlier"
    version = "1"
    categories = (ClauseCategory.OUTPUT_EXTRACTION, ClauseCategory.LIMIT_CIRCUMVENTION)
    threshold = 20.0
    sample_note = "requests that returned output"
    methodology = Methodology(
        definition=(
            "Output tokens the account received in the window, divided by the median output "
            "of the accounts on the same plan that were active in the window."
        ),
        threshold=(
            "At least 20 times the plan median, stated with each finding in output tokens "
            "(the unit of the value). Output, not requests, because output is what "
            "a distiller takes away. The percentile is reported, not required: in a small "
            "cohort, or one the suspects themselves crowd, no account reaches a high one."
        ),
        false_positives=(
            "Large honest integrations (a consumer assistant, a reseller) on a plan chosen "
            "for price rather than scale; volume alone proves nothing and is never enough "
            "for a high band."
        ),
        error_rate=(
            f"Fired on 0.6-1.6% of ordinary accounts in {MEASURED_ON}; 1.0% at "
            "20,000 accounts. By design a context signal, not an accusation."
        ),
    )

    def measure(self, row):
        if not row["requests"]:
            return None
        return Measure(float(row["output_tokens"]), {"requests": row["requests"]})

    def fires(self, measure, result):
        # Decided on the whole plan population, and kept in tokens, the unit of the value,
        # so a finding states a token count against a token threshold (issue #18).
        middle = result.cohorts.median_of(result.plan)
        measure.facts["threshold_tokens"] = self.threshold * middle if middle > 0 else None
        return middle > 0 and measure.value / middle >= self.threshold

    def threshold_of(self, result):
        return result.measure.facts.get("threshold_tokens")

    def explain(self, measure, baseline, fired):
        sentence = (
            f"Produced {multiple_words(baseline.multiple)} the output of the median "
            f"{baseline.cohort or 'unplanned'} customer ({measure.value:,.0f} output tokens "
            f"in {measure.facts['requests']:,} requests, against a median of "
            f"{baseline.median:,.0f} output tokens among the "
            f"{baseline.cohort_size:,} other customers on the plan); "
            f"{percentile_words(baseline)}."
        )
        tokens = measure.facts.get("threshold_tokens")
        if not fired and tokens is None:
            sentence += " No threshold: the plan's median output is zero."
        elif not fired:
            sentence += (
                f" Below the threshold of {tokens:,.0f} output tokens ({self.threshold:g} "
                "times the median of every customer on the plan)."
            )
        return sentence

    def sample_condition(self, measure):
        return "u.output_tokens > 0", []


DETECTOR = register(VolumeOutlier())
