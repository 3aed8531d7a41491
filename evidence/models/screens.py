"""The screens accounts saw when they accepted the Terms: screenshots and archived
versions of each sign-up flow, kept as evidence files and tied to the assent records.

A clickwrap case turns on what was on the screen (was the Terms link conspicuous, was the
box unticked, did the button say what clicking it meant), so an assent record's
`screenshot_sha256` is only as good as the file it names. Each file is an `EvidenceItem`
(content-addressed by its SHA-256, collected and ledgered); this row says which flow
version it shows, which Terms version that flow presented and when the flow was live.
Assent records link to it by hash: a record whose `screenshot_sha256` equals the file's.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from evidence.models.record import AssentRecord, EvidenceItem, TermsVersion


class AssentScreen(models.Model):
    """One screenshot or archived page of a sign-up (or re-acceptance) flow version."""

    class Kind(models.TextChoices):
        SCREENSHOT = "screenshot", "Screenshot"
        FLOW_ARCHIVE = "flow_archive", "Archived sign-up flow"

    item = models.OneToOneField(
        EvidenceItem, on_delete=models.PROTECT, related_name="assent_screen"
    )
    # The item's hash, repeated so assent records join to it by an index and two files
    # of the same bytes cannot be recorded as two screens.
    sha256 = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What the bytes are, as sniffed from them (never as the uploader declared).
    media_type = models.CharField(max_length=50)
    flow_id = models.CharField(
        max_length=100, help_text="The sign-up flow version, e.g. signup-v4."
    )
    terms_version = models.ForeignKey(
        TermsVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assent_screens",
    )
    # The window the flow version was live (the effective window of the screen): an
    # acceptance outside it did not happen on this screen.
    shown_from = models.DateTimeField(null=True, blank=True)
    shown_until = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["flow_id", "shown_from", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="assent_screen_sha256_hex"
            ),
            models.CheckConstraint(
                condition=Q(shown_from__isnull=True)
                | Q(shown_until__isnull=True)
                | Q(shown_from__lte=models.F("shown_until")),
                name="assent_screen_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} {self.get_kind_display().lower()} ({self.sha256[:12]})"

    def assent_records(self):
        """The assent records that name this file's hash as their screenshot."""
        return AssentRecord.objects.filter(screenshot_sha256=self.sha256)

    @property
    def image(self) -> bool:
        return self.media_type in ("image/png", "image/jpeg")
