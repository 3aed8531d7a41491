"""Detection: the model catalogue it measures against, and what each run found.

Findings, links and clusters are analysis, not business records: a later run supersedes
them (the latest finished run is what counsel see) but never edits them, so a report can
always cite exactly what a given run said, with the detector version that said it. The
database refuses UPDATE on them (trigger in migration 0003).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from evidence.models.record import Account


class ModelRelease(models.Model):
    """A model in the provider's catalogue: when it was released and its list prices.

    Detection reads release dates (moving to a new model within hours of release is one
    signal); damages read list prices (Terms 13.3: misused Output is paid at list price).
    """

    model = models.CharField(max_length=100, unique=True)
    released_at = models.DateTimeField()
    list_price_per_mtok_input = models.DecimalField(max_digits=12, decimal_places=6)
    list_price_per_mtok_output = models.DecimalField(max_digits=12, decimal_places=6)
    source_file = models.CharField(max_length=500, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["released_at", "model"]
        constraints = [
            models.CheckConstraint(
                condition=Q(list_price_per_mtok_input__gte=0)
                & Q(list_price_per_mtok_output__gte=0),
                name="model_release_prices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.model


class PlanLimit(models.Model):
    """A published per-account rate limit: what "running at its limit" means for a plan."""

    plan = models.CharField(max_length=50, unique=True)
    requests_per_minute = models.PositiveIntegerField()
    tokens_per_minute = models.PositiveBigIntegerField()
    source_file = models.CharField(max_length=500, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["plan"]

    def __str__(self) -> str:
        return f"{self.plan}: {self.requests_per_minute} rpm, {self.tokens_per_minute} tpm"


class DetectionRun(models.Model):
    """One pass of every registered detector over the usage record."""

    class Status(models.TextChoices):
        # Asked for from the UI or the API and waiting for a worker (`started_at`: asked).
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    actor = models.CharField(max_length=150)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    # {code: version} of every detector that ran: a finding is only as good as its method.
    detector_versions = models.JSONField(default=dict)
    counts = models.JSONField(default=dict, blank=True)
    # SHA-256 over the canonical findings, links and clusters; the ledger entry carries it.
    digest = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_start__lte=F("window_end")),
                name="detection_run_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status__in=("queued", "running")) | Q(finished_at__isnull=False),
                name="detection_run_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"detection run {self.pk} ({self.status})"


class Band(models.TextChoices):
    """How strongly a cluster calls for action, from its members' conduct and links."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    REVIEW = "review", "Review"
    NONE = "none", "None"


class Cluster(models.Model):
    """Accounts joined by hard or strong links (a connected component), scored and banded.

    `identity` ("C-0007") names the group across runs: a run's cluster inherits the identity
    of the previous run's cluster whose accounts it mostly keeps (`detectors.cluster_identity`),
    so re-running detection after a small ingest does not renumber what counsel are
    already working on. New identities come from the sequence `evidence_cluster_identity_seq`
    (migration 0110), never reused.
    """

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="clusters")
    identity = models.CharField(max_length=20, db_index=True)
    score = models.FloatField()
    band = models.CharField(max_length=10, choices=Band.choices)
    size = models.PositiveIntegerField()
    explanation = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    members = models.ManyToManyField(
        Account, through="ClusterMember", related_name="detection_clusters"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "-score", "pk"]
        indexes = [models.Index(fields=["run", "band"], name="cluster_run_band")]
        constraints = [
            models.UniqueConstraint(fields=["run", "identity"], name="cluster_identity_per_run"),
            models.CheckConstraint(condition=Q(size__gte=1), name="cluster_size_positive"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="cluster_score_range"
            ),
        ]

    def __str__(self) -> str:
        return f"cluster {self.identity} ({self.band}, {self.size} accounts)"


class ClusterMember(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "account"], name="cluster_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in cluster {self.cluster_id}"


class Finding(models.Model):
    """What one detector measured for one account (or cluster) in one run, and against what.

    `baseline` holds the cohort it was compared with: cohort name and size, the cohort
    median, the value as a multiple of that median and its percentile within the cohort.
    `sample_request_ids` name usage rows a report can attach as exhibits (FRE 1006: the
    summary must trace to records the other side can inspect).
    """

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="findings")
    detector = models.CharField(max_length=50)
    detector_version = models.CharField(max_length=20)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="findings"
    )
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    value = models.FloatField()
    baseline = models.JSONField(default=dict)
    # In the value's unit; null when none could be set (a plan whose median is zero).
    threshold = models.FloatField(null=True, blank=True)
    fired = models.BooleanField()
    explanation = models.TextField()
    sample_request_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "account", "detector"]
        indexes = [
            models.Index(fields=["run", "account"], name="finding_run_account"),
            models.Index(fields=["run", "detector", "fired"], name="finding_run_detector"),
        ]
        constraints = [
            # A finding is about exactly one subject: an account or a cluster.
            models.CheckConstraint(
                condition=Q(account__isnull=False, cluster__isnull=True)
                | Q(account__isnull=True, cluster__isnull=False),
                name="finding_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=F("window_end")), name="finding_window_ordered"
            ),
        ]

    def __str__(self) -> str:
        subject = self.account_id or f"cluster {self.cluster_id}"
        return f"{self.detector} {'fired' if self.fired else 'quiet'} for {subject}"


class Link(models.Model):
    """Evidence that two accounts are one actor, of one kind, with its strength.

    Hard links (a shared card, a key used by two accounts) prove common control alone;
    strong links make it probable; weak links are context and never join a cluster.
    `declared` marks links between accounts that openly belong to one organisation, which
    are not concealment by themselves.
    """

    class Strength(models.TextChoices):
        HARD = "hard", "Hard"
        STRONG = "strong", "Strong"
        WEAK = "weak", "Weak"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="links")
    account_a = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    account_b = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30)
    detector_version = models.CharField(max_length=20)
    strength = models.CharField(max_length=6, choices=Strength.choices)
    declared = models.BooleanField(default=False)
    evidence = models.JSONField(default=dict)
    explanation = models.TextField()
    sample_request_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "kind", "account_a", "account_b"]
        indexes = [
            models.Index(fields=["run", "account_a"], name="link_run_account_a"),
            models.Index(fields=["run", "account_b"], name="link_run_account_b"),
        ]
        constraints = [
            # One row per unordered pair and kind: the pair is stored smaller id first.
            models.CheckConstraint(
                condition=Q(account_a__lt=F("account_b")), name="link_pair_ordered"
            ),
            models.UniqueConstraint(
                fields=["run", "kind", "account_a", "account_b"], name="link_unique_pair_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.strength}) {self.account_a_id}-{self.account_b_id}"
