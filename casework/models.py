"""The legal side: cases, who may see them, which accounts they attribute, what they allege.

A case stands on evidence records (`evidence`) but never changes them; what counsel add
here (attributions, allegations, reports) is analysis and argument, kept apart from the
business records a report certifies.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from evidence.models import Account, Clause, EvidenceItem


class Case(models.Model):
    """A matter against one respondent: the unit of access, hold and reporting."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FILED = "filed", "Filed"
        CLOSED = "closed", "Closed"

    reference = models.CharField(max_length=50, unique=True)
    title = models.CharField(max_length=300)
    respondent = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # A legal hold preserves everything linked to the case from retention and deletion.
    legal_hold = models.BooleanField(default=False)
    legal_hold_since = models.DateTimeField(null=True, blank=True)
    # Attorney work product: shown only to members, never in the public edition.
    privileged = models.BooleanField(default=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(legal_hold=False) | Q(legal_hold_since__isnull=False),
                name="case_hold_has_start",
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_start__lte=models.F("window_end")),
                name="case_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"


class CaseRole(models.TextChoices):
    """What a member may do on one case; membership decides everything a user sees."""

    OWNER = "owner", "Owner"
    COUNSEL = "counsel", "Counsel"
    INVESTIGATOR = "investigator", "Investigator"
    VIEWER = "viewer", "Viewer"
    EXTERNAL_REVIEWER = "external_reviewer", "External reviewer"


class CaseMembership(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_memberships"
    )
    role = models.CharField(max_length=20, choices=CaseRole.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "user"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="case_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.case.reference}"


class CaseAccount(models.Model):
    """An account attributed to the respondent, and why (the attribution element)."""

    class Basis(models.TextChoices):
        CLUSTER = "cluster", "Detected cluster"
        PAYMENT = "payment", "Shared payment method"
        ADMISSION = "admission", "Respondent's admission or records"
        INVESTIGATION = "investigation", "Investigator's finding"
        OTHER = "other", "Other"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_accounts")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="case_links")
    basis = models.CharField(max_length=20, choices=Basis.choices)
    basis_detail = models.TextField(blank=True)
    attributed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    attributed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "account"]
        constraints = [
            models.UniqueConstraint(fields=["case", "account"], name="case_account_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.case_id}"


class Allegation(models.Model):
    """Conduct alleged to breach one clause, with what supports it (the breach element)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="allegations")
    clause = models.ForeignKey(Clause, on_delete=models.PROTECT, related_name="allegations")
    theory = models.TextField(
        help_text="The conduct, in plain words, and why it breaches the clause."
    )
    supporting_evidence = models.ManyToManyField(EvidenceItem, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "created_at"]

    def __str__(self) -> str:
        return f"{self.case.reference}: §{self.clause.path}"


class ReportEdition(models.TextChoices):
    COUNSEL = "counsel", "Counsel"
    REGULATOR = "regulator", "Regulator"
    PUBLIC = "public", "Public record"


class ReportJob(models.Model):
    """The source of truth for one report build: its state, progress and result.

    One case snapshot and edition never yield two reports: the snapshot hash is part of a
    unique constraint, so a retried or duplicated job finds the existing one.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="report_jobs")
    edition = models.CharField(max_length=10, choices=ReportEdition.choices)
    snapshot_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    percent = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pdf = models.ForeignKey(
        EvidenceItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "edition", "snapshot_sha256"], name="report_job_one_per_snapshot"
            ),
            models.CheckConstraint(condition=Q(percent__lte=100), name="report_job_percent_max"),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(pdf__isnull=False), name="report_job_done_has_pdf"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} {self.edition} report ({self.status})"
