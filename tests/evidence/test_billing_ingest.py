"""The `billing` kind: invoices, payments, refunds and chargebacks, ingested like every other
business record (issue #18: damages from what was charged and paid)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from rest_framework.test import APIClient

from evidence.custody.canonical import BILLING_HASHED, content_sha256
from evidence.custody.verification import record_check
from evidence.ingest.records import BILLING_KINDS
from evidence.ingest.service import ingest_file
from evidence.models import Account, BillingRecord, IngestBatch, LedgerEntry
from tests.factories import api_token, bearer_client, ndjson_bytes, ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def bill(n: int, *, kind="invoice", account="acct-1", amount=125_00, **fields) -> dict:
    record = {
        "account_id": account,
        "kind": kind,
        "billing_id": f"{kind[:3]}-{n:04d}",
        "amount_minor": amount,
        "currency": "USD",
        "ts": f"2026-06-{n:02d}T09:00:00Z",
    }
    if kind == "invoice":
        record.update(period_start="2026-05-01T00:00:00Z", period_end="2026-06-01T00:00:00Z")
    else:
        record["invoice_id"] = f"inv-{n:04d}"
    record.update(fields)
    return record


def ingest(path, **kwargs):
    return ingest_file(actor="system:test", kind="billing", path=path, **kwargs)


def test_the_kinds_of_the_schema_are_those_of_the_model():
    assert set(BILLING_KINDS) == set(BillingRecord.Kind.values)


def test_a_billing_file_is_stored_with_its_hashes_batch_and_ledger_entry(tmp_path):
    lines = [bill(1), bill(1, kind="payment", amount=100_00), bill(2, kind="refund", amount=5)]
    path = ndjson_file(tmp_path / "billing.ndjson", lines)
    result = ingest(path)
    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, 0)
    invoice = BillingRecord.objects.get(kind="invoice", billing_id="inv-0001")
    assert (invoice.amount_minor, invoice.currency) == (12500, "USD")
    assert invoice.account.account_id == "acct-1"
    assert invoice.period_start.isoformat() == "2026-05-01T00:00:00+00:00"
    payment = BillingRecord.objects.get(kind="payment")
    assert (payment.invoice_id, payment.amount_minor) == ("inv-0001", 10000)
    expected = content_sha256(
        {
            "account_id": "acct-1",
            "kind": "payment",
            "billing_id": "pay-0001",
            "invoice_id": "inv-0001",
            "amount_minor": 10000,
            "currency": "USD",
            "occurred_at": payment.occurred_at,
            "period_start": None,
            "period_end": None,
        },
        BILLING_HASHED,
    )
    assert payment.content_sha256 == expected
    # An account known only from billing is recorded as one the account system has not
    # described (seen_only_in_usage), never mistaken for a profile.
    assert Account.objects.get(account_id="acct-1").seen_only_in_usage
    batch = IngestBatch.objects.get(pk=result.batch)
    assert (batch.kind, batch.raw_sha256) == (
        "billing",
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    entry = LedgerEntry.objects.get(object_type="ingest_batch", object_id=str(batch.pk))
    assert entry.details["kind"] == "billing"
    assert entry.details["rows_digest"] == batch.rows_digest
    check = record_check()
    assert check.ok, check.failures.items
    assert check.checked["billing_records"] == 3


def test_each_bad_field_is_named_by_its_line_and_the_good_lines_kept(tmp_path):
    lines = [
        bill(1),
        bill(2, amount=12.5),  # a float is not an amount in minor units
        bill(3, amount=-100),
        bill(4, amount="100"),
        bill(5, currency="usd"),
        bill(6, kind="credit"),
        bill(7, ts="2026-06-07T09:00:00"),  # no zone
        bill(8, period_end=None),
        bill(9, period_end="2026-04-01T00:00:00Z"),
        {k: v for k, v in bill(10).items() if k != "billing_id"},
        {k: v for k, v in bill(11).items() if k != "account_id"},
        bill(12, discount=3),
        bill(13, amount=10**15),
    ]
    result = ingest(ndjson_file(tmp_path / "b.ndjson", lines))
    assert result.accepted == 1
    named = {(e["line"], e["field"]) for e in result.errors}
    assert named == {
        (2, "amount_minor"),
        (3, "amount_minor"),
        (4, "amount_minor"),
        (5, "currency"),
        (6, "kind"),
        (7, "ts"),
        (8, "period_end"),
        (9, "period_end"),
        (10, "billing_id"),
        (11, "account_id"),
        (12, "discount"),
        (13, "amount_minor"),
    }
    message = {e["line"]: e["message"] for e in result.errors}
    assert "minor units" in message[2] and "direction" in message[3]
    assert list(BillingRecord.objects.values_list("billing_id", flat=True)) == ["inv-0001"]


def test_strict_mode_leaves_nothing_of_a_file_with_one_bad_line(tmp_path):
    lines = [bill(1), bill(2), bill(3, currency="")]
    result = ingest(ndjson_file(tmp_path / "b.ndjson", lines), strict=True)
    assert result.refused
    assert not BillingRecord.objects.exists()
    assert not Account.objects.exists()
    assert result.errors[0] == {"line": 3, "field": "currency", "message": "is required"}


def test_duplicates_are_counted_and_a_changed_record_under_its_id_is_refused(tmp_path):
    ingest(ndjson_file(tmp_path / "a.ndjson", [bill(1), bill(2)]))
    again = ingest(
        ndjson_file(tmp_path / "b.ndjson", [bill(1), bill(2, amount=1), bill(3), bill(3)])
    )
    assert (again.accepted, again.duplicates, again.rejected) == (1, 2, 1)
    assert again.errors[0]["line"] == 2 and again.errors[0]["field"] == "billing_id"
    assert "already on record with different content" in again.errors[0]["message"]
    assert BillingRecord.objects.get(billing_id="inv-0002").amount_minor == 125_00
    check = record_check()
    assert check.ok, check.failures.items


def test_a_stored_billing_record_cannot_be_edited(tmp_path):
    ingest(ndjson_file(tmp_path / "a.ndjson", [bill(1)]))
    with pytest.raises(DatabaseError, match="billing records"), transaction.atomic():
        BillingRecord.objects.update(amount_minor=1)


def test_csv_billing_file(tmp_path):
    buffer = io.StringIO()
    rows = [bill(1), bill(1, kind="payment", amount=99)]
    columns = sorted({k for r in rows for k in r})
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "billing.csv"
    path.write_text(buffer.getvalue())
    result = ingest(path, fmt="csv")
    assert (result.accepted, result.rejected) == (2, 0), result.errors
    assert BillingRecord.objects.get(kind="payment").amount_minor == 99


def test_command_and_api_ingest_billing(tmp_path, counsel_user, capsys):
    path = ndjson_file(tmp_path / "b.ndjson", [bill(1)])
    call_command("ingest", "billing", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["accepted"] == 1
    client: APIClient = bearer_client(api_token(counsel_user, "ingest", days=1, name="t")[1])
    answer = client.post(
        "/api/v1/ingest/billing/",
        data=ndjson_bytes([bill(2), bill(3, currency="EURO")]),
        content_type="application/x-ndjson",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["kind"], body["accepted"], body["rejected"]) == ("billing", 1, 1)
    assert body["errors"][0]["line"] == 2 and body["errors"][0]["field"] == "currency"
    assert BillingRecord.objects.count() == 2
