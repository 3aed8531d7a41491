"""The record: what the provider's systems say happened, kept as evidence.

Rows here are business records (FRE 803(6)) or the provenance of them. They are never
edited through the app: a correction is a new row or a ledger entry. Each row that came
from a file carries its ingest batch and a SHA-256 of its own canonical content, so a
change behind the app's back is caught by verification.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ClauseCategory(models.TextChoices):
    """The kinds of term a distillation or obfuscation case is argued under."""

    COMPETING_MODELS = "competing_models", "Competing models"
    OUTPUT_EXTRACTION = "output_extraction", "Output extraction"
    LIMIT_CIRCUMVENTION = "limit_circumvention", "Circumvention of limits"
    KEY_TRANSFER = "key_transfer", "Key transfer / resale"
    ACCOUNT_SHARING = "account_sharing", "Account sharing"
    REGION = "region", "Region"
    OTHER = "other", "Other"
    # The classifier was not sure: counsel decides. No detector supports it, so an
    # allegation under an uncategorised clause shows no support until counsel sets one.
    UNCATEGORISED = "uncategorised", "Uncategorised"


class ClauseKind(models.TextChoices):
    """What a stretch of the Terms is: only operative text can be breached.

    Titles, headings, preambles and definitions are kept (the text is evidence and the
    version's hash covers it) but are not offered as clauses to allege.
    """

    OPERATIVE = "operative", "Operative"
    TITLE = "title", "Document title"
    HEADING = "heading", "Heading"
    PREAMBLE = "preamble", "Preamble"
    DEFINITION = "definition", "Definition"


class TermsDocument(models.Model):
    """A contract the provider offers, e.g. the services agreement or usage policy."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title


class TermsVersion(models.Model):
    """One version of a Terms document, as published, with the hash of its text."""

    document = models.ForeignKey(TermsDocument, on_delete=models.PROTECT, related_name="versions")
    label = models.CharField(max_length=50)
    effective_date = models.DateField()
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    source_url = models.URLField(blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["document", "effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "label"], name="terms_version_unique_label"
            ),
            models.CheckConstraint(
                condition=Q(text_sha256__regex=r"^[0-9a-f]{64}$"), name="terms_version_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.slug} {self.label}"


class Clause(models.Model):
    """A clause of a Terms version, quoted verbatim (courts quote the text as agreed)."""

    version = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="clauses")
    path = models.CharField(max_length=200, help_text="Structural path, e.g. 3.3(e) or D.4(a).")
    heading = models.CharField(max_length=500, blank=True)
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    # The category allegations are argued under: the classifier's suggestion until
    # counsel corrects it (each correction, with its reason, is in the ledger).
    category = models.CharField(
        max_length=32, choices=ClauseCategory.choices, default=ClauseCategory.OTHER
    )
    # The classifier's suggestion at import, kept beside counsel's correction.
    category_suggested = models.CharField(
        max_length=32, choices=ClauseCategory.choices, default=ClauseCategory.UNCATEGORISED
    )
    kind = models.CharField(max_length=16, choices=ClauseKind.choices, default=ClauseKind.OPERATIVE)
    position = models.PositiveIntegerField()
    # The first clause with this path and text: unchanged clauses across versions are "the
    # same clause", so an allegation can say the term was in force throughout.
    same_as = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="later_versions"
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="clause_unique_path"),
            models.CheckConstraint(
                condition=Q(text_sha256__regex=r"^[0-9a-f]{64}$"), name="clause_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} §{self.path}"

    @property
    def operative(self) -> bool:
        return self.kind == ClauseKind.OPERATIVE


class IngestBatch(models.Model):
    """One file (or upload) taken into the record, with the hash of its bytes as received."""

    class Kind(models.TextChoices):
        ACCOUNTS = "accounts", "Accounts"
        USAGE = "usage", "Usage events"
        ASSENT = "assent", "Assent records"
        TERMS = "terms", "Terms"
        PROBES = "probes", "Probe transcripts"
        SERVES = "serves", "Canary serve log"
        BILLING = "billing", "Billing and payment records"

    class Source(models.TextChoices):
        CLI = "cli", "Command line"
        API = "api", "REST API"
        DEMO = "demo", "Demo seed"
        WEB = "web", "Web upload"

    class Status(models.TextChoices):
        COMMITTED = "committed", "Committed"
        REJECTED = "rejected", "Rejected (strict mode)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    format = models.CharField(max_length=16)
    file_name = models.CharField(max_length=500)
    raw_sha256 = models.CharField(max_length=64)
    raw_size = models.BigIntegerField()
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    collector_label = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    accepted = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    # SHA-256 over the row hashes of the rows this batch added, in insertion order.
    rows_digest = models.CharField(max_length=64, blank=True)
    rejects_file = models.ForeignKey(
        "EvidenceItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted__gte=0) & Q(duplicates__gte=0) & Q(rejected__gte=0),
                name="ingest_batch_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(raw_sha256__regex=r"^[0-9a-f]{64}$"), name="ingest_batch_sha256_hex"
            ),
        ]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"{self.kind} batch {self.pk} ({self.file_name})"


class Account(models.Model):
    """An API account at the provider, as its account system records it."""

    account_id = models.CharField(max_length=100, unique=True)
    org_name = models.CharField(max_length=300, blank=True)
    email = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(
        null=True, blank=True, help_text="Sign-up time at the provider."
    )
    country = models.CharField(max_length=2, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)
    payment_fingerprint = models.CharField(max_length=200, blank=True)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_user_agent = models.TextField(blank=True)
    plan = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=50, blank=True)
    reseller = models.BooleanField(default=False)
    # Known only because usage named it; a later accounts file fills the profile in.
    seen_only_in_usage = models.BooleanField(default=False)
    content_sha256 = models.CharField(max_length=64, blank=True)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id"]
        indexes = [
            models.Index(fields=["payment_fingerprint"], name="account_payment_fp"),
            # Search by address (casework.search): `<<=` reads a btree on inet as a range.
            models.Index(fields=["signup_ip"], name="account_signup_ip"),
        ]

    def __str__(self) -> str:
        return self.account_id


class AccountVersion(models.Model):
    """One version of an account's profile, as an accounts file gave it; never changed.

    An account's profile changes legitimately (a card replaced, an account suspended), and
    each change is a fact with a date that a case may rest on ("the card was swapped the
    week the first account was suspended"). So every version an ingest recorded is kept
    here, append-only in the database (migration 0100); `Account` holds the latest one.
    The batch's digest (and its ledger entry) covers the versions it recorded, in order.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(help_text="1 for the first profile, then 2, 3, ...")
    org_name = models.CharField(max_length=300, blank=True)
    email = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)
    payment_fingerprint = models.CharField(max_length=200, blank=True)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_user_agent = models.TextField(blank=True)
    plan = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=50, blank=True)
    reseller = models.BooleanField(default=False)
    content_sha256 = models.CharField(max_length=64)
    # Null only for profiles recorded before versions were kept and not by a file.
    batch = models.ForeignKey(
        IngestBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account_versions",
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "version"]
        indexes = [models.Index(fields=["signup_ip"], name="account_version_signup_ip")]
        constraints = [
            models.UniqueConstraint(fields=["account", "version"], name="account_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="account_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} version {self.version}"


class ApiKey(models.Model):
    """An API key the provider issued; usage rows name it by `api_key_id`."""

    key_id = models.CharField(max_length=100, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["key_id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.key_id


class AssentRecord(models.Model):
    """The account accepted a Terms version: the formation element of the contract claim."""

    class Method(models.TextChoices):
        CLICKWRAP = "clickwrap", "Clickwrap"
        SIGN_IN = "sign-in", "Sign-in wrap"
        BROWSEWRAP = "browsewrap", "Browsewrap"
        ENTERPRISE_ORDER = "enterprise-order", "Signed order form"
        OTHER = "other", "Other"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="assents")
    # The document and version as the record names them, kept even if that version has not
    # been imported yet; `terms_version` links it once it has.
    terms_slug = models.CharField(max_length=100)
    version_label = models.CharField(max_length=50)
    terms_version = models.ForeignKey(
        TermsVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="assents"
    )
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    method = models.CharField(max_length=20, choices=Method.choices)
    flow_id = models.CharField(max_length=100, blank=True)
    screenshot_sha256 = models.CharField(max_length=64, blank=True)
    content_sha256 = models.CharField(max_length=64)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="assents"
    )

    class Meta:
        ordering = ["account", "accepted_at"]
        indexes = [models.Index(fields=["ip"], name="assent_ip")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "terms_slug", "version_label", "accepted_at"],
                name="assent_unique_acceptance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} accepted {self.terms_slug} {self.version_label}"


class UsageEvent(models.Model):
    """One API request: the raw business record that distillation is proven from.

    Loaded by COPY; the column set is kept lean because a provider's logs run to millions
    of rows a day. `row_sha256` is the hash of the row's canonical content
    (`evidence.custody.canonical.usage_row_sha256`), and the batch's digest is over those hashes.
    """

    request_id = models.CharField(max_length=200)
    ts = models.DateTimeField()
    # Indexed by (account, ts) and by address below; no index of its own, each index
    # costs COPY speed.
    # No database FK either: a per-row FK check would halve COPY throughput and forbid
    # streaming. Ingest creates the account (or a stub) in the same transaction, and
    # verification reports any usage row whose account is missing.
    account = models.ForeignKey(
        Account,
        to_field="account_id",
        db_column="account_id",
        on_delete=models.PROTECT,
        related_name="usage_events",
        db_index=False,
        db_constraint=False,
    )
    api_key_id = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100)
    endpoint = models.CharField(max_length=200, blank=True)
    input_tokens = models.IntegerField()
    output_tokens = models.IntegerField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    end_user = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    prompt_sha256 = models.CharField(max_length=64, blank=True)
    # Numbers, quoted strings, ids and whitespace masked, then hashed: equal keys mean the
    # same prompt template filled with different values.
    prompt_template_key = models.CharField(max_length=32, blank=True)
    prompt_excerpt = models.CharField(max_length=300, blank=True)
    prompt_text = models.TextField(blank=True)
    status = models.SmallIntegerField(null=True, blank=True)
    # No database FK on the batch either. Django makes it DEFERRABLE INITIALLY DEFERRED, so
    # PostgreSQL queues one check per row and runs a million of them at COMMIT, one after
    # another, after the load itself: ~15% of a large ingest, and backend memory that grows
    # with the file. Ingest creates the batch in the same transaction before any row;
    # deleting a batch that still has rows is refused by a trigger (migration 0006), as the
    # FK did; and verification reports rows whose batch is not on record.
    batch = models.ForeignKey(
        IngestBatch,
        on_delete=models.PROTECT,
        related_name="usage_events",
        db_constraint=False,
        db_index=False,
    )
    row_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["ts", "id"]
        indexes = [
            models.Index(fields=["account", "ts"], name="usage_account_ts"),
            # Search by address must not read the whole log (issue #20: 677 ms under load);
            # one more index on COPY's path, the price of finding every account an address
            # touched.
            models.Index(fields=["source_ip"], name="usage_source_ip"),
        ]
        constraints = [
            # A constraint rather than unique=True: Django would add a second (LIKE) index.
            models.UniqueConstraint(fields=["request_id"], name="usage_unique_request_id"),
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0) & Q(output_tokens__gte=0),
                name="usage_tokens_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.request_id


class EvidenceItem(models.Model):
    """A file kept as evidence: a rejects log, a screenshot, a report PDF, an exhibit."""

    class Kind(models.TextChoices):
        RAW_UPLOAD = "raw_upload", "Raw upload"
        INGEST_REJECTS = "ingest_rejects", "Rejected ingest lines"
        SCREENSHOT = "screenshot", "Screenshot"
        SIGNUP_FLOW = "signup_flow", "Archived sign-up flow"
        REPORT_PDF = "report_pdf", "Report PDF"
        EXHIBIT = "exhibit", "Exhibit"
        MANIFEST = "manifest", "Report manifest"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(upload_to="evidence/%Y/%m/", max_length=500)
    file_name = models.CharField(max_length=300, help_text="The name a reader knows it by.")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    source = models.CharField(max_length=300, help_text="Where the file came from.")
    description = models.TextField(blank=True)
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    collector_label = models.CharField(max_length=150)
    collected_at = models.DateTimeField()

    class Meta:
        ordering = ["-collected_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="evidence_item_sha256_hex"
            ),
            models.CheckConstraint(
                condition=Q(size__gte=0), name="evidence_item_size_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.sha256[:12]})"


class LedgerEntry(models.Model):
    """One act on evidence, chained to the one before it by hash.

    Append-only: a trigger created by migration refuses UPDATE and DELETE, and each entry's
    hash covers the previous entry's hash, so a change anywhere breaks every later link.
    The actor is kept as text (and id) rather than a foreign key so that removing a user can
    never require rewriting history.
    """

    class Action(models.TextChoices):
        COLLECTED = "collected", "Collected"
        INGESTED = "ingested", "Ingested"
        IMPORTED = "imported", "Imported"
        DETECTED = "detected", "Detected"
        LINKED = "linked", "Linked"
        CREATED = "created", "Created"
        ALLEGED = "alleged", "Allegation added"
        NOTED = "noted", "Note added"
        CHANGED = "changed", "Changed"
        VIEWED = "viewed", "Viewed"
        EXPORTED = "exported", "Exported"
        VERIFIED = "verified", "Verified"
        HELD = "held", "Placed on legal hold"
        RELEASED = "released", "Released from legal hold"
        PURGED = "purged", "Purged under retention"
        TIMESTAMPED = "timestamped", "Timestamped"

    seq = models.BigIntegerField(unique=True)
    recorded_at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=200)
    object_sha256 = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="ledger_object")]
        constraints = [
            models.CheckConstraint(condition=Q(seq__gte=1), name="ledger_seq_positive"),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"
