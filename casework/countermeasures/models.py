"""Enforcement actions on a case, their hand-off to the platform, and indicator exchange.

An action is a decision with a life: proposed, approved (by a second person, a lawyer,
for the acts that end or block a customer), sent to the provider's platform, confirmed
by it, or reversed. Each step is a service that writes its ledger entry in the same
transaction (`casework.countermeasures.services`); the rows here hold the current state
and who moved it there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from casework.models import Case
from evidence.models import Account, Clause, Cluster


class EnforcementAction(models.Model):
    """What the provider does to the respondent's accounts, keys, cards or addresses."""

    class Kind(models.TextChoices):
        WARN = "warn", "Warning"
        RATE_LIMIT = "rate_limit", "Rate limit"
        REQUIRE_VERIFICATION = "require_verification", "Require verification"
        SUSPEND = "suspend", "Suspension"
        TERMINATE = "terminate", "Termination"
        REVOKE_KEYS = "revoke_keys", "Revocation of API keys"
        BLOCK_PAYMENT = "block_payment", "Block of a payment method"
        BLOCK_RANGE = "block_range", "Block of an address range"

    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        SENT = "sent", "Sent to the platform"
        CONFIRMED = "confirmed", "Confirmed by the platform"
        REVERSED = "reversed", "Reversed"

    # Acts that end the relationship or shut a customer out beyond its accounts: a second
    # person, who holds counsel's role, must approve them (proportionality is a legal call).
    SECOND_APPROVER_KINDS = frozenset({Kind.TERMINATE, Kind.BLOCK_PAYMENT, Kind.BLOCK_RANGE})

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="enforcement_actions")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    clause = models.ForeignKey(Clause, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(help_text="Why this action, on this clause, in plain words.")
    accounts = models.ManyToManyField(Account, blank=True, related_name="enforcement_actions")
    key_ids = models.JSONField(default=list, blank=True)
    payment_fingerprints = models.JSONField(default=list, blank=True)
    address_ranges = models.JSONField(default=list, blank=True)
    effective_at = models.DateTimeField()
    # People by foreign key, and by name as the ledger records them (a system process
    # such as the demo has no user row).
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_by_label = models.CharField(max_length=150)
    proposed_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_label = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_via = models.CharField(max_length=10, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    platform_reference = models.CharField(max_length=200, blank=True)
    reversed_by_label = models.CharField(max_length=150, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "proposed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="proposed") | Q(approved_at__isnull=False),
                name="enforcement_action_approved_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["sent", "confirmed"]) | Q(sent_at__isnull=False),
                name="enforcement_action_sent_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="reversed")
                | (Q(reversed_at__isnull=False) & ~Q(reversal_reason="")),
                name="enforcement_action_reversal_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["terminate", "block_payment", "block_range"])
                | Q(approved_by__isnull=True)
                | ~Q(approved_by=models.F("proposed_by")),
                name="enforcement_action_second_approver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case.reference} ({self.state})"

    @property
    def needs_second_approver(self) -> bool:
        return self.kind in self.SECOND_APPROVER_KINDS


class ActionHandoff(models.Model):
    """One transition of an action handed to the platform by webhook, and what it said.

    The idempotency key is stable per action and transition, so a retried or repeated
    delivery is one act at the platform; the platform's confirmation (its reference for
    the act) is kept as it answered.
    """

    class Transition(models.TextChoices):
        SEND = "send", "Carry out"
        REVERSE = "reverse", "Undo"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    action = models.ForeignKey(EnforcementAction, on_delete=models.PROTECT, related_name="handoffs")
    transition = models.CharField(max_length=10, choices=Transition.choices)
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True)
    confirmation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["action", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "transition"], name="action_handoff_one_per_transition"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transition} of action {self.action_id} ({self.status})"


class SharingPartner(models.Model):
    """Another provider, cloud or authority the provider exchanges indicators with.

    Personal identifiers leave only as HMAC-SHA256 under the key agreed with this partner
    (each side holds the same key, handed over out of band), so the partner can match
    them against its own customers but not read them, and no third party holding the
    bundle can do either. The key is never written into a bundle or the ledger; its
    `key_id` (a digest prefix) lets both sides see they hold the same key.
    """

    name = models.CharField(max_length=100, unique=True)
    sharing_key = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sharing_key__regex=r"^[0-9a-f]{64}$"), name="sharing_key_256_bit_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (key {self.key_id})"


class IndicatorExchange(models.Model):
    """One bundle of indicators sent to or received from a partner, kept as it was shared:
    what was shared with whom (or received from whom) is itself part of the record."""

    class Direction(models.TextChoices):
        EXPORT = "export", "Shared with the partner"
        IMPORT = "import", "Received from the partner"

    partner = models.ForeignKey(SharingPartner, on_delete=models.PROTECT, related_name="exchanges")
    direction = models.CharField(max_length=6, choices=Direction.choices)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tlp = models.CharField(max_length=10, blank=True)
    file_name = models.CharField(max_length=500)
    bundle_sha256 = models.CharField(max_length=64)
    bundle = models.TextField()
    counts = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=150)
    exchanged_at = models.DateTimeField()

    class Meta:
        ordering = ["-exchanged_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="import") | Q(cluster__isnull=False),
                name="indicator_export_has_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} with {self.partner.name} ({self.bundle_sha256[:12]})"


class IndicatorMatch(models.Model):
    """An account of the record matched by a partner's indicator: "seen at partner X".

    A finding about the account from outside the detectors (so not a detection `Finding`,
    which belongs to a run): the indicator, its kind and the value matched (a keyed hash
    or an address range, never a clear identifier; for a prompt family, how many of its
    LSH bands the account's closest opening shares) and the bundle it came in.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "Email address (keyed hash)"
        PAYMENT = "payment", "Payment fingerprint (keyed hash)"
        REQUEST_SHAPE = "request_shape", "Request shape (keyed hash)"
        ADDRESS_RANGE = "address_range", "Address range"
        PROMPT_FAMILY = "prompt_family", "Prompt family (keyed band keys)"

    exchange = models.ForeignKey(
        IndicatorExchange, on_delete=models.PROTECT, related_name="matches"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="indicator_matches")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    indicator_id = models.CharField(max_length=100)
    value = models.CharField(max_length=100)
    matched_at = models.DateTimeField()

    class Meta:
        ordering = ["exchange", "account", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "account", "indicator_id"], name="indicator_match_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} seen at {self.exchange.partner.name} ({self.kind})"


class Notice(models.Model):
    """A letter to the respondent generated from the case, signed and sent by email.

    Whether the customer was told, of what, on which clauses and with how long to cure is
    itself part of the case (was termination proportionate?), so the letter is kept as the
    signed PDF that left (an evidence file) beside when and how it was handed over, and the
    deadline it set, which the case owner is reminded of once.
    """

    class Kind(models.TextChoices):
        BREACH = "breach", "Notice of breach"
        TERMINATION = "termination", "Notice of termination"
        CEASE_AND_DESIST = "cease_and_desist", "Cease-and-desist letter"
        PRESERVATION = "preservation", "Preservation (litigation hold) letter"

    class Delivery(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENT = "sent", "Handed to the mail server"
        FAILED = "failed", "Sending failed"

    class Deadline(models.TextChoices):
        CURE = "cure", "Cure period ends"
        RESPONSE = "response", "Response due"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    recipient = models.EmailField()
    respondent = models.CharField(max_length=300)
    # The clauses quoted, each the version the allegation rests on (in force at the time).
    clauses = models.ManyToManyField(Clause, blank=True, related_name="+")
    # The enforcement actions the letter gives notice of.
    actions = models.ManyToManyField(EnforcementAction, blank=True, related_name="notices")
    cure_days = models.PositiveSmallIntegerField(null=True, blank=True)
    deadline_kind = models.CharField(max_length=10, choices=Deadline.choices, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    pdf = models.ForeignKey(
        "evidence.EvidenceItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_by_label = models.CharField(max_length=150)
    issued_at = models.DateTimeField()
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.PENDING)
    delivery_backend = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.TextField(blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "issued_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(deadline_kind="") & Q(deadline_at__isnull=True))
                | (~Q(deadline_kind="") & Q(deadline_at__isnull=False)),
                name="notice_deadline_has_kind_and_time",
            ),
            models.CheckConstraint(
                condition=Q(kind="breach") | Q(cure_days__isnull=True),
                name="notice_cure_period_on_breach_only",
            ),
            models.CheckConstraint(
                condition=~Q(delivery="sent") | Q(delivered_at__isnull=False),
                name="notice_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["deadline_at"],
                condition=Q(reminded_at__isnull=True, deadline_at__isnull=False),
                name="notice_deadline_unreminded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case.reference} to {self.recipient}"

    @property
    def reference(self) -> str:
        """How the letter names itself, and a reply can quote it."""
        return f"{self.case.reference}/N{self.pk}"
