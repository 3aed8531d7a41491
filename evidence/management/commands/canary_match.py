"""`python manage.py canary_match [--json]`: every served canary against every probe response.

Records the new matches (each tying the accounts served the canary to the probed target,
with the chance of a coincidental match) and prints all matches, old and new.
"""

from __future__ import annotations

from evidence.management.base import PactaCommand
from evidence.probes.canaries import canaries_match


class Command(PactaCommand):
    help = "Match probe responses against every canary ever served; record the matches."

    def run(self, **options) -> None:
        result = canaries_match(actor="system:cli")
        lines = [
            f"{result['canaries_served']} served canaries against {result['exchanges']} probe "
            f"responses ({result['corpus_tokens']} tokens): {len(result['matches'])} match(es), "
            f"{result['recorded']} newly recorded"
        ]
        for match in result["matches"]:
            lines.append(
                f"  {match['canary_id']} in probe {match['probe_id']} ({match['target']}): "
                f"served to {', '.join(match['accounts'])} ({match['serves']} serves); "
                f"chance of coincidence {match['chance']:.2g}"
            )
            lines.append(f"    {match['quote']}")
        lines.append(f"Method: {result['method']['match']} {result['method']['chance']}")
        self.done(result, text=lines)
