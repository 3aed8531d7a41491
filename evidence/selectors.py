"""Reads on the record side."""

from __future__ import annotations

from django.db.models import Count, Max, Min, QuerySet

from evidence.ledger import ledger_head
from evidence.models import Account, AssentRecord, IngestBatch, TermsVersion, UsageEvent


def record_summary() -> dict:
    """What the record holds, for the home page: counts, time span and the ledger head."""
    usage = UsageEvent.objects.aggregate(count=Count("id"), first=Min("ts"), last=Max("ts"))
    head_seq, head_hash = ledger_head()
    return {
        "accounts": Account.objects.count(),
        "usage_events": usage["count"],
        "usage_first": usage["first"],
        "usage_last": usage["last"],
        "assent_records": AssentRecord.objects.count(),
        "terms_versions": TermsVersion.objects.count(),
        "batches": IngestBatch.objects.count(),
        "ledger_head_seq": head_seq,
        "ledger_head_hash": head_hash,
    }


def ingest_batch_list() -> QuerySet[IngestBatch]:
    """Ingest batches, newest first. Batches are provenance of the shared record, not of a
    case, so every user allowed to read the record may list them."""
    return IngestBatch.objects.select_related("collector").order_by("-started_at", "-pk")
