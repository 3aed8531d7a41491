"""Grader or data-factory prompts: the model as a judge of other outputs, or as a mill."""

from __future__ import annotations

from evidence.detectors.lexicons import MIN_PROMPTED, LexiconSignal
from evidence.detectors.registry import MEASURED_ON, Methodology, register
from evidence.models import ClauseCategory


class GraderDataFactory(LexiconSignal):
    code = "grader_data_factory"
    name = "Grader or data-factory prompts"
    method_version = "1"
    extraction = True
    categories = (ClauseCategory.COMPETING_MODELS, ClauseCategory.OUTPUT_EXTRACTION)
    threshold = 0.5
    lexicon_name = "grader"
    column = "grader"
    doing = "used the model as a grader of other outputs or to mass-produce text"
    sample_note = "requests whose prompt matches the grader and data-factory lexicon"
    methodology = Methodology(
        definition=(
            "Share of the account's prompted requests whose prompt opening matches a phrase "
            "of the grader and data-factory lexicon (evidence/detectors/grader_lexicon.json: "
            "'which response is better', 'training data', 'generate ten unique', "
            f"'SEO-optimised', ...), over accounts with at least {MIN_PROMPTED} prompted "
            "requests."
        ),
        threshold="At least half of the prompts.",
        false_positives=(
            "Evaluation vendors grading their clients' models under contract, marketing "
            "tools; the lexicon sees only the first 200 characters of each prompt."
        ),
        error_rate=f"Fired on no ordinary account in {MEASURED_ON}.",
    )


DETECTOR = register(GraderDataFactory())
