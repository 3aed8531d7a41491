"""Identity claims: responses of a probed model saying it is the provider's model or company.

A rival model trained on the provider's outputs tends to answer "who are you?" with the
provider's name: the claim was in its training data. One such answer proves little (a
model may have read about the provider), so the claims are counted per target with a
confidence interval and read against control targets (other vendors' models asked the
same prompts), whose rate is what reading about the provider alone produces. Every
counted response is quoted, by probe id, so the count can be checked line by line.

The patterns are data (`claim_patterns.json`), per language, with a placeholder for the
provider's names (`PACTA_PROVIDER_NAMES`): reviewable, and not written for one provider.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from evidence.detectors.error_rates import wilson_interval
from evidence.detectors.registry import Methodology
from evidence.models import ProbeExchange

PATTERNS_FILE = Path(__file__).with_name("claim_patterns.json")
PLACEHOLDER = "{name}"
# How much of a response an exhibit quotes around the claim: its sentence, within bounds.
# (Quoted from the normalised text, where NFKC has made full-width stops ASCII.)
QUOTE_CHARS = 300
_SENTENCE_END = re.compile(r"[.!?。\n]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})

CODE = "identity_claim"
VERSION = "1"
METHODOLOGY = Methodology(
    definition=(
        "The share of a target's probe responses that say the target is the provider's model "
        "or was made by the provider: first-person claims ('I am X', 'I was created by Y', "
        "'je suis X', 'soy un modelo de Y', '我是X', ...) in ten languages, from a reviewable "
        "pattern file whose SHA-256 is stated with the result; a claim with a negation in it "
        "('I was not trained by Y') is not counted. Each target's rate carries a 95% Wilson "
        "interval and is compared with control targets asked the same prompts (pooled), by a "
        "one-sided Fisher exact test."
    ),
    threshold=(
        "None: the rate, its interval and the comparison are reported as measured. A rate "
        "whose interval lies above the controls' interval, with Fisher p below 0.01, is one "
        "that knowledge of the provider alone does not explain."
    ),
    false_positives=(
        "A prompt that asks the model to play the provider's assistant; a model that quotes "
        "another text in the first person; a model legitimately built on the provider's model "
        "(a licensed product). Probes should ask plainly who the model is, never suggest a "
        "name, and be put to the controls unchanged. A claim in a language or wording the "
        "patterns do not cover is missed, which only lowers the rate."
    ),
    error_rate=(
        "Measured by the controls of each comparison: their claim rate is the rate at which "
        "models not trained on the provider's outputs make the claim for these prompts."
    ),
)


@dataclass(frozen=True)
class ClaimPattern:
    language: str
    source: str
    regex: re.Pattern[str]
    negations: tuple[re.Pattern[str], ...]
    negation_before: int
    negation_after: int


@dataclass(frozen=True)
class Claim:
    """A response that claims the provider's identity: where, in which words."""

    language: str
    pattern: str
    start: int
    end: int


@dataclass
class TargetClaims:
    """One target's count, rate and interval, its comparison with the controls, and the
    quoted responses behind the count."""

    target: str
    control: bool
    versions: list[str]
    n: int = 0
    claims: int = 0
    exhibits: list[dict[str, Any]] = field(default_factory=list)
    comparison: dict[str, Any] | None = None

    @property
    def rate(self) -> float | None:
        return self.claims / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "control": self.control,
            "versions": self.versions,
            "n": self.n,
            "claims": self.claims,
            "rate": None if self.rate is None else round(self.rate, 6),
            "interval_95": wilson_interval(self.claims, self.n),
            "comparison": self.comparison,
            "exhibits": self.exhibits,
        }


class ProviderNamesMissing(ValueError):
    """No provider name to look for: the detector would find nothing and say so wrongly."""


def _name_regex(names: Sequence[str]) -> str:
    cleaned = sorted({n.strip() for n in names if n.strip()}, key=lambda n: (-len(n), n))
    if not cleaned:
        raise ProviderNamesMissing(
            "no provider names: set PACTA_PROVIDER_NAMES (e.g. 'Claude,Anthropic') or pass names"
        )
    alternatives = "|".join(re.escape(unicodedata.normalize("NFKC", n)) for n in cleaned)
    # Whole names only: "Claudette" is not "Claude". ASCII bounds, because a name written
    # right after CJK text ("我是Claude") has a word character before it.
    return f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])"


def patterns_sha256() -> str:
    """The SHA-256 of the pattern file the claims were counted with (stated with results)."""
    return hashlib.sha256(PATTERNS_FILE.read_bytes()).hexdigest()


@cache
def _patterns_data() -> dict[str, Any]:
    return json.loads(PATTERNS_FILE.read_text(encoding="utf-8"))


def claim_patterns(names: Sequence[str]) -> list[ClaimPattern]:
    """The pattern file's patterns with `names` in place of the placeholder, compiled."""
    name = _name_regex(names)
    compiled = []
    for language, spec in _patterns_data()["languages"].items():
        negations = tuple(re.compile(n, re.IGNORECASE) for n in spec["negations"])
        for source in spec["patterns"]:
            if PLACEHOLDER not in source:
                raise ValueError(f"{PATTERNS_FILE.name}: a {language} pattern lacks {PLACEHOLDER}")
            regex = re.compile(source.replace(PLACEHOLDER, name), re.IGNORECASE)
            compiled.append(
                ClaimPattern(
                    language,
                    source,
                    regex,
                    negations,
                    int(spec["negation_before"]),
                    int(spec["negation_after"]),
                )
            )
    return compiled


def response_normalised(text: str) -> str:
    """The response as the patterns read it: NFKC (full-width letters become ASCII) and
    straight apostrophes. Lengths may change, so quotes are cut from this text too."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)


def identity_claim(text: str, patterns: Sequence[ClaimPattern]) -> Claim | None:
    """The first claim of the provider's identity in a response, or None."""
    for pattern in patterns:
        for match in pattern.regex.finditer(text):
            start = max(0, match.start() - pattern.negation_before)
            span = text[start : match.end() + pattern.negation_after]
            if any(negation.search(span) for negation in pattern.negations):
                continue
            return Claim(pattern.language, pattern.source, match.start(), match.end())
    return None


def _quote(text: str, claim: Claim) -> str:
    """The sentence holding the claim, cut to QUOTE_CHARS around it."""
    start = max(0, claim.start - QUOTE_CHARS // 2)
    before = [m.end() for m in _SENTENCE_END.finditer(text, start, claim.start)]
    start = before[-1] if before else start
    after = _SENTENCE_END.search(text, claim.end)
    end = min(after.end() if after else len(text), claim.end + QUOTE_CHARS // 2)
    return (
        ("..." if start > 0 else "") + text[start:end].strip() + ("..." if end < len(text) else "")
    )


def fisher_greater(a: int, n1: int, c: int, n2: int) -> float | None:
    """One-sided Fisher exact p: the chance of `a` or more claims in the target's `n1`
    responses if target and controls (`c` of `n2`) shared one rate."""
    if n1 == 0 or n2 == 0:
        return None
    total, claims = n1 + n2, a + c

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_comb(total, claims)
    p = sum(
        math.exp(log_comb(n1, k) + log_comb(n2, claims - k) - denominator)
        for k in range(a, min(n1, claims) + 1)
    )
    return min(1.0, p)


def _comparison(target: TargetClaims, prompts: set[str], controls: Iterable[tuple]) -> dict:
    """The controls' figures on the prompts this target was asked."""
    n = claims = 0
    shared: set[str] = set()
    names: set[str] = set()
    for control_target, prompt_sha256, claimed in controls:
        if prompt_sha256 in prompts:
            n += 1
            claims += claimed
            shared.add(prompt_sha256)
            names.add(control_target)
    return {
        "control_targets": sorted(names),
        "prompts_shared": len(shared),
        "prompts": len(prompts),
        "n": n,
        "claims": claims,
        "rate": round(claims / n, 6) if n else None,
        "interval_95": wilson_interval(claims, n),
        "fisher_p_greater": fisher_greater(target.claims, target.n, claims, n),
    }


def probe_claims_measure(
    *, names: Sequence[str], batches: Iterable[int] | None = None
) -> dict[str, Any]:
    """Every target's identity-claim rate, interval, control comparison and exhibits.

    A read of the record, not an act on it: nothing is stored, so it is run again freely
    (by `probe_claims`, and by a report) and gives the same figures for the same record.
    `batches` limits it to the transcripts of those probe batches (a case's).
    """
    patterns = claim_patterns(names)
    targets: dict[tuple[str, bool], TargetClaims] = {}
    versions: dict[tuple[str, bool], set[str]] = defaultdict(set)
    prompts: dict[tuple[str, bool], set[str]] = defaultdict(set)
    controls: list[tuple[str, str, int]] = []
    exchanges = ProbeExchange.objects.all()
    if batches is not None:
        exchanges = exchanges.filter(batch_id__in=list(batches))
    rows = exchanges.order_by("target", "collected_at", "probe_id").values_list(
        "probe_id", "target", "target_version", "control", "collected_at", "prompt_sha256",
        "response",
    )  # fmt: skip
    for probe_id, target, version, control, collected_at, prompt_sha256, response in rows.iterator(
        chunk_size=2000
    ):
        key = (target, control)
        figures = targets.setdefault(key, TargetClaims(target=target, control=control, versions=[]))
        if version:
            versions[key].add(version)
        prompts[key].add(prompt_sha256)
        text = response_normalised(response)
        claim = identity_claim(text, patterns)
        figures.n += 1
        if control:
            controls.append((target, prompt_sha256, int(claim is not None)))
        if claim is None:
            continue
        figures.claims += 1
        figures.exhibits.append(
            {
                "probe_id": probe_id,
                "collected_at": collected_at.isoformat(),
                "language": claim.language,
                "quote": _quote(text, claim),
            }
        )
    for key, figures in targets.items():
        figures.versions = sorted(versions[key])
        if not figures.control:
            figures.comparison = _comparison(figures, prompts[key], controls)
    ordered = sorted(targets.values(), key=lambda t: (t.control, t.target))
    return {
        "detector": {"code": CODE, "version": VERSION, "methodology": METHODOLOGY.as_dict()},
        "names": sorted({n.strip() for n in names if n.strip()}),
        "patterns_sha256": patterns_sha256(),
        "targets": [t.as_dict() for t in ordered],
    }
