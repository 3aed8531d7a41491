"""The clause classifier measured on the provider's Terms in all three numbering schemes
against a hand-labelled gold file (tests/evidence/data/clause_gold.json); the bench prints
the same figures (`python -m tests.benchmarks --only clauses`)."""

from __future__ import annotations

import pytest

from casework.demo.world.provider import TERMS_SAMPLES, terms_sample_text
from evidence.terms.categories import BREACH_CATEGORIES
from evidence.terms.clauses import clauses_split
from tests.benchmarks.clauses import (
    PRECISION_FLOOR,
    RECALL_FLOOR,
    CategoryMeasure,
    category_measures,
    gold_labels,
    sentence_outcomes,
    suggestions,
)


def _parsed(slug):
    return {clause.path: clause for clause in clauses_split(terms_sample_text(slug))}


@pytest.mark.parametrize("slug", sorted(TERMS_SAMPLES))
def test_the_gold_file_labels_every_operative_clause_and_nothing_else(slug):
    operative = {path for path, clause in _parsed(slug).items() if clause.operative}
    assert set(gold_labels()[slug]) == operative


def test_each_category_meets_its_precision_and_recall_floor_on_the_gold_file():
    measures = {m.category: m for m in category_measures(gold_labels(), suggestions())}
    assert set(measures) == {*BREACH_CATEGORIES, "other"}
    for measure in measures.values():
        assert measure.precision >= PRECISION_FLOOR, measure
        assert measure.recall >= RECALL_FLOOR, measure


def test_no_held_out_sentence_gets_a_wrong_category():
    outcomes = sentence_outcomes()
    assert outcomes["wrong"] == 0
    assert outcomes["right"] >= 3 * outcomes["abstained"]


def test_abstaining_beats_always_answering_on_precision():
    gold = gold_labels()
    careful = {m.category: m for m in category_measures(gold, suggestions())}
    eager = {m.category: m for m in category_measures(gold, suggestions(abstain=False))}
    for code in ("competing_models", "output_extraction", "key_transfer", "region"):
        assert careful[code].precision > eager[code].precision, code


def test_the_misfiled_clauses_of_the_issue_are_read_right():
    clauses = _parsed("services-agreement")
    # "clicking 'I agree' ... when you create an Account" is how one accepts, not sharing.
    assert clauses["1.1(a)"].category == "other"
    # A definition is not operative, whatever its words mention (rate limits here).
    assert clauses["2.5"].kind == "definition"
    # "Entire agreement" is boilerplate, not a key transfer.
    assert clauses["15.4"].category == "other"
    assert clauses["3.3(e)"].category == "competing_models"


def test_measures_count_an_abstention_against_recall_only():
    gold = {"doc": {"1": "region", "2": "region", "3": "other", "4": "key_transfer"}}
    guessed = {"doc": {"1": "region", "2": "uncategorised", "3": "region", "4": "other"}}
    measures = {m.category: m for m in category_measures(gold, guessed)}
    assert measures["region"] == CategoryMeasure("region", labelled=2, suggested=2, correct=1)
    assert measures["region"].precision == 0.5 and measures["region"].recall == 0.5
    assert measures["key_transfer"].precision is None
    assert measures["key_transfer"].recall == 0.0
    assert measures["other"] == CategoryMeasure("other", labelled=1, suggested=1, correct=0)
