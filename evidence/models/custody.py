"""Custody records: holds, retention purges, verification runs and trusted timestamps.

These rows are part of the chain of custody themselves, so the ones that report what
happened (purged-row hashes, verification runs, timestamps) are append-only in the
database, like the ledger (migration 0004).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class PreservationHold(models.Model):
    """Material preserved under a legal hold: an account's usage in a window, or a file.

    Placed and released by the case side (a case on hold preserves what it links to); the
    record side consults these rows before any retention purge or deletion, so it never
    needs to know about cases.
    """

    reference = models.CharField(max_length=100, help_text="Who holds it, e.g. the case.")
    account = models.ForeignKey(
        "evidence.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="holds"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    evidence_item = models.ForeignKey(
        "evidence.EvidenceItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="holds",
    )
    placed_by = models.CharField(max_length=150)
    placed_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [models.Index(fields=["released_at"], name="hold_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(evidence_item__isnull=False),
                name="hold_names_material",
            ),
        ]

    def __str__(self) -> str:
        if self.account_id:
            return f"hold {self.reference} on account {self.account_id}"
        return f"hold {self.reference} on file {self.evidence_item_id}"


class RetentionPurge(models.Model):
    """One run of the retention policy over raw usage events."""

    cutoff = models.DateTimeField(help_text="Usage older than this was eligible.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    removed = models.BigIntegerField(default=0)
    held_kept = models.BigIntegerField(default=0, help_text="Eligible rows kept for a hold.")
    # SHA-256 over the removed rows' hashes in id order: what was removed, provably.
    removed_digest = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=150)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"retention purge {self.pk}: {self.removed} rows before {self.cutoff:%Y-%m-%d}"


class PurgedUsageRow(models.Model):
    """What remains of a usage row removed under retention: its id, batch and hash.

    The content (prompts, IPs) is gone, as the privacy policy requires, but the hash keeps
    the batch digest verifiable: verification merges these hashes with the live rows'.
    """

    id = models.BigIntegerField(primary_key=True, help_text="The usage row's own id.")
    batch = models.ForeignKey(
        "evidence.IngestBatch", on_delete=models.PROTECT, related_name="purged_rows"
    )
    request_id = models.CharField(max_length=200)
    row_sha256 = models.CharField(max_length=64)
    purge = models.ForeignKey(RetentionPurge, on_delete=models.PROTECT, related_name="rows")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"purged {self.request_id}"


class VerificationRun(models.Model):
    """One full verification of the record; the latest one drives the app's alert."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    checked = models.JSONField(default=dict)
    failures = models.JSONField(default=list)
    failures_total = models.IntegerField(default=0)
    actor = models.CharField(max_length=150)
    ledger_head_seq = models.BigIntegerField(default=0)
    ledger_head_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"verification {self.pk} ({'ok' if self.ok else 'FAILED'})"


class TrustedTimestamp(models.Model):
    """An RFC 3161 token from a timestamp authority over the ledger head at a moment.

    It proves the chain up to that entry existed no later than the authority's time, so
    rewriting history after that point cannot be hidden even by someone who controls the
    database and recomputes every hash.
    """

    ledger_seq = models.BigIntegerField()
    ledger_hash = models.CharField(max_length=64)
    authority_url = models.URLField()
    token = models.BinaryField()
    token_sha256 = models.CharField(max_length=64)
    authority_time = models.DateTimeField()
    requested_at = models.DateTimeField()

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"timestamp of ledger #{self.ledger_seq} at {self.authority_time:%Y-%m-%d %H:%M}"
