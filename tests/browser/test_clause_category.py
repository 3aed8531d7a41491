"""Counsel corrects a clause's category in a real browser and sees the allegation argued
under the corrected one; the picker offers no heading or definition."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from casework.demo.world.provider import terms_sample_text
from casework.services import allegation_add
from evidence.models import Clause
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, case_with_members, terms_version, user_with_role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_counsel_corrects_a_category_and_the_allegation_shows_it(page, tmp_path):
    terms_version(
        tmp_path,
        terms_sample_text("developer-terms"),
        label="2026-01-01",
        effective=dt.date(2025, 1, 1),
        document="developer-terms",
    )
    counsel = user_with_role("casey", "counsel")
    case = case_with_members(owner=counsel, reference="PACTA-11")
    clause = Clause.objects.get(path="9.d")  # "You may not transfer these Platform Terms ..."
    assert clause.category == "other"
    allegation_add(actor=counsel, case=case, clause=clause, theory="Assigned the terms away.")

    sign_in(page, "casey", PASSWORD)
    page.goto("/cases/PACTA-11/")
    page.get_by_text("Add an allegation against a clause in force").click()
    options = page.get_by_label("Clause").locator("option").all_inner_texts()
    assert not [o for o in options if o.startswith(("§1 ", "§1.a ", "§preamble"))]
    assert any(o.startswith("§9.d ") for o in options)
    argued = page.locator(".argued-under")
    assert "Argued under the category Other" in argued.inner_text()

    argued.get_by_role("link", name="the clause and its category").click()
    page.wait_for_url(re.compile(r".*/clauses/\d+/$"))
    page.get_by_role("combobox", name="Category").select_option(label="Key transfer / resale")
    page.get_by_role("button", name="Correct the category").click()
    # The reason is required: the browser keeps the form until it is given.
    assert Clause.objects.get(pk=clause.pk).category == "other"
    page.get_by_label("Reason").fill("Counsel reads 9.d with 3.b: the terms go with the keys.")
    page.get_by_role("button", name="Correct the category").click()
    page.wait_for_load_state()
    assert "set by counsel" in page.content()
    screenshot(page, "clause-category-corrected")

    page.goto("/cases/PACTA-11/")
    text = page.locator(".argued-under").inner_text()
    assert "Argued under the category Key transfer / resale (set by counsel)" in text
    assert Clause.objects.get(pk=clause.pk).category == "key_transfer"
