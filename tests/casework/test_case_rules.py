"""One rule, one place: the case page and the signed report give the same supporting
findings and the same damages for the same case (the REST API exposes neither: its
allegations name the clause and the cited files, not detection's support or a value)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from casework.case_rules import allegation_supports, usage_value, usage_window_sql
from casework.models import Allegation
from casework.reports.context import report_context
from casework.reports.redaction import Redactor
from casework.reports.snapshot import case_snapshot
from casework.selectors import case_overview
from evidence.models import Clause
from tests.casework.test_reports import _build, _text, case, detected  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def test_the_page_and_the_pdf_give_the_same_supporting_findings_and_damages(
    case,  # noqa: F811
    detected,  # noqa: F811
    counsel_user,
    client,
):
    # A clause that only a link kind (the shared card) can support, beside the fixture's
    # allegation that the harvesting signal supports.
    clause = (
        Clause.objects.filter(
            version__label="2026-01-01", category__in=("account_sharing", "other")
        )
        .order_by("position")
        .first()
    )
    assert clause is not None
    Allegation.objects.create(
        case=case, clause=clause, theory="Accounts share one card.", created_by=counsel_user
    )

    page = case_overview(user=counsel_user, case=case)
    context = report_context(
        data=case_snapshot(case=case).data,
        edition="counsel",
        redactor=Redactor("counsel"),
        table_rows=50,
    )
    page_supports = [[(s.name, s.what) for s in supports] for _, supports in page["breach"]]
    report_supports = [
        [(s["name"], s["what"]) for s in c["supporting"]] for c in context["clauses"]
    ]
    assert page_supports == report_supports
    assert ("Shared payment method", "1 links") in page_supports[1]  # a link kind counts
    assert page_supports[0] and page_supports[0][0][0] == "Probability harvesting"

    cents = page["damages"]["value"].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert cents > 0
    assert str(cents) == context["damages"]["total"]
    assert page["damages"]["unpriced"] == context["damages"]["missing"]

    client.force_login(counsel_user)
    html = client.get(reverse("case_detail", args=[case.reference])).content.decode()
    pdf = _text(Path(_build(case, "counsel", counsel_user).pdf.file.path))
    for supports in page_supports:
        for name, what in supports:
            assert f"{name}: {what}" in html
            assert f"{name}: {what}." in pdf
    assert f"${cents:,}" in html
    assert context["damages"]["total_display"] == f"${cents:,}"
    assert f"Value at list prices (Terms 13.3) {context['damages']['total_display']}" in pdf


def test_the_rules_on_their_own():
    detectors = [
        {"code": "b_signal", "name": "B", "kind": "signal", "categories": ["x"]},
        {"code": "a_link", "name": "A", "kind": "link", "categories": ["x", "y"]},
        {"code": "c_signal", "name": "C", "kind": "signal", "categories": ["y"]},
    ]
    supports = allegation_supports(
        category="x",
        detectors=detectors,
        fired={"b_signal": 2, "c_signal": 5},
        measured={"b_signal": 3, "c_signal": 5},
        links={"a_link": 1200},
    )
    assert [(s.name, s.what) for s in supports] == [
        ("A", "1,200 links"),
        ("B", "fired on 2 of 3 accounts measured"),
    ]
    valued = usage_value(
        usage=[
            {"model": "m1", "requests": 1, "input_tokens": 1_000_000, "output_tokens": 500_000},
            {"model": "m2", "requests": 2, "input_tokens": 10, "output_tokens": 10},
        ],
        prices={"m1": (Decimal("3"), Decimal("15"))},
    )
    assert valued["value"] == Decimal("10.5")
    assert valued["unpriced"] == ["m2"] and valued["models"][1]["value"] is None
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert usage_window_sql(start=None, end=None) == ("TRUE", {})
    assert usage_window_sql(start=start, end=None, alias="x") == (
        "x.ts >= %(window_start)s",
        {"window_start": start},
    )
