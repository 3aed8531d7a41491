"""Template concentration: most requests are one prompt template with values swapped in."""

from __future__ import annotations

from django.db import connection

from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import MEASURED_ON, Measure, Methodology, Signal, register
from evidence.models import ClauseCategory

MIN_PROMPTED = 50


class TemplateConcentration(Signal):
    code = "template_concentration"
    name = "Template concentration"
    version = "1"
    categories = (ClauseCategory.OUTPUT_EXTRACTION,)
    threshold = 0.5
    sample_note = "requests built on the account's most-used prompt template"
    methodology = Methodology(
        definition=(
            "Share of the account's prompted requests that use its single most frequent "
            "prompt template (the prompt with numbers, quoted values and spacing masked), "
            f"over accounts with at least {MIN_PROMPTED} prompted requests."
        ),
        threshold="At least half of the requests from one template.",
        false_positives=(
            "Pipelines that classify or extract with one fixed prompt, evaluation "
            "harnesses that replay a benchmark; scripted use, not by itself extraction."
        ),
        error_rate=(
            f"Fired on 0.1-0.8% of ordinary accounts in {MEASURED_ON}; 0.12% at "
            "20,000 accounts. A context signal, never enough for a high band alone."
        ),
    )

    def measure(self, row):
        if row["prompted"] < MIN_PROMPTED:
            return None
        return Measure(
            row["top_template_requests"] / row["prompted"], {"prompted": row["prompted"]}
        )

    def explain(self, measure, baseline, fired):
        sentence = (
            f"Sent {share_words(measure.value)} of its {measure.facts['prompted']:,} prompted "
            "requests from a single prompt template with only numbers or quoted values "
            f"changing; the median {baseline.cohort or 'unplanned'} customer: "
            f"{share_words(baseline.median)}; {percentile_words(baseline)}."
        )
        if not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def samples_prepare(self, fired):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT ON (account_id) account_id, template FROM det_template "
                "WHERE account_id = ANY(%s) ORDER BY account_id, requests DESC, template",
                [sorted(fired)],
            )
            for account_id, template in cursor.fetchall():
                fired[account_id].facts["template"] = template

    def sample_condition(self, measure):
        template = measure.facts.get("template")
        return ("u.prompt_template_key = %s", [template]) if template else None


DETECTOR = register(TemplateConcentration())
