"""The detectors' vocabulary and their registry: what a detector module needs to declare itself.

A detector is a method a court may be asked to accept, so each one carries its code and
version (stored with every finding it produces), the clause categories it supports, its
threshold, and a methodology: what it measures, why the threshold sits where it does, what
ordinary conduct can trip it, and how often it fired on ordinary customers when measured.

Every detector module registers its detectors on import. The package's `__init__` imports
them all, and Python runs it before any of its modules, so whoever can read `REGISTRY` reads
it complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evidence.models import ClauseCategory

# Where the error rates in the methodologies were measured: the ordinary (benign) accounts
# of worlds from `generate_scenario`, whose labels only the quality tests read.
MEASURED_ON = "generated worlds (seeds 1-8 at 300-2,000 accounts; 4,000 and 20,000 accounts)"


@dataclass(frozen=True)
class Methodology:
    """The method as an expert report states it."""

    definition: str
    threshold: str
    false_positives: str
    error_rate: str

    def as_dict(self) -> dict[str, str]:
        return {
            "definition": self.definition,
            "threshold": self.threshold,
            "false_positives": self.false_positives,
            "error_rate": self.error_rate,
        }


@dataclass(frozen=True)
class Measure:
    """What a signal measured for one account: the value and the facts behind the sentence."""

    value: float
    facts: dict[str, Any] = field(default_factory=dict)


class Detector:
    """Common ground of signals and link finders: identity, scope and method."""

    kind = ""
    code = ""
    name = ""
    version = "1"
    categories: tuple[str, ...] = ()
    threshold = 0.0
    methodology: Methodology

    def describe(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "categories": list(self.categories),
            "threshold": self.threshold,
            "methodology": self.methodology.as_dict(),
        }


class Signal(Detector):
    """A per-account measurement compared with the account's plan cohort.

    `measure` reads the account's row of aggregates (`evidence.detectors.activity`) and
    returns None when the account did too little for the measure to mean anything;
    `fires` applies the threshold; `explain` writes the one sentence a judge reads.
    `extraction` marks signals that point at harvesting outputs (as opposed to scale or
    automation, which many honest customers show).
    """

    kind = "signal"
    extraction = False
    # How a report describes the exhibits: "requests that ..." (see `samples`).
    sample_note = ""

    def measure(self, row: dict[str, Any]) -> Measure | None:
        raise NotImplementedError

    def fires(self, measure: Measure, result) -> bool:
        """`result.baseline` holds the cohort comparison, computed only if read."""
        return measure.value >= self.threshold

    def threshold_of(self, result) -> float:
        """The threshold this account's value was held to, in the value's own unit (a
        finding states value and threshold alike: tokens with tokens, shares with shares)."""
        return self.threshold

    def explain(self, measure: Measure, baseline, fired: bool) -> str:
        raise NotImplementedError

    def sample_condition(self, measure: Measure) -> tuple[str, list[Any]] | None:
        """SQL condition (over `u`, a usage row) selecting requests that show the pattern."""
        return None

    def samples_prepare(self, fired: dict[str, Measure]) -> None:
        """Add to the fired measures' facts what `sample_condition` needs (optional)."""


class LinkKind(Detector):
    """A kind of evidence that two accounts are one actor; found in `links.py`."""

    kind = "link"


REGISTRY: dict[str, Detector] = {}


def register(detector: Detector) -> Detector:
    if not detector.code or detector.code in REGISTRY:
        raise ValueError(f"detector code {detector.code!r} is missing or already registered")
    for category in detector.categories:
        if category not in ClauseCategory.values:
            raise ValueError(f"{detector.code}: unknown clause category {category!r}")
    REGISTRY[detector.code] = detector
    return detector


def signals() -> list[Signal]:
    return [d for d in REGISTRY.values() if isinstance(d, Signal)]


def link_kinds() -> list[LinkKind]:
    return [d for d in REGISTRY.values() if isinstance(d, LinkKind)]


def detector_versions() -> dict[str, str]:
    return {code: detector.version for code, detector in sorted(REGISTRY.items())}
