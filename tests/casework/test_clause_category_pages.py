"""Counsel corrects a clause's category on the clause page: CSRF-protected, counsel only,
a reason required, ledgered; allegations under the clause are then argued under the
corrected category, and every allegation shows the category it is argued under."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from casework.reports.sections.formatting import CATEGORY_LABELS
from casework.selectors import case_overview
from casework.services import allegation_add
from evidence.models import Clause, ClauseCategory, LedgerEntry
from tests.factories import case_with_members, terms_version, user_with_role

pytestmark = pytest.mark.django_db

TERMS = """# Terms of Use

These Terms govern the API.

## 1. Definitions

1.1 "Output" means what the API returns.

## 3. Use

3.3 You will not: (a) use Output to develop models that compete with us; (b) export the \
weather report to your friends.
"""


@pytest.fixture
def record(tmp_path):
    terms_version(
        tmp_path, TERMS, label="1", effective=dt.date(2025, 1, 1), document="sa", file_name="t.md"
    )


@pytest.fixture
def counsel():
    return user_with_role("casey", "counsel")


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client, url) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


def _correct(client, clause, category, reason="Read with 3.3, it is about exports.", token=None):
    url = f"/clauses/{clause.pk}/"
    data = {"category": category, "reason": reason}
    if token is not False:
        data["csrfmiddlewaretoken"] = token or _token(client, url)
    return client.post(url, data)


def test_counsel_corrects_a_category_with_a_reason_and_it_is_ledgered(record, counsel):
    clause = Clause.objects.get(path="3.3(b)")
    suggested = clause.category
    assert suggested != "region"
    client = _csrf_client(counsel)
    response = _correct(client, clause, "region")
    assert response.status_code == 302
    clause.refresh_from_db()
    assert (clause.category, clause.category_suggested) == ("region", suggested)
    entry = LedgerEntry.objects.get(object_type="clause", object_id=str(clause.pk))
    assert entry.action == "changed" and entry.actor == "casey"
    assert entry.details["reason"] == "Read with 3.3, it is about exports."
    assert (entry.details["from"], entry.details["to"]) == (suggested, "region")
    page = client.get(f"/clauses/{clause.pk}/").content.decode()
    assert "set by counsel" in page and "Read with 3.3, it is about exports." in page


def test_a_post_without_the_csrf_token_is_refused(record, counsel):
    clause = Clause.objects.get(path="3.3(b)")
    response = _correct(_csrf_client(counsel), clause, "region", token=False)
    assert response.status_code == 403
    assert Clause.objects.get(pk=clause.pk).category == clause.category


@pytest.mark.parametrize("role", ["investigator", "viewer", "admin"])
def test_only_counsel_may_correct_a_category(record, role):
    clause = Clause.objects.get(path="3.3(b)")
    client = _csrf_client(user_with_role("someone", role))
    page = client.get(f"/clauses/{clause.pk}/")
    assert page.status_code == 200
    assert "Correct the category" not in page.content.decode()
    response = _correct(client, clause, "region", token=_token(client, f"/clauses/{clause.pk}/"))
    assert response.status_code == 403
    assert Clause.objects.get(pk=clause.pk).category == clause.category
    assert not LedgerEntry.objects.filter(object_type="clause").exists()


def test_a_reason_is_required_and_the_error_stands_by_its_field(record, counsel):
    clause = Clause.objects.get(path="3.3(b)")
    response = _correct(_csrf_client(counsel), clause, "region", reason="   ")
    assert response.status_code == 400
    html = response.content.decode()
    reason_at = html.index('name="reason"')
    assert html.index("This field is required.", reason_at) > reason_at
    assert Clause.objects.get(pk=clause.pk).category == clause.category
    assert not LedgerEntry.objects.filter(object_type="clause").exists()


def test_non_operative_text_takes_no_category(record, counsel):
    definition = Clause.objects.get(path="1.1")
    assert definition.kind == "definition"
    client = _csrf_client(counsel)
    assert "Correct the category" not in client.get(f"/clauses/{definition.pk}/").content.decode()
    response = _correct(
        client, definition, "region", token=_token(client, f"/clauses/{definition.pk}/")
    )
    assert response.status_code == 403
    assert Clause.objects.get(pk=definition.pk).category == "other"


def test_allegations_are_argued_under_the_corrected_category_and_show_it(record, counsel):
    clause = Clause.objects.get(path="3.3(b)")
    case = case_with_members(owner=counsel, reference="PACTA-7")
    allegation = allegation_add(actor=counsel, case=case, clause=clause, theory="Exports.")
    alleged = LedgerEntry.objects.get(action="alleged", object_id="PACTA-7")
    assert alleged.details["category"] == clause.category
    client = _csrf_client(counsel)
    page = client.get("/cases/PACTA-7/").content.decode()
    label = ClauseCategory(clause.category).label
    assert f"Argued under the category <strong>{label}</strong>" in page

    assert _correct(client, clause, "region").status_code == 302
    page = client.get("/cases/PACTA-7/").content.decode()
    assert "Argued under the category <strong>Region</strong> (set by counsel)" in page
    assert "§3.3(b) (Region)" in page  # the elements of breach use it too
    # The rule that finds support reads the corrected category.
    breach = case_overview(user=counsel, case=case)["breach"]
    assert [(a.pk, a.clause.category) for a, _supports in breach] == [(allegation.pk, "region")]


def test_the_report_names_every_category_an_allegation_can_be_argued_under():
    assert set(CATEGORY_LABELS) == set(ClauseCategory.values)
    assert {CATEGORY_LABELS[code] for code in ClauseCategory.values} == set(ClauseCategory.labels)
