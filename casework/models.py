"""The legal side: cases, who may see them, which accounts they attribute, what they allege.

A case stands on evidence records (`evidence`) but never changes them; what counsel add
here (attributions, allegations, reports) is analysis and argument, kept apart from the
business records a report certifies.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Length
from django.db.models.lookups import Exact

from evidence.models import Account, CanaryMatch, Clause, Cluster, EvidenceItem, IngestBatch


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
    # The detected cluster the case was opened from (its run and identity): the case keeps
    # pointing at what it was opened from, and the run it rests on is never deleted under it.
    source_cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    # The custodian who declares this case's final reports (FRE 902(11)/(13)/(14), § 1746),
    # all four or none: none, and the PACTA_REPORT_DECLARANT_* settings name them.
    declarant_name = models.CharField(max_length=200, blank=True)
    declarant_title = models.CharField(max_length=200, blank=True)
    declarant_organisation = models.CharField(max_length=200, blank=True)
    declarant_place = models.CharField(max_length=200, blank=True)

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
    # The named expert who stands behind a report's methods (detectors, statistics) and
    # approves those sections before a final report is built; reads and notes otherwise.
    EXPERT = "expert", "Expert"
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


class CaseAccountBasis(models.Model):
    """A further basis for an account already attributed: the first stays on its
    `CaseAccount`, each one given later is kept here, so a second reason to attribute an
    account (a shared card found after the cluster) is on record, not dropped."""

    case_account = models.ForeignKey(
        CaseAccount, on_delete=models.CASCADE, related_name="further_bases"
    )
    basis = models.CharField(max_length=20, choices=CaseAccount.Basis.choices)
    basis_detail = models.TextField(blank=True)
    attributed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    attributed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_account", "attributed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.basis} for {self.case_account}"


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


class CaseNote(models.Model):
    """Counsel's or an investigator's note on a case: attorney work product, members only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="case_note_not_empty"),
        ]

    def __str__(self) -> str:
        return f"note on {self.case.reference} by {self.author}"


class CaseOutputEvidence(models.Model):
    """Evidence that the respondent's model was built on the outputs, attached to a case:
    a batch of probe transcripts, the identity claims of one probed target, or a canary
    match (the use element, beside attribution and breach).

    The record's rows are pointed at, never copied: the report measures the claims and the
    overlap again from the attached batches, with the provider names recorded here, so a
    reader can rerun the figures from the record.
    """

    class Kind(models.TextChoices):
        PROBE_BATCH = "probe_batch", "Probe transcripts"
        IDENTITY_CLAIMS = "identity_claims", "Identity claims of a target"
        CANARY_MATCH = "canary_match", "Canary match"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="output_evidence")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target = models.CharField(max_length=200, blank=True)
    # The provider's names the identity claims are counted with (as configured when attached).
    names = models.JSONField(default=list, blank=True)
    canary_match = models.ForeignKey(
        CanaryMatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.CharField(max_length=150)
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "kind", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="probe_batch", batch__isnull=False, target="", canary_match__isnull=True)
                    | Q(kind="identity_claims", batch__isnull=True, canary_match__isnull=True)
                    & ~Q(target="")
                    | Q(
                        kind="canary_match",
                        batch__isnull=True,
                        target="",
                        canary_match__isnull=False,
                    )
                ),
                name="case_output_evidence_kind_fields",
            ),
            models.UniqueConstraint(
                fields=["case", "batch"],
                condition=Q(kind="probe_batch"),
                name="case_output_batch_unique",
            ),
            models.UniqueConstraint(
                fields=["case", "target"],
                condition=Q(kind="identity_claims"),
                name="case_output_target_unique",
            ),
            models.UniqueConstraint(
                fields=["case", "canary_match"],
                condition=Q(kind="canary_match"),
                name="case_output_match_unique",
            ),
        ]
        verbose_name_plural = "case output evidence"

    def __str__(self) -> str:
        return f"{self.kind} on {self.case_id}"


class ReportEdition(models.TextChoices):
    COUNSEL = "counsel", "Counsel"
    REGULATOR = "regulator", "Regulator"
    PUBLIC = "public", "Public record"


class ReportJob(models.Model):
    """The source of truth for one report build: its state, progress and result.

    One case snapshot and edition never yield two reports of a kind: the snapshot hash is
    part of a unique constraint, so a retried or duplicated job finds the existing one.
    A report is a draft (marked DRAFT on every page) until its reviewers approve it; the
    final report is a second job on the same snapshot, built only from an approved draft
    (`casework.reports.review`).
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
    # False: a draft, for review. True: the final report, built from the approved draft
    # of the same snapshot and edition (`draft`), which its reviews bind.
    final = models.BooleanField(default=False)
    draft = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="final_job"
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "edition", "snapshot_sha256", "final"],
                name="report_job_one_per_snapshot",
            ),
            models.CheckConstraint(
                condition=Q(final=False, draft__isnull=True) | Q(final=True, draft__isnull=False),
                name="report_job_final_has_draft",
            ),
            models.CheckConstraint(condition=Q(percent__lte=100), name="report_job_percent_max"),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(pdf__isnull=False), name="report_job_done_has_pdf"
            ),
        ]

    def __str__(self) -> str:
        kind = "final report" if self.final else "draft report"
        return f"{self.case.reference} {self.edition} {kind} ({self.status})"


class ReportReview(models.Model):
    """One reviewer's decision on a draft report, as given: approve or reject, and why.

    Counsel on the case answer for the whole report; the case's named expert for its
    methods sections. The latest decision of each scope counts; a change of mind is a new
    row, never an edit (the database refuses updates and deletes), and each is ledgered.
    """

    class Role(models.TextChoices):
        COUNSEL = "counsel", "Counsel"
        EXPERT = "expert", "Expert"

    class Scope(models.TextChoices):
        WHOLE = "whole", "The whole report"
        METHODS = "methods", "The methods sections"

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    job = models.ForeignKey(ReportJob, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["job", "at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role="counsel", scope="whole") | Q(role="expert", scope="methods"),
                name="report_review_role_scope",
            ),
            models.CheckConstraint(
                condition=Q(decision="approve") | ~Q(comment=""),
                name="report_review_reject_says_why",
            ),
        ]

    def __str__(self) -> str:
        decision = self.get_decision_display()
        return f"{decision} by {self.reviewer} ({self.role}) on report job {self.job_id}"


class ProductionJob(models.Model):
    """One production build asked for from the UI or the API: its state, progress and the
    zip it made (a filing copy, natives, load file and signed manifest; see
    `casework.production`). The zip is kept under MEDIA_ROOT and served as it lies."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class PageSize(models.TextChoices):
        LETTER = "letter", "Letter"
        A4 = "a4", "A4"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="production_jobs")
    edition = models.CharField(max_length=10, choices=ReportEdition.choices)
    page_size = models.CharField(max_length=6, choices=PageSize.choices, default=PageSize.LETTER)
    max_file_mb = models.DecimalField(max_digits=6, decimal_places=1, default=35)
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
    # The zip, relative to MEDIA_ROOT, and what the production's ledger entry anchors.
    zip_path = models.CharField(max_length=500, blank=True)
    zip_sha256 = models.CharField(max_length=64, blank=True)
    zip_size = models.BigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    # Past PACTA_PRODUCTION_RETENTION_DAYS the zip is removed (`casework.production.retention`);
    # the job keeps the manifest it held (every file, its SHA-256 and size), so what was
    # produced stays on record, and `zip_path` keeps naming the file that was served.
    manifest = models.JSONField(default=dict, blank=True)
    zip_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__lte=100), name="production_job_percent_max"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(zip_path=""), name="production_job_done_has_zip"
            ),
            models.CheckConstraint(
                condition=Q(max_file_mb__gt=0), name="production_job_limit_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} {self.edition} production ({self.status})"

    @property
    def zip_name(self) -> str:
        return self.zip_path.rsplit("/", 1)[-1]


class CaseSnapshot(models.Model):
    """The case as a report request froze it: the canonical JSON whose SHA-256 is the
    job's `snapshot_sha256`, zlib-compressed. The build reads this, never the live record,
    so a report certifies what was requested even if the case changed since; every
    edition of the same snapshot shares it."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="snapshots")
    sha256 = models.CharField(max_length=64)
    canonical_gz = models.BinaryField()
    frozen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "sha256"], name="case_snapshot_one_per_hash")
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} snapshot {self.sha256[:12]}"


class PseudonymKey(models.Model):
    """The secret behind one case's pseudonyms in one edition (`casework.reports.redaction`).

    Drawn at random when the edition is first built and kept, so a report rebuilt from the
    same snapshot names every account as before; one per edition, so no two editions'
    pseudonyms can be matched. It never leaves the server: no page, API, exhibit or admin
    shows it, the ledger records only its SHA-256, and the database refuses to change or
    delete it (a new key would silently rename every account of every rebuilt report).
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    edition = models.CharField(max_length=10, choices=ReportEdition.choices)
    secret = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "edition"], name="pseudonym_key_one_per_edition"
            ),
            models.CheckConstraint(
                condition=Q(Exact(Length("secret"), 32)), name="pseudonym_key_secret_32_bytes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} {self.edition} pseudonym key"


class ApiScope(models.TextChoices):
    """What a machine token may do. A token carries only the scopes its job needs."""

    INGEST = "ingest", "Ingest records (and nothing else)"
    READ = "read", "Read"
    WRITE = "write", "Write"


def validate_api_scopes(value) -> None:
    """A non-empty list of known scopes: a token that may do nothing, or anything, is a mistake."""
    if not isinstance(value, list) or not value:
        raise ValidationError("scopes must be a non-empty list", code="invalid")
    unknown = sorted({str(scope) for scope in value} - set(ApiScope.values))
    if unknown:
        raise ValidationError(
            f"unknown scope(s) {', '.join(unknown)}: use {', '.join(ApiScope.values)}",
            code="invalid",
        )


class ApiToken(models.Model):
    """A machine's credential for the REST API, limited to the scopes it carries.

    Only the SHA-256 of the token is stored: a copy of the database (a backup, an exhibit
    of the ledger) must not hand anyone the power to ingest records in the provider's
    name. The prefix identifies a token to people without revealing it.
    """

    PREFIX_LENGTH = 12

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, validators=[validate_api_scopes])
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(key_sha256__regex=r"^[0-9a-f]{64}$"), name="api_token_sha256_hex"
            ),
            models.CheckConstraint(
                condition=Q(
                    Exact(
                        Func(F("scopes"), function="jsonb_typeof", output_field=models.TextField()),
                        Value("array"),
                    ),
                    ~Q(scopes=[]),
                    scopes__contained_by=ApiScope.values,
                ),
                name="api_token_scopes_known_non_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}, {self.user})"

    def refusal(self, *, at) -> str | None:
        """Why this token may not be used at `at`, or None when it may."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return f"This API token was revoked at {self.revoked_at.isoformat()}."
        if self.expires_at is not None and self.expires_at <= at:
            return f"This API token expired at {self.expires_at.isoformat()}."
        if not self.user.is_active:
            return "The user this API token belongs to is inactive."
        return None


class HomeVisit(models.Model):
    """When a user last looked at the home page: "new clusters since my last visit"."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="home_visit"
    )
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} last home visit {self.seen_at:%Y-%m-%d %H:%M}"
