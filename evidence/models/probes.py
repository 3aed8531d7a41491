"""Evidence that the outputs were used: probes of a rival model, and canaries served to accounts.

A probe exchange is a transcript an investigator captured outside Pacta (a prompt put to a
rival's model and its answer); a canary is innocuous, unique text Pacta generated, planned
for suspect accounts and served to them by the provider's gateway. A canary found again in
a probe response ties the accounts it was served to the rival model. Every row here is
written once and never changed (migration 0120): a correction is a new row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from evidence.models.record import Account, IngestBatch


class ProbeExchange(models.Model):
    """One prompt put to a target model and its response, as the investigator captured it.

    `control` marks a target probed for comparison (another vendor's model asked the same
    prompts): its rate of identity claims is the baseline a suspect target is read against.
    """

    probe_id = models.CharField(max_length=200, unique=True)
    target = models.CharField(max_length=200, help_text="The model, endpoint or app probed.")
    target_version = models.CharField(max_length=100, blank=True)
    endpoint = models.CharField(max_length=500, blank=True)
    control = models.BooleanField(default=False)
    collected_at = models.DateTimeField()
    prompt = models.TextField()
    prompt_sha256 = models.CharField(max_length=64)
    response = models.TextField()
    collector = models.CharField(max_length=200, help_text="Who captured the exchange.")
    tool = models.CharField(max_length=200, blank=True)
    tool_version = models.CharField(max_length=100, blank=True)
    raw_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the raw capture (HAR, screenshot)."
    )
    content_sha256 = models.CharField(max_length=64)
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="probes")

    class Meta:
        ordering = ["target", "collected_at", "pk"]
        indexes = [models.Index(fields=["target", "control"], name="probe_target")]

    def __str__(self) -> str:
        return f"probe {self.probe_id} of {self.target}"


class CanarySet(models.Model):
    """Canaries generated together from one seed, for one group of suspect accounts."""

    seed = models.BigIntegerField()
    # The cluster as named when the set was planned: its identity and detection run, as
    # text and number, so that pruning old detection runs never touches the plan.
    cluster_identity = models.CharField(max_length=20, blank=True)
    cluster_run = models.BigIntegerField(null=True, blank=True)
    plan_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the exported plan.")
    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"canary set {self.pk}"


class Canary(models.Model):
    """One canary: a fictitious fact or phrasing, unique in the record, with its hash.

    `normalised_sha256` is over the text as matching reads it (lowercase, punctuation and
    whitespace folded), so two canaries a match could not tell apart cannot both exist.
    """

    canary_id = models.CharField(max_length=40, unique=True)
    canary_set = models.ForeignKey(CanarySet, on_delete=models.PROTECT, related_name="canaries")
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    normalised_sha256 = models.CharField(max_length=64, unique=True)
    accounts = models.ManyToManyField(Account, through="CanaryAssignment", related_name="+")

    class Meta:
        ordering = ["canary_id"]
        verbose_name_plural = "canaries"

    def __str__(self) -> str:
        return self.canary_id


class CanaryAssignment(models.Model):
    """The plan: this canary is to be served to this account."""

    canary = models.ForeignKey(Canary, on_delete=models.PROTECT, related_name="assignments")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["canary", "account"], name="canary_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.canary_id} for {self.account_id}"


class CanaryServe(models.Model):
    """The gateway's log: the canary went out in this request to this account."""

    canary = models.ForeignKey(Canary, on_delete=models.PROTECT, related_name="serves")
    request_id = models.CharField(max_length=200)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    served_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="serves")

    class Meta:
        ordering = ["served_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["canary", "request_id"], name="canary_serve_unique")
        ]

    def __str__(self) -> str:
        return f"{self.canary_id} in {self.request_id}"


class CanaryMatch(models.Model):
    """A served canary found in a probe response: the accounts served it, tied to the target.

    `chance` is the estimated probability that the response would contain the canary by
    coincidence (`evidence.probes.canaries`, method stated in `method`).
    """

    canary = models.ForeignKey(Canary, on_delete=models.PROTECT, related_name="matches")
    exchange = models.ForeignKey(
        ProbeExchange, on_delete=models.PROTECT, related_name="canary_matches"
    )
    accounts = models.JSONField(help_text="Account ids the canary was served to.")
    serves = models.PositiveIntegerField()
    chance = models.FloatField()
    method = models.CharField(max_length=40)
    quote = models.TextField(help_text="The passage of the response that holds the canary.")
    content_sha256 = models.CharField(max_length=64)
    actor = models.CharField(max_length=150)
    matched_at = models.DateTimeField()

    class Meta:
        ordering = ["canary", "exchange"]
        constraints = [
            models.UniqueConstraint(fields=["canary", "exchange"], name="canary_match_unique"),
            models.CheckConstraint(
                condition=Q(chance__gte=0) & Q(chance__lte=1), name="canary_match_chance_range"
            ),
        ]
        verbose_name_plural = "canary matches"

    def __str__(self) -> str:
        return f"{self.canary_id} in probe {self.exchange_id}"
