"""Long work started from the UI or the API, and how far it has gone: an ingest job (an
uploaded file waiting for, or in, its ingest) and a detection run's progress.

Progress lives in rows of its own because the work itself runs in one transaction (an
ingest or a detection run is all or nothing): its progress is written through a separate
connection (`evidence.progress`) so a person can watch it, and the work's own transaction
never updates these rows, so the two never collide.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from evidence.models.detection import DetectionRun
from evidence.models.record import IngestBatch


class DetectionProgress(models.Model):
    """How far a detection run has gone: detectors measured of all, the step it is on, and
    the account measurements made so far."""

    run = models.OneToOneField(
        DetectionRun, primary_key=True, on_delete=models.CASCADE, related_name="progress"
    )
    # Who asked for it from the UI or the API; None for `manage.py detect` and Celery beat.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detectors_total = models.PositiveIntegerField(default=0)
    detectors_done = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    accounts_active = models.PositiveIntegerField(default=0)
    # One per account per detector measured: what the run has worked through so far.
    rows_processed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "detection progress"
        constraints = [
            models.CheckConstraint(
                condition=Q(detectors_done__lte=models.F("detectors_total")),
                name="detection_progress_done_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"progress of detection run {self.run_id}: {self.step}"

    @property
    def percent(self) -> int:
        if self.run.status == DetectionRun.Status.FINISHED:
            return 100
        if not self.detectors_total:
            return 0
        return min(99, self.detectors_done * 100 // self.detectors_total)


class IngestJob(models.Model):
    """One file uploaded from the UI or the API to be ingested by a worker.

    The file waits on disk (`upload`, under MEDIA_ROOT) and is deleted once ingested or
    failed; the batch it became is the record of what it added, as for any ingest.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=IngestBatch.Kind.choices)
    format = models.CharField(max_length=16)
    strict = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=IngestBatch.Source.choices)
    file_name = models.CharField(max_length=500)
    # The file as received, relative to MEDIA_ROOT; emptied once the worker is done with it.
    upload = models.CharField(max_length=300, blank=True)
    bytes_total = models.BigIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    bytes_read = models.BigIntegerField(default=0)
    lines_read = models.BigIntegerField(default=0)
    lines_rejected = models.BigIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failure_reason = models.TextField(blank=True)
    # `manage.py ingest --json`'s document for the file (its first rejected lines named),
    # once the ingest is done.
    result = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(bytes_read__gte=0) & Q(lines_read__gte=0) & Q(lines_rejected__gte=0),
                name="ingest_job_progress_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(status__in=("queued", "running")) | Q(finished_at__isnull=False),
                name="ingest_job_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"ingest job {self.pk} ({self.kind}, {self.file_name}, {self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.Status.FINISHED:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, self.bytes_read * 100 // self.bytes_total)
