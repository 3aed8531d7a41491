"""Damages under stated theories (issue #18): the flagged requests apart from the rest,
output tokens only under a clause about Output, billing charged against paid, every
figure an exact sum of its exhibit's rows, and "not computed" said in words, never 0.00."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from casework.damages_rules import NOT_COMPUTED, major_units
from casework.reports.context import report_context
from casework.reports.exhibits import exhibits_write
from casework.reports.redaction import Redactor
from casework.reports.render import report_html
from casework.reports.snapshot import case_snapshot
from evidence.ingest.service import ingest_file
from evidence.models import Account, DetectionRun, Finding, ModelRelease
from tests.casework.test_reports import (  # noqa: F401  (fixtures)
    ACCOUNTS,
    BYSTANDER,
    T0,
    _attachments,
    _build,
    _text,
    case,
)
from tests.factories import ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

PRICES = {"frontier-2": (Decimal(3), Decimal(15)), "frontier-3": (Decimal(5), Decimal(25))}


@pytest.fixture
def flagged_run(case):  # noqa: F811
    """A finished run that fired on acct_fox01 and acct_fox02 and measured acct_fox03
    without firing: two flagged accounts and one that is not."""
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test",
        window_start=T0, window_end=T0 + dt.timedelta(days=30),
        detector_versions={"probability_harvesting": "1"},
    )  # fmt: skip
    for account in Account.objects.filter(account_id__in=ACCOUNTS):
        Finding.objects.create(
            run=run, detector="probability_harvesting", detector_version="1", account=account,
            window_start=T0, window_end=T0 + dt.timedelta(days=30), value=0.9,
            baseline={"cohort": "tier-2"}, threshold=0.25,
            fired=account.account_id != "acct_fox03",
            explanation="top_logprobs=20 on most requests", created_at=now,
        )  # fmt: skip
    return run


def _bill(n, account, kind, amount, currency="USD", invoice=None):
    record = {
        "account_id": account, "kind": kind, "billing_id": f"{kind}-{n}",
        "amount_minor": amount, "currency": currency, "ts": f"2026-02-{n:02d}T00:00:00Z",
    }  # fmt: skip
    if kind == "invoice":
        record.update(period_start="2026-01-01T00:00:00Z", period_end="2026-02-01T00:00:00Z")
    if invoice:
        record["invoice_id"] = f"invoice-{invoice}"
    return record


@pytest.fixture
def billed(case, tmp_path):  # noqa: F811
    lines = [
        _bill(1, "acct_fox01", "invoice", 500_00),
        _bill(2, "acct_fox01", "payment", 300_00, invoice=1),
        _bill(3, "acct_fox01", "refund", 20_00, invoice=1),
        _bill(4, "acct_fox02", "invoice", 5_000, currency="JPY"),
        _bill(5, "acct_fox03", "invoice", 100_00),
        _bill(6, "acct_fox03", "payment", 100_00, invoice=5),
        _bill(7, "acct_fox03", "chargeback", 100_00, invoice=5),
        _bill(8, BYSTANDER, "invoice", 999_00),
    ]
    result = ingest_file(
        actor="system:test", kind="billing", path=ndjson_file(tmp_path / "b.ndjson", lines)
    )
    assert result.accepted == len(lines), result.errors
    return lines


def _output_value(account_ids) -> tuple[int, int, Decimal]:
    """Input tokens, output tokens and the output's list value of the fixture's usage
    (`test_reports._usage`), worked out here from its formula, not from the report."""
    tokens_in = tokens_out = 0
    value = Decimal(0)
    for _ in account_ids:
        for n in range(60):
            model = "frontier-2" if n % 3 else "frontier-3"
            tokens_in += 400 + n
            tokens_out += 900 + 3 * n
            value += Decimal(900 + 3 * n) / 1_000_000 * PRICES[model][1]
    return tokens_in, tokens_out, value


def _figures(case, edition, tmp_path):  # noqa: F811
    snapshot = case_snapshot(case=case)
    redactor = Redactor(edition)
    context = report_context(data=snapshot.data, edition=edition, redactor=redactor, table_rows=50)
    folder = tmp_path / edition
    folder.mkdir()
    exhibits = exhibits_write(
        snapshot=snapshot, redactor=redactor, workdir=folder, report_data=b"{}", deflate=False
    )
    files = {e.file_name: list(csv.DictReader(io.StringIO(e.path.read_text()))) for e in exhibits
             if e.file_name in ("damages.csv", "billing.csv")}  # fmt: skip
    return context, files


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def test_figures_recomputed_from_the_exhibits_equal_the_sections(
    case,  # noqa: F811
    flagged_run,
    billed,
    tmp_path,
):
    context, files = _figures(case, "counsel", tmp_path)
    damages = context["damages"]
    assert damages["theory"]["output_only"]
    assert damages["theory"]["clause"]["path"] == "13.3"
    # The section's figure is the sum of the exhibit's flagged rows...
    rows = files["damages.csv"]
    flagged = [r for r in rows if r["flagged"] == "True"]
    rest = [r for r in rows if r["flagged"] == "False"]
    assert {r["account_id"] for r in flagged} == {"acct_fox01", "acct_fox02"}
    assert {r["account_id"] for r in rest} == {"acct_fox03"}
    from_exhibit = sum(Decimal(r["value_at_list_price"]) for r in flagged)
    assert str(from_exhibit.quantize(Decimal("0.01"), ROUND_HALF_UP)) == damages["total"]
    # ...and both equal the output tokens alone at list price, worked out independently.
    tokens_in, tokens_out, value = _output_value(("acct_fox01", "acct_fox02"))
    assert from_exhibit == value
    assert _count(damages["flagged"]["output_tokens"]) == tokens_out
    assert _count(damages["flagged"]["claimed_tokens"]) == tokens_out  # input not counted
    assert _count(damages["flagged"]["input_tokens"]) == tokens_in  # stated beside it
    assert sum(int(r["tokens_counted"]) for r in flagged) == tokens_out
    # The rest are stated apart and not in the claim.
    assert _count(damages["unflagged"]["requests"]) == 60
    assert damages["unflagged"]["value"] == f"${_output_value(['acct_fox03'])[2]:,.2f}"
    # Billing: each line of the section is the sum of the billing.csv rows it covers.
    bills = files["billing.csv"]
    assert {r["account_id"] for r in bills} == set(ACCOUNTS)  # never the bystander
    assert all(len(r["content_sha256"]) == 64 for r in bills)
    usd_flagged = [r for r in bills if r["flagged"] == "True" and r["currency"] == "USD"]
    sums = {k: sum(int(r["amount_minor"]) for r in usd_flagged if r["kind"] == k)
            for k in ("invoice", "payment", "refund", "chargeback")}  # fmt: skip
    line = next(b for b in damages["billing"]["flagged"] if b["currency"] == "USD")
    assert line["invoiced"] == f"USD {major_units(sums['invoice'], 'USD'):,.2f}" == "USD 500.00"
    assert line["paid"] == "USD 300.00" and line["refunded"] == "USD 20.00"
    assert line["unpaid_balance"] == "USD 220.00"  # 500 - 300 + 20
    jpy = next(b for b in damages["billing"]["flagged"] if b["currency"] == "JPY")
    assert jpy["invoiced"] == "JPY 5,000"  # yen have no minor unit; never converted
    rest_line = damages["billing"]["unflagged"][0]
    assert (rest_line["paid"], rest_line["charged_back"]) == ("USD 100.00", "USD 100.00")
    assert rest_line["unpaid_balance"] == "USD 100.00"
    # What the flagged accounts paid, set against their Output's list value.
    assert damages["set_off"]["received"] == "$280.00"
    # The fixture's usage is worth less than they paid: said as such, never a negative debt.
    assert value < 280 and damages["set_off"]["unpaid"] is None
    overpaid = (280 - value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert damages["set_off"]["overpaid"] == f"${overpaid:,}"


def test_other_editions_name_no_account_in_the_damages_exhibits(
    case,  # noqa: F811
    flagged_run,
    billed,
    tmp_path,
):
    counsel, _ = _figures(case, "counsel", tmp_path)
    for edition in ("regulator", "public"):
        context, files = _figures(case, edition, tmp_path)
        text = "".join(str(row) for rows in files.values() for row in rows)
        assert not any(account in text for account in ACCOUNTS), edition
        assert context["damages"]["total"] == counsel["damages"]["total"]
        flagged = [r for r in files["damages.csv"] if r["flagged"] == "True"]
        total = sum(Decimal(r["value_at_list_price"]) for r in flagged)
        assert str(total.quantize(Decimal("0.01"), ROUND_HALF_UP)) == context["damages"]["total"]
    public = files["billing.csv"]
    usd = [r for r in public if r["flagged"] == "True" and r["currency"] == "USD"]
    invoiced = sum(int(r["amount_minor"]) for r in usd if r["kind"] == "invoice")
    assert invoiced == 500_00


def test_with_no_price_list_and_no_billing_damages_are_not_computed_and_never_0_00(
    case,  # noqa: F811
    flagged_run,
    tmp_path,
):
    ModelRelease.objects.all().delete()
    context, files = _figures(case, "counsel", tmp_path)
    damages = context["damages"]
    assert damages["total"] is None  # report data: null, not "0.00"
    assert damages["total_display"] == NOT_COMPUTED
    assert NOT_COMPUTED == "not computed: no price list and no billing records loaded"
    statement = next(s for s in context["summary"]["statements"] if "output tokens" in s)
    assert statement.endswith(f"output tokens; damages are {NOT_COMPUTED}.")
    assert "list prices" not in statement  # no "not computed ... at the list prices"
    assert all(r["value_at_list_price"] == "" for r in files["damages.csv"])
    html = report_html(context)
    section = html[html.index('id="damages"') : html.index("Limits evaded")]
    assert NOT_COMPUTED in section
    assert "0.00" not in section
    assert "worth not computed" not in html.lower()


def test_the_counsel_report_shows_billing_based_damages(
    case,  # noqa: F811
    flagged_run,
    billed,
    counsel_user,
    tmp_path,
):
    path = tmp_path / "counsel.pdf"
    path.write_bytes(_build(case, "counsel", counsel_user).pdf.file.read())
    text = _text(path)
    damages = text[text.index("Clause pricing misuse") : text.index("Limits evaded")]
    damages = " ".join(damages.replace("\u2010\n", "").split())  # undo wrapping
    assert "Charged against paid" in damages and "USD 500.00" in damages
    assert "Flagged requests" in damages and "The rest (not claimed)" in damages
    assert "output tokens only" in damages and "nothing is unpaid on this theory" in damages
    assert "$-" not in damages
    attached = _attachments(path)
    assert {"damages.csv", "billing.csv"} <= set(attached)
    assert b"acct_fox01" in attached["billing.csv"]
    assert BYSTANDER.encode() not in attached["billing.csv"]


def test_a_cases_billing_is_what_bills_for_its_window(case, billed, tmp_path):  # noqa: F811
    """An invoice whose period misses the window is left out with what settles it; a
    record naming no invoice counts by its own date."""
    from casework.reports.snapshot.damages import billing_collect

    lines = [
        {**_bill(20, "acct_fox01", "invoice", 7_00), "period_start": "2025-01-01T00:00:00Z",
         "period_end": "2025-02-01T00:00:00Z", "ts": "2025-02-01T00:00:00Z"},
        {**_bill(21, "acct_fox01", "payment", 7_00, invoice=20), "ts": "2026-01-10T00:00:00Z"},
        {**_bill(22, "acct_fox01", "refund", 1_00), "ts": "2026-01-12T00:00:00Z"},
        {**_bill(23, "acct_fox01", "refund", 2_00), "ts": "2025-06-12T00:00:00Z"},
    ]  # fmt: skip
    ingest_file(actor="system:test", kind="billing", path=ndjson_file(tmp_path / "o.ndjson", lines))
    pks = list(Account.objects.filter(account_id__in=ACCOUNTS).values_list("pk", flat=True))
    window = (T0, T0 + dt.timedelta(days=30))
    kept = {r["billing_id"] for r in billing_collect(pks, window)}
    assert {"invoice-1", "payment-2", "refund-3", "refund-22"} <= kept
    assert not kept & {"invoice-20", "payment-21", "refund-23", "invoice-8"}
    assert {"invoice-20", "payment-21", "refund-23"} <= {
        r["billing_id"] for r in billing_collect(pks, (None, None))
    }
