"""`python manage.py probe_claims [--names NAME,NAME] [--json]`: identity claims per target.

Prints, for every probed target, how many responses claim to be the provider's model or
company, the rate with its 95% Wilson interval, the control targets' figures on the same
prompts with a one-sided Fisher p, and every counted response quoted by probe id.
"""

from __future__ import annotations

from django.conf import settings

from evidence.management.base import PactaCommand
from evidence.probes.claims import ProviderNamesMissing, probe_claims_measure


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _interval(interval: list[float] | None) -> str:
    return "n/a" if interval is None else f"{_percent(interval[0])}-{_percent(interval[1])}"


class Command(PactaCommand):
    help = "Count probe responses claiming the provider's identity, per target, against controls."
    skip_checks = True

    def arguments(self, parser) -> None:
        parser.add_argument(
            "--names",
            help="The provider's names, comma-separated (default: PACTA_PROVIDER_NAMES).",
        )

    def run(self, *, names: str | None, **options) -> None:
        wanted = names.split(",") if names else settings.PACTA_PROVIDER_NAMES
        try:
            result = probe_claims_measure(names=wanted)
        except ProviderNamesMissing as exc:
            self.usage_error(f"--names: {exc}")
        self.done(result, text=self._text(result))

    def _text(self, result: dict) -> list[str]:
        lines = [
            f"Identity claims naming {', '.join(result['names'])} "
            f"(patterns sha256 {result['patterns_sha256'][:16]}...):"
        ]
        if not result["targets"]:
            lines.append("  no probe transcripts on record")
        for target in result["targets"]:
            role = " (control)" if target["control"] else ""
            lines.append(
                f"{target['target']}{role}: {target['claims']} of {target['n']} responses "
                f"claim the identity ({_percent(target['rate'])}, 95% CI "
                f"{_interval(target['interval_95'])})"
            )
            comparison = target["comparison"]
            if comparison is not None and comparison["n"]:
                p = comparison["fisher_p_greater"]
                lines.append(
                    f"  controls ({', '.join(comparison['control_targets'])}) on "
                    f"{comparison['prompts_shared']} of its {comparison['prompts']} prompts: "
                    f"{comparison['claims']} of {comparison['n']} "
                    f"({_percent(comparison['rate'])}, 95% CI "
                    f"{_interval(comparison['interval_95'])}); one-sided Fisher p = {p:.2g}"
                )
            elif comparison is not None:
                lines.append("  no control target was asked its prompts: no comparison")
            for exhibit in target["exhibits"]:
                lines.append(f"  {exhibit['probe_id']} [{exhibit['language']}] {exhibit['quote']}")
        return lines
