"""Clause categories measured against the hand-labelled gold file (issue #20).

The provider's Terms in each numbering scheme (casework/demo/world/provider.py,
TERMS_SAMPLES) are split as `import_terms` splits them, and each operative clause's
suggested category is set beside its label in tests/evidence/data/clause_gold.json.

Figures, per category: precision (of the clauses suggested it, how many carry it) and
recall (of the clauses that carry it, how many were suggested it). "Uncategorised" is an
abstention: it lowers recall, never precision, since counsel decides those. The baseline,
measured in the same run, is the same evidence without abstaining: the best-scoring
category whenever any category scored, as a phrase list would answer. Last, sentences in
other providers' wording that the classifier was not tuned on (the gold file's
`sentences`): how many it gets right, abstains on, and gets wrong.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from casework.demo.world.provider import TERMS_SAMPLES, terms_sample_text
from evidence.terms.categories import (
    CLAUSE_CATEGORIES,
    OTHER,
    UNCATEGORISED,
    clause_category_suggest,
    clause_category_weigh,
)
from evidence.terms.clauses import clauses_split
from tests.benchmarks.harness import Table

GOLD_PATH = Path(__file__).resolve().parent.parent / "evidence" / "data" / "clause_gold.json"
# The floors the tests hold the classifier to (tests/evidence/test_clause_categories.py).
PRECISION_FLOOR = 0.85
RECALL_FLOOR = 0.6


@dataclass(frozen=True)
class CategoryMeasure:
    category: str
    labelled: int  # clauses the gold file gives this category
    suggested: int  # clauses suggested this category
    correct: int  # both

    @property
    def precision(self) -> float | None:
        return self.correct / self.suggested if self.suggested else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


def sentence_outcomes() -> Counter:
    """How the held-out sentences of the gold file fare: "right", "abstained" or "wrong"."""
    sentences = json.loads(GOLD_PATH.read_text(encoding="utf-8"))["sentences"]
    outcomes = Counter()
    for sentence in sentences:
        guess = clause_category_suggest(sentence["text"])
        if guess == UNCATEGORISED:
            outcomes["abstained"] += 1
        else:
            outcomes["right" if guess == sentence["category"] else "wrong"] += 1
    return outcomes


def gold_labels() -> dict[str, dict[str, str]]:
    """document slug -> clause path -> category, as labelled by reading each clause."""
    return json.loads(GOLD_PATH.read_text(encoding="utf-8"))["documents"]


def suggestions(*, abstain: bool = True) -> dict[str, dict[str, str]]:
    """document slug -> operative clause path -> suggested category.

    Without `abstain`, the best-scoring category on the clause's own words and heading
    is taken whenever any scored (the baseline).
    """
    found: dict[str, dict[str, str]] = {}
    for slug in TERMS_SAMPLES:
        clauses = [c for c in clauses_split(terms_sample_text(slug)) if c.operative]
        if abstain:
            found[slug] = {clause.path: clause.category for clause in clauses}
            continue
        found[slug] = {}
        for clause in clauses:
            verdict = clause_category_weigh(clause.text, clause.heading)
            best, score = max(verdict.scores.items(), key=lambda item: item[1])
            found[slug][clause.path] = best if score > 0 else OTHER
    return found


def category_measures(
    gold: dict[str, dict[str, str]], suggested: dict[str, dict[str, str]]
) -> list[CategoryMeasure]:
    """Precision and recall per category over the clauses the gold file labels."""
    labelled, given, correct = Counter(), Counter(), Counter()
    for slug, labels in gold.items():
        for path, label in labels.items():
            guess = suggested[slug][path]
            labelled[label] += 1
            if guess != UNCATEGORISED:
                given[guess] += 1
                correct[guess] += guess == label
    return [
        CategoryMeasure(code, labelled[code], given[code], correct[code])
        for code, _label in CLAUSE_CATEGORIES
        if code != UNCATEGORISED and (labelled[code] or given[code])
    ]


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def bench_clauses(table: Table) -> None:
    gold = gold_labels()
    measured = category_measures(gold, suggestions())
    baseline = {m.category: m for m in category_measures(gold, suggestions(abstain=False))}
    clauses = sum(len(labels) for labels in gold.values())
    abstained = sum(
        guess == UNCATEGORISED for labels in suggestions().values() for guess in labels.values()
    )
    for measure in measured:
        base = baseline.get(measure.category)
        table.add(
            f"clauses: {measure.category} precision / recall",
            f"{_share(measure.precision)} / {_share(measure.recall)} "
            f"({measure.correct} of {measure.labelled}, {measure.suggested} suggested)",
            f"{_share(base.precision)} / {_share(base.recall)}" if base else "n/a",
            "",
            f">= {PRECISION_FLOOR:.2f} / >= {RECALL_FLOOR:.2f}",
        )
    outcomes = sentence_outcomes()
    table.add(
        "clauses: held-out sentences right / abstained / wrong",
        f"{outcomes['right']} / {outcomes['abstained']} / {outcomes['wrong']}",
        "",
        "",
        "0 wrong",
    )
    table.add(
        "clauses: uncategorised (counsel decides)",
        f"{abstained:,} of {clauses:,} operative clauses",
        "0 (never abstains)",
        "",
        "few",
    )
