"""What damages are computed from, as the snapshot freezes it: the attributed accounts'
billing and payment records, and the clause of the Terms that sets the measure.

Billing is taken by what it bills for, not by when it was issued: an invoice whose period
overlaps the case window (or, with no period, dated in it), the payments, refunds and
chargebacks that settle one of those invoices, and those that name no invoice dated in
the window. A case with no window takes every record of its accounts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from casework.damages_rules import measure_clause_collect
from casework.reports.snapshot.values import iso
from evidence.models import BillingRecord


def _in_window(when: dt.datetime | None, start, end) -> bool:
    return when is not None and (start is None or when >= start) and (end is None or when <= end)


def _period_overlaps(record: BillingRecord, start, end) -> bool:
    if record.period_start is None:
        return _in_window(record.occurred_at, start, end)
    return (end is None or record.period_start <= end) and (
        start is None or record.period_end >= start
    )


def billing_collect(account_pks: list[int], window) -> list[dict[str, Any]]:
    """The case accounts' billing records in scope (module docstring), oldest first."""
    start, end = window
    records = list(
        BillingRecord.objects.filter(account_id__in=account_pks)
        .select_related("account")
        .order_by("occurred_at", "pk")
    )
    invoices = {
        r.billing_id
        for r in records
        if r.kind == BillingRecord.Kind.INVOICE and _period_overlaps(r, start, end)
    }
    kept = []
    for r in records:
        if r.kind == BillingRecord.Kind.INVOICE:
            keep = r.billing_id in invoices
        elif r.invoice_id:
            keep = r.invoice_id in invoices
        else:
            keep = _in_window(r.occurred_at, start, end)
        if keep:
            kept.append(
                {
                    "account_id": r.account.account_id,
                    "kind": r.kind,
                    "billing_id": r.billing_id,
                    "invoice_id": r.invoice_id,
                    "amount_minor": r.amount_minor,
                    "currency": r.currency,
                    "occurred_at": iso(r.occurred_at),
                    "period_start": iso(r.period_start),
                    "period_end": iso(r.period_end),
                    "content_sha256": r.content_sha256,
                    "batch": r.batch_id,
                }
            )
    return kept


def damages_collect(links, allegations: list[dict[str, Any]], window) -> dict[str, Any]:
    return {
        "billing": billing_collect([link.account_id for link in links], window),
        "measure_clause": measure_clause_collect(allegations),
    }
