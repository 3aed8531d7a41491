"""Output overlap: how much of a rival's answer is text the provider served for the same prompt.

When an investigator puts to the rival a prompt the provider has answered (the probe's
prompt has the SHA-256 of a usage row's prompt), a rival trained on the provider's answer
may give it back. The measure is word 8-gram containment: the share of the rival
response's 8-word runs found in the provider's served text for that prompt. Eight words
in order rarely recur by chance in ordinary prose, so a shared run is a copied run; the
same measure on control targets asked the same prompts is what chance and the prompt
itself produce.

The provider's answers are not kept: usage rows carry prompts and token counts, never the
response (the record must not hold more of the provider's output than it needs). The
served text the record does hold is the canaries the gateway logged in the requests that
answered the prompt, so that is what the rival's response is measured against, and the
result says so. A read of the record: nothing is stored, the same record gives the same
figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from evidence.detectors.error_rates import wilson_interval
from evidence.models import CanaryServe, ProbeExchange, UsageEvent
from evidence.probes.canaries import canary_normalised
from evidence.probes.claims import fisher_greater

NGRAM = 8
METHOD_CODE = "word-8gram-containment-v1"
METHOD_STATEMENT = (
    "Word 8-gram containment of the rival's response in the provider's served text for the "
    "same prompt (matched by the prompt's SHA-256): both texts are read as words (NFKC, "
    "case-folded, every run of punctuation and whitespace one space), and the containment "
    "is the number of the response's distinct 8-word runs found in the provider's text "
    "divided by the response's distinct 8-word runs. A probe overlaps when it shares at "
    "least one run. The same is measured on control targets asked the same prompts, and "
    "the share of overlapping probes is compared with theirs by a one-sided Fisher exact test."
)
PROVIDER_TEXT_STATEMENT = (
    "The record holds no text of the provider's responses: usage rows carry the prompt and "
    "token counts, not the answer. The provider's served text measured against is the "
    "canaries the gateway logged in the requests that answered the prompt (serve log "
    "joined to usage by request id). A probe on a prompt the provider answered without a "
    "logged canary is counted as answered, and its overlap is not measured."
)
LIMITS_STATEMENT = (
    "Overlap with served text shows the rival reproduces what the provider served for that "
    "prompt; it does not say through which account the text reached the rival (the canary "
    "matches do), and it is measured only on the part of the served text the record holds."
)


def word_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """The distinct runs of `n` words in `text`, as canary matching reads words."""
    words = canary_normalised(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@dataclass
class TargetOverlap:
    """One target's probes on answered prompts and how many share runs with served text."""

    target: str
    control: bool
    probes: int = 0
    answered: int = 0
    measured: int = 0
    overlapping: int = 0
    containments: list[float] = field(default_factory=list)
    exhibits: list[dict[str, Any]] = field(default_factory=list)
    prompts: set[str] = field(default_factory=set)
    comparison: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        measured = self.containments
        return {
            "target": self.target,
            "control": self.control,
            "probes": self.probes,
            "answered": self.answered,
            "measured": self.measured,
            "overlapping": self.overlapping,
            "rate": round(self.overlapping / self.measured, 6) if self.measured else None,
            "interval_95": wilson_interval(self.overlapping, self.measured),
            "mean_containment": round(sum(measured) / len(measured), 6) if measured else None,
            "max_containment": round(max(measured), 6) if measured else None,
            "comparison": self.comparison,
            "exhibits": self.exhibits,
        }


def _answered_prompts(prompt_hashes: set[str]) -> dict[str, int]:
    """How many usage rows answered each of these prompts."""
    rows = (
        UsageEvent.objects.filter(prompt_sha256__in=prompt_hashes)
        .values("prompt_sha256")
        .annotate(requests=Count("pk"))
    )
    return {row["prompt_sha256"]: row["requests"] for row in rows}


def _served_text(prompt_hashes: set[str]) -> dict[str, dict[str, str]]:
    """Per prompt, the canaries (id -> text) served in the requests that answered it."""
    serves = CanaryServe.objects.values_list("request_id", "canary__canary_id", "canary__text")
    by_request: dict[str, dict[str, str]] = defaultdict(dict)
    for request_id, canary_id, text in serves.iterator(chunk_size=5000):
        by_request[request_id][canary_id] = text
    held: dict[str, dict[str, str]] = defaultdict(dict)
    requests = list(by_request)
    for start in range(0, len(requests), 5000):
        answering = UsageEvent.objects.filter(
            request_id__in=requests[start : start + 5000], prompt_sha256__in=prompt_hashes
        ).values_list("request_id", "prompt_sha256")
        for request_id, prompt_sha256 in answering:
            held[prompt_sha256].update(by_request[request_id])
    return held


def _comparison(target: TargetOverlap, controls: list[tuple[str, str, bool]]) -> dict:
    """The control targets' figures on the measured prompts this target was asked."""
    n = overlapping = 0
    names: set[str] = set()
    for control_target, prompt_sha256, overlaps in controls:
        if prompt_sha256 in target.prompts:
            n += 1
            overlapping += overlaps
            names.add(control_target)
    return {
        "control_targets": sorted(names),
        "measured": n,
        "overlapping": overlapping,
        "rate": round(overlapping / n, 6) if n else None,
        "interval_95": wilson_interval(overlapping, n),
        "fisher_p_greater": fisher_greater(target.overlapping, target.measured, overlapping, n),
    }


def probe_overlap_measure(*, batches: Iterable[int] | None = None) -> dict[str, Any]:
    """Every target's overlap with the provider's served text on the prompts it answered.

    `batches` limits it to the transcripts of those probe batches (a case's).
    Exhibits name the probe and the canaries whose runs it shares, with the counts; no
    response or prompt text is copied into the result (the transcripts are the exhibits).
    """
    rows = ProbeExchange.objects.all()
    if batches is not None:
        rows = rows.filter(batch_id__in=list(batches))
    exchanges = list(
        rows.order_by("target", "collected_at", "probe_id").values_list(
            "probe_id", "target", "control", "prompt_sha256", "response"
        )
    )
    prompt_hashes = {prompt_sha256 for _, _, _, prompt_sha256, _ in exchanges}
    answered = _answered_prompts(prompt_hashes) if prompt_hashes else {}
    held = _served_text(set(answered)) if answered else {}
    held_grams = {
        prompt: {canary_id: word_ngrams(text) for canary_id, text in canaries.items()}
        for prompt, canaries in held.items()
    }
    targets: dict[tuple[str, bool], TargetOverlap] = {}
    controls: list[tuple[str, str, bool]] = []
    for probe_id, target, control, prompt_sha256, response in exchanges:
        figures = targets.setdefault((target, control), TargetOverlap(target, control))
        figures.probes += 1
        if prompt_sha256 not in answered:
            continue
        figures.answered += 1
        if prompt_sha256 not in held_grams:
            continue
        figures.measured += 1
        figures.prompts.add(prompt_sha256)
        grams = word_ngrams(response)
        served = set().union(*held_grams[prompt_sha256].values())
        shared = grams & served
        containment = len(shared) / len(grams) if grams else 0.0
        figures.containments.append(containment)
        if control:
            controls.append((target, prompt_sha256, bool(shared)))
        if not shared:
            continue
        figures.overlapping += 1
        figures.exhibits.append(
            {
                "probe_id": probe_id,
                "prompt_sha256": prompt_sha256,
                "requests_answering": answered[prompt_sha256],
                "shared_ngrams": len(shared),
                "response_ngrams": len(grams),
                "containment": round(containment, 6),
                "canary_ids": sorted(
                    canary_id
                    for canary_id, canary_grams in held_grams[prompt_sha256].items()
                    if canary_grams & shared
                ),
            }
        )
    for figures in targets.values():
        if not figures.control:
            figures.comparison = _comparison(figures, controls)
    ordered = sorted(targets.values(), key=lambda t: (t.control, t.target))
    return {
        "method": {
            "code": METHOD_CODE,
            "n": NGRAM,
            "statement": METHOD_STATEMENT,
            "provider_text": PROVIDER_TEXT_STATEMENT,
            "limits": LIMITS_STATEMENT,
        },
        "provider_responses_held": False,
        "prompts_probed": len(prompt_hashes),
        "prompts_answered": len(answered),
        "prompts_with_served_text": len(held_grams),
        "targets": [t.as_dict() for t in ordered],
    }
