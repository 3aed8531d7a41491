"""One rule, one place: the case page and the signed report give the same supporting
findings and the same damages for the same case (the REST API exposes neither: its
allegations name the clause and the cited files, not detection's support or a value)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from casework.case_rules import allegation_supports, usage_window_sql
from casework.damages_rules import damages_figures
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
    assert f"Damages at list prices (section 9) {context['damages']['headline']}" in pdf


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
    data = {
        "accounts": [
            {"account_id": "a", "group": "A", "signals": ["x"],
             "usage": {"by_model": {"m1": [1, 1_000_000, 500_000], "m2": [2, 10, 10]}}},
            {"account_id": "b", "group": "A", "signals": [],
             "usage": {"by_model": {"m1": [4, 2_000_000, 1_000_000]}}},
        ],
        "prices": [{"model": "m1", "input_per_mtok": "3", "output_per_mtok": "15"}],
        "damages": {"billing": [], "measure_clause": {"text": "pay for that Output at list"}},
    }  # fmt: skip
    figures = damages_figures(data)
    # The clause is about Output: output tokens only, input stated apart, never summed in.
    assert figures["flagged"]["claimed_value"] == Decimal("7.5")
    assert figures["flagged"]["input_value_not_claimed"] == Decimal("3")
    assert figures["flagged"]["unpriced_models"] == ["m2"]
    assert figures["unflagged"]["claimed_value"] == Decimal("15")  # apart, not claimed
    data["damages"]["measure_clause"] = None  # no pricing clause: every token consumed
    assert damages_figures(data)["flagged"]["claimed_value"] == Decimal("10.5")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert usage_window_sql(start=None, end=None) == ("TRUE", {})
    assert usage_window_sql(start=start, end=None, alias="x") == (
        "x.ts >= %(window_start)s",
        {"window_start": start},
    )
