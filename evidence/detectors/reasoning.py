"""Reasoning elicitation: prompts that ask the model to write out its chain of thought."""

from __future__ import annotations

from evidence.detectors.lexicons import MIN_PROMPTED, LexiconSignal
from evidence.detectors.registry import MEASURED_ON, Methodology, register
from evidence.models import ClauseCategory


class ReasoningElicitation(LexiconSignal):
    code = "reasoning_elicitation"
    name = "Reasoning elicitation"
    method_version = "1"
    extraction = True
    categories = (ClauseCategory.OUTPUT_EXTRACTION, ClauseCategory.COMPETING_MODELS)
    threshold = 0.5
    lexicon_name = "reasoning"
    column = "reasoning"
    doing = "asked the model to write out its reasoning step by step"
    sample_note = "requests whose prompt matches the reasoning lexicon"
    methodology = Methodology(
        definition=(
            "Share of the account's prompted requests whose prompt opening matches a phrase "
            "of the reasoning lexicon (evidence/detectors/reasoning_lexicon.json: 'step by "
            "step', 'show your full reasoning', 'chain of thought', ...), over accounts with "
            f"at least {MIN_PROMPTED} prompted requests. Written-out reasoning is what "
            "distillation of a reasoning model needs as training targets."
        ),
        threshold="At least half of the prompts.",
        false_positives=(
            "Tutoring and homework apps, individuals who habitually ask for step-by-step "
            "answers; the lexicon sees only the first 200 characters of each prompt."
        ),
        error_rate=(
            f"Fired on 0-0.8% of ordinary accounts in {MEASURED_ON}; 0.15% at "
            "20,000 accounts, all of them individuals who habitually ask for step-by-step "
            "answers. Never alone enough for a high band."
        ),
    )


DETECTOR = register(ReasoningElicitation())
