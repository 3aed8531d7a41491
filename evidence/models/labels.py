"""What an investigator confirmed about an account: benign or abusive, and why.

Detection is analysis; a confirmed label is a person's judgement after looking at the
account (a call with the customer, a subpoena return, an admission). Each detection run
measures itself against these labels, so its error rates are stated on cases a provider
has actually decided, not only on generated worlds.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from evidence.models.record import Account


class ConfirmedLabel(models.Model):
    """One investigator's verdict on one account; never changed (migration 0111).

    A change of mind is a new row with its own reason: the latest row for an account is
    the verdict in force (`evidence.labels.labels_current`), and the earlier ones stay on
    the record, as a court may ask when, and on what grounds, the view changed.
    The actor is kept as text (and id), as in the ledger, so removing a user never
    requires rewriting a verdict.
    """

    class Verdict(models.TextChoices):
        CONFIRMED_BENIGN = "confirmed_benign", "Confirmed benign"
        CONFIRMED_ABUSIVE = "confirmed_abusive", "Confirmed abusive"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="confirmed_labels")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    reason = models.TextField(help_text="Why the investigator is sure: what was checked.")
    actor = models.CharField(max_length=150)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "created_at", "pk"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="confirmed_label_latest")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict__in=["confirmed_benign", "confirmed_abusive"]),
                name="confirmed_label_verdict_known",
            ),
            # A verdict without its grounds is an assertion, not a confirmation.
            models.CheckConstraint(
                condition=Q(reason__regex=r"\S"), name="confirmed_label_reason_given"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.verdict}"
