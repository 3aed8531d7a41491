"""Billing and payment records: what the provider charged each account and was paid.

Damages are computed from them as well as from list prices (issue #18): what an account
was invoiced, what it paid, what was refunded or charged back. They are business records
(FRE 803(6)) kept as the billing system gives them: an amount in minor units of its own
currency (never converted, never a float), the direction given by the kind, and the hash
of the row as ingested. The database refuses UPDATE, DELETE and TRUNCATE of them
(migration 0161), like every other ingested record.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from evidence.models.record import Account, IngestBatch


class BillingRecord(models.Model):
    """One invoice, payment, refund or chargeback of one account."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        CHARGEBACK = "chargeback", "Chargeback"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="billing")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    billing_id = models.CharField(
        max_length=200, help_text="The billing system's id of the invoice or payment."
    )
    invoice_id = models.CharField(
        max_length=200, blank=True, help_text="The invoice a payment, refund or chargeback settles."
    )
    amount_minor = models.BigIntegerField(help_text="In minor units (cents) of `currency`.")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    occurred_at = models.DateTimeField()
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64)
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="billing")

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "billing_id"], name="billing_record_unique"),
            models.CheckConstraint(
                condition=Q(amount_minor__gte=0), name="billing_amount_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["account", "occurred_at"], name="billing_account_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.billing_id}"
