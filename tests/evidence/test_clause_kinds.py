"""Non-operative text in the Terms: titles, headings, preambles and definitions are kept in
the record with their hashes, but not offered as clauses to allege."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from casework.demo.world.provider import TERMS_SAMPLES, terms_sample_text
from casework.selectors import case_clauses_allegeable, case_clauses_in_force
from casework.services import CaseError, allegation_add
from evidence.custody.canonical import clauses_digest
from evidence.models import Clause, LedgerEntry, TermsVersion
from evidence.terms.clauses import clauses_split
from evidence.terms.kinds import definition_like
from tests.factories import case_with_members, terms_version

# (path, kind) facts read off each shipped document, one numbering scheme each.
EXPECTED_KINDS = {
    "services-agreement": {
        "aster-services-agreement": "title",
        "preamble": "preamble",
        "1": "heading",
        "1.1": "operative",
        "1.1(a)": "operative",
        "2": "heading",
        "2.1": "definition",
        "2.3": "definition",
        "2.7": "definition",
        "3.3": "operative",
        "3.3(e)": "operative",
        "15": "heading",
        "15.4": "operative",
    },
    "usage-policy": {
        "aster-usage-policy": "title",
        "preamble": "preamble",
        "A": "heading",
        "A.1": "operative",
        "A.2": "definition",
        "A.2(a)": "definition",
        "A.2(c)": "definition",
        "B": "heading",
        "B.1(a)": "operative",
        "D.2(a)": "operative",
        "F.2": "operative",
    },
    "developer-terms": {
        "aster-developer-platform-terms": "title",
        "preamble": "preamble",
        "1": "heading",
        "1.a": "definition",
        "1.c": "definition",
        "3": "heading",
        "3.b": "operative",
        "9.d": "operative",
    },
}


@pytest.mark.parametrize("slug", sorted(TERMS_SAMPLES))
def test_each_numbering_scheme_marks_titles_headings_preambles_and_definitions(slug):
    clauses = {clause.path: clause for clause in clauses_split(terms_sample_text(slug))}
    found = {path: clauses[path].kind for path in EXPECTED_KINDS[slug]}
    assert found == EXPECTED_KINDS[slug]
    # Every heading is only its title; every definition defines a quoted term.
    for clause in clauses.values():
        if clause.kind == "heading":
            assert clause.text == clause.heading
        if clause.kind != "operative":
            assert clause.category == "other"


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ('"API Key" means a credential we issue to an Account.', ""),
        ("\u201cOutput\u201d refers to the content the Services return.", ""),
        ('As used in these Terms, "Model" means any model we make available.', ""),
        ('"Input" and "Prompt" each mean what you send to us.', ""),
        ("Account means the account you open with us.", "Definitions"),
        ("In these Terms:", "Definitions and Interpretation"),
    ],
)
def test_definitions_are_recognised_by_their_wording(text, heading):
    assert definition_like(text, heading)


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("You may not share your API Key with anyone.", ""),
        ('Clicking "I agree" means you accept these Terms.', ""),
        ("The Services are offered only in supported countries.", ""),
        ("Account sharing means trouble.", "Use of Accounts"),
        ('This Agreement (the "Agreement") governs your use.', ""),
    ],
)
def test_duties_and_statements_are_not_definitions(text, heading):
    assert not definition_like(text, heading)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(TERMS_SAMPLES))
def test_import_keeps_non_operative_text_with_unchanged_hashes(tmp_path, slug):
    text = terms_sample_text(slug)
    result = terms_version(tmp_path, text, label="2026-01-01", document=slug)
    version = TermsVersion.objects.get(pk=result.version_id)
    assert version.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    stored = list(version.clauses.order_by("position"))
    parsed = clauses_split(text)
    assert [(c.path, c.kind) for c in stored] == [(c.path, c.kind) for c in parsed]
    assert {c.kind for c in stored} == {"title", "preamble", "heading", "definition", "operative"}
    for clause in stored:
        assert clause.text_sha256 == hashlib.sha256(clause.text.encode()).hexdigest()
        assert clause.category_suggested == clause.category
    # The ledger's digest covers every clause, operative or not, as before.
    entry = LedgerEntry.objects.get(object_type="terms_version", object_id=str(version.pk))
    assert entry.details["clauses"] == len(parsed)
    assert entry.details["clauses_digest"] == clauses_digest(
        (c.path, c.text_sha256) for c in stored
    )


@pytest.fixture
def allegeable_case(tmp_path, counsel_user):
    terms_version(
        tmp_path,
        terms_sample_text("services-agreement"),
        label="2026-01-01",
        effective=dt.date(2025, 1, 1),
    )
    return case_with_members(owner=counsel_user, reference="PACTA-9")


@pytest.mark.django_db
def test_the_clause_picker_offers_only_operative_clauses(allegeable_case):
    offered = {c.path for c in case_clauses_in_force(case=allegeable_case)}
    allegeable = {c.path for c in case_clauses_allegeable(case=allegeable_case)}
    assert offered == allegeable
    assert {"3.3(e)", "1.1(a)", "15.4"} <= offered
    assert not offered & {"aster-services-agreement", "preamble", "1", "2", "2.2", "3"}
    assert Clause.objects.count() == 87 and len(offered) == 63


@pytest.mark.django_db
def test_a_definition_cannot_be_alleged(allegeable_case, counsel_user):
    definition = Clause.objects.get(path="2.2")
    with pytest.raises(CaseError, match=r"§2.2 is definition text.*allege an operative") as error:
        allegation_add(
            actor=counsel_user, case=allegeable_case, clause=definition, theory="Shared keys."
        )
    assert error.value.field == "clause"
    assert allegeable_case.allegations.count() == 0


@pytest.mark.django_db
def test_the_migration_marks_clauses_imported_before_it(tmp_path):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("evidence.migrations.0130_clause_kinds")
    terms_version(
        tmp_path, terms_sample_text("usage-policy"), label="2026-01-01", document="usage-policy"
    )
    # As a clause imported before kinds existed: every clause operative, no suggestion kept.
    Clause.objects.update(kind="operative", category_suggested="uncategorised")
    Clause.objects.filter(path="B.1(a)").update(category="key_transfer")  # counsel's, say

    migration.kinds_backfill(apps, None)

    kinds = dict(Clause.objects.values_list("path", "kind"))
    assert {path: kinds[path] for path in EXPECTED_KINDS["usage-policy"]} == (
        EXPECTED_KINDS["usage-policy"]
    )
    counsel = Clause.objects.get(path="B.1(a)")
    assert (counsel.category, counsel.category_suggested) == ("key_transfer", "key_transfer")
