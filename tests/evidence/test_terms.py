"""Importing Terms versions: verbatim, hashed, never overwritten, unchanged clauses recognised."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.models import Clause, LedgerEntry, TermsVersion
from evidence.terms.services import TermsImportError, clause_category_set, terms_import
from tests.factories import terms_version

pytestmark = pytest.mark.django_db

V1 = """# Services Agreement

These terms govern your use of the API.

## 3. Use of the Services

3.1 You must comply with the Documentation.

3.3 Restrictions. You will not: (a) share API keys with third parties;
(b) use Output to develop models that compete with us; (c) circumvent rate limits.

## 9. Governing Law

9.1 This Agreement is governed by the laws of the State of California.
"""

V2 = V1.replace(
    "(c) circumvent rate limits.",
    "(c) circumvent rate limits or usage quotas; (d) open multiple accounts to evade limits.",
)


def test_version_is_stored_verbatim_with_hashes_and_ledgered(tmp_path):
    result = terms_version(tmp_path, V1, label="2025-06-01")
    version = TermsVersion.objects.get(pk=result.version_id)
    assert version.text == V1
    assert version.text_sha256 == hashlib.sha256(V1.encode()).hexdigest() == result.sha256
    clause = Clause.objects.get(version=version, path="3.3(b)")
    assert clause.text == "use Output to develop models that compete with us;"
    assert clause.text in V1
    assert clause.text_sha256 == hashlib.sha256(clause.text.encode()).hexdigest()
    assert clause.category == "competing_models"
    entry = LedgerEntry.objects.get(object_type="terms_version", object_id=str(version.pk))
    assert entry.action == "imported"
    assert entry.object_sha256 == result.sha256


def test_new_version_keeps_history_and_recognises_unchanged_clauses(tmp_path):
    terms_version(tmp_path, V1, label="2025-06-01")
    result = terms_version(tmp_path, V2, label="2026-01-01")
    assert TermsVersion.objects.count() == 2
    old = {c.path: c for c in Clause.objects.filter(version__label="2025-06-01")}
    new = {c.path: c for c in Clause.objects.filter(version__label="2026-01-01")}
    assert new["3.3(b)"].same_as == old["3.3(b)"]  # unchanged: the same clause
    assert new["9.1"].same_as == old["9.1"]
    assert new["3.3(c)"].same_as is None  # changed text is a new clause
    assert new["3.3(d)"].same_as is None  # added
    assert result.unchanged_clauses == sum(1 for c in new.values() if c.same_as_id)


def test_reimporting_the_same_version_adds_nothing(tmp_path):
    first = terms_version(tmp_path, V1, label="2025-06-01")
    again = terms_version(tmp_path, V1, label="2025-06-01")
    assert not again.created
    assert again.version_id == first.version_id
    assert TermsVersion.objects.count() == 1


def test_a_published_version_is_never_overwritten(tmp_path):
    terms_version(tmp_path, V1, label="2025-06-01")
    with pytest.raises(TermsImportError, match="imported before with different text"):
        terms_version(tmp_path, V2, label="2025-06-01")
    assert TermsVersion.objects.get().text == V1


def test_unusable_files_are_refused_with_the_reason(tmp_path):
    bad = tmp_path / "latin1.md"
    bad.write_bytes("3.1 Caf\xe9 terms".encode("latin-1"))
    with pytest.raises(TermsImportError, match="not valid UTF-8"):
        terms_import(
            actor=None,
            path=bad,
            document_slug="d",
            title="D",
            version_label="1",
            effective=dt.date(2026, 1, 1),
        )
    with pytest.raises(TermsImportError, match="line 1"):
        terms_version(tmp_path, "   \n", label="x", effective="2026-01-01")
    assert TermsVersion.objects.count() == 0


def test_counsel_can_change_a_category_and_the_suggestion_stays_in_the_ledger(
    tmp_path, counsel_user
):
    terms_version(tmp_path, V1, label="2025-06-01")
    clause = Clause.objects.get(path="3.1")
    suggested = clause.category
    clause_category_set(
        actor=counsel_user,
        clause=clause,
        category="output_extraction",
        reason="The Documentation it cites forbids scripted collection.",
    )
    clause.refresh_from_db()
    assert clause.category == "output_extraction"
    assert clause.category_suggested == suggested
    entry = LedgerEntry.objects.get(object_type="clause", object_id=str(clause.pk))
    assert entry.details == {
        "field": "category",
        "from": suggested,
        "to": "output_extraction",
        "suggested": suggested,
        "reason": "The Documentation it cites forbids scripted collection.",
    }
    assert entry.actor == "alice"


def test_command_contract(tmp_path, capsys):
    path = tmp_path / "v1.md"
    path.write_text(V1)
    call_command(
        "import_terms",
        str(path),
        "--document",
        "services-agreement",
        "--title",
        "Services",
        "--version",
        "2025-06-01",
        "--effective",
        "2025-06-01",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    assert out["clauses"] == Clause.objects.count()
    assert out["version"] == "2025-06-01"
    with pytest.raises(CommandError, match="--effective"):
        call_command(
            "import_terms",
            str(path),
            "--document",
            "d",
            "--title",
            "t",
            "--version",
            "v",
            "--effective",
            "June",
        )
