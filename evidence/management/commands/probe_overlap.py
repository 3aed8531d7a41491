"""`python manage.py probe_overlap [--json]`: rival responses against the provider's served text.

For every probed target: how many probes were put on prompts the provider answered, how
many of those could be measured (the record holds served text for the prompt), how many
share a word 8-gram with it, the containment, and the control targets' figures on the
same prompts. States the method and what of the provider's responses the record holds.
"""

from __future__ import annotations

from evidence.management.base import PactaCommand
from evidence.probes.overlap import probe_overlap_measure


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


class Command(PactaCommand):
    help = "Measure word 8-gram overlap of probe responses with the provider's served text."
    skip_checks = True

    def run(self, **options) -> None:
        result = probe_overlap_measure()
        self.done(result, text=self._text(result))

    def _text(self, result: dict) -> list[str]:
        lines = [
            f"{result['prompts_probed']} prompts probed, {result['prompts_answered']} answered "
            f"by the provider, {result['prompts_with_served_text']} with served text on record.",
            f"Provider text: {result['method']['provider_text']}",
        ]
        if not result["targets"]:
            lines.append("  no probe transcripts on record")
        for target in result["targets"]:
            role = " (control)" if target["control"] else ""
            lines.append(
                f"{target['target']}{role}: {target['answered']} of {target['probes']} probes on "
                f"answered prompts, {target['measured']} measured, {target['overlapping']} "
                f"overlapping ({_percent(target['rate'])}); mean containment "
                f"{_percent(target['mean_containment'])}, max {_percent(target['max_containment'])}"
            )
            comparison = target["comparison"]
            if comparison is not None and comparison["measured"]:
                lines.append(
                    f"  controls ({', '.join(comparison['control_targets'])}) on the same "
                    f"prompts: {comparison['overlapping']} of {comparison['measured']} "
                    f"overlapping ({_percent(comparison['rate'])}); one-sided Fisher p = "
                    f"{comparison['fisher_p_greater']:.2g}"
                )
            elif comparison is not None and target["measured"]:
                lines.append("  no control target was asked its measured prompts: no comparison")
            for exhibit in target["exhibits"]:
                lines.append(
                    f"  {exhibit['probe_id']}: {exhibit['shared_ngrams']} of "
                    f"{exhibit['response_ngrams']} 8-grams served "
                    f"({_percent(exhibit['containment'])}), canaries "
                    f"{', '.join(exhibit['canary_ids'])}"
                )
        lines.append(f"Method: {result['method']['statement']}")
        lines.append(f"Limits: {result['method']['limits']}")
        return lines
