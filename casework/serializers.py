"""The case side's API documents: what a client sends (validated here, acted on by services)
and what it gets back. Access is not decided here: selectors and services do that."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casework.models import (
    Allegation,
    Case,
    CaseAccount,
    CaseAccountBasis,
    CaseNote,
    CaseOutputEvidence,
    ProductionJob,
    ReportEdition,
    ReportJob,
    ReportReview,
)
from casework.permissions import case_role_of
from evidence.api import (
    MAX_ID,
    Rfc3339Field,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from evidence.models import LedgerEntry

# As the case pages require: the reference is a URL segment and a file-name stem.
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,49}$"


class CaseSerializer(serializers.ModelSerializer):
    opened_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    role = serializers.SerializerMethodField(help_text="The requesting user's role on the case.")

    class Meta:
        model = Case
        fields = [
            "reference",
            "title",
            "respondent",
            "status",
            "privileged",
            "legal_hold",
            "legal_hold_since",
            "window_start",
            "window_end",
            "opened_by",
            "opened_at",
            "role",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_role(self, case: Case) -> str | None:
        request = self.context.get("request")
        return case_role_of(request.user, case) if request else None


class CaseOpenSerializer(serializers.Serializer):
    reference = StrictCharField(
        pattern=REFERENCE_PATTERN,
        max_length=50,
        help_text="2-50 letters, digits, dots, dashes or underscores, e.g. PACTA-2026-001.",
    )
    title = StrictCharField(max_length=300)
    respondent = StrictCharField(max_length=300)
    window_start = Rfc3339Field(required=False, allow_null=True, default=None)
    window_end = Rfc3339Field(
        required=False, allow_null=True, default=None, help_text="Not before window_start."
    )
    privileged = StrictBooleanField(required=False, default=True)

    def validate(self, data: dict) -> dict:
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"window_end": ["The case window must not end before it starts."]}
            )
        return data


class FurtherBasisSerializer(serializers.ModelSerializer):
    attributed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseAccountBasis
        fields = ["basis", "basis_detail", "attributed_by", "attributed_at"]
        read_only_fields = fields


class CaseAccountSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="account_id", read_only=True)
    attributed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    further_bases = FurtherBasisSerializer(
        many=True,
        read_only=True,
        help_text="Bases given after the first (which is `basis`), oldest first.",
    )

    class Meta:
        model = CaseAccount
        fields = [
            "account",
            "basis",
            "basis_detail",
            "attributed_by",
            "attributed_at",
            "further_bases",
        ]
        read_only_fields = fields


class AttributeSerializer(serializers.Serializer):
    accounts = serializers.ListField(
        child=StrictCharField(max_length=100),
        min_length=1,
        max_length=10_000,
        help_text="Account ids (account_id) to attribute to the respondent.",
    )
    basis = serializers.ChoiceField(choices=CaseAccount.Basis.choices)
    detail = StrictCharField(
        pattern=None, required=False, allow_blank=True, default="", max_length=2000
    )


class AttributedSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Accounts newly attributed by this request.")
    basis_added = serializers.IntegerField(
        help_text="Accounts already attributed that gained this basis beside their first."
    )
    unchanged = serializers.IntegerField(
        help_text="Accounts already attributed on this same basis and detail: nothing added."
    )
    attributed = serializers.IntegerField(help_text="Accounts attributed to the case in all.")


class AllegationSerializer(serializers.ModelSerializer):
    clause = serializers.IntegerField(source="clause_id", read_only=True)
    document = serializers.CharField(source="clause.version.document.slug", read_only=True)
    version = serializers.CharField(source="clause.version.label", read_only=True)
    path = serializers.CharField(source="clause.path", read_only=True)
    clause_sha256 = serializers.CharField(source="clause.text_sha256", read_only=True)
    supporting_evidence = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Allegation
        fields = [
            "id",
            "clause",
            "document",
            "version",
            "path",
            "clause_sha256",
            "theory",
            "supporting_evidence",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AllegationCreateSerializer(serializers.Serializer):
    clause = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="The clause's id (GET /api/v1/clauses/)."
    )
    theory = StrictCharField(
        max_length=20_000,
        help_text="The conduct, in plain words, and why it breaches the clause.",
    )
    evidence_items = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=1000,
        help_text="Evidence files that support it, by id: the case's own report files, "
        "files already cited in it, or files of the record (such as ingest rejects).",
    )


class OutputEvidenceSerializer(serializers.ModelSerializer):
    batch = serializers.IntegerField(
        source="batch_id", read_only=True, allow_null=True, help_text="A probe batch's id."
    )
    canary_match = serializers.IntegerField(
        source="canary_match_id", read_only=True, allow_null=True, help_text="A match's id."
    )

    class Meta:
        model = CaseOutputEvidence
        fields = ["id", "kind", "batch", "target", "names", "canary_match", "actor", "attached_at"]
        read_only_fields = fields


class OutputEvidenceAttachSerializer(serializers.Serializer):
    probe_batches = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=1000,
        help_text="Ingest batch ids of probe transcripts (`ingest probes`).",
    )
    claim_targets = serializers.ListField(
        child=StrictCharField(max_length=200),
        required=False,
        default=list,
        max_length=100,
        help_text="Probed targets whose identity claims the case counts, as named in the "
        "transcripts; each must have suspect transcripts in the case's probe batches.",
    )
    canary_matches = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=1000,
        help_text="Canary match ids (`canary_match`).",
    )
    names = serializers.ListField(
        child=StrictCharField(max_length=200),
        required=False,
        allow_null=True,
        default=None,
        max_length=100,
        help_text="The provider names the claims are counted with; PACTA_PROVIDER_NAMES "
        "when left out.",
    )

    def validate(self, attrs):
        if not (attrs["probe_batches"] or attrs["claim_targets"] or attrs["canary_matches"]):
            raise serializers.ValidationError("Name a probe batch, a target or a canary match.")
        return attrs


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class NoteCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=20_000)


class ReportJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    pdf = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The PDF's evidence item, once done."
    )

    class Meta:
        model = ReportJob
        fields = [
            "id",
            "edition",
            "status",
            "stage",
            "percent",
            "failure_reason",
            "snapshot_sha256",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "pdf",
            "final",
            "draft",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "final": {"help_text": "False: a draft, for review; true: the final report."},
            "draft": {"help_text": "The approved draft a final report was built from."},
        }


class ReportRequestSerializer(serializers.Serializer):
    edition = serializers.ChoiceField(choices=ReportEdition.choices)


class ReportReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReportReview
        fields = ["id", "job", "reviewer", "role", "scope", "decision", "comment", "at"]
        read_only_fields = fields


class DeclarantSerializer(serializers.Serializer):
    """The custodian who declares a case's final reports: all four, or all blank to use the
    settings (PACTA_REPORT_DECLARANT_*)."""

    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    title = StrictCharField(required=False, allow_blank=True, max_length=200)
    organisation = StrictCharField(required=False, allow_blank=True, max_length=200)
    place = StrictCharField(required=False, allow_blank=True, max_length=200)


class ReportReviewCreateSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReportReview.Decision.choices)
    comment = StrictCharField(
        required=False, allow_blank=True, max_length=5000, help_text="Required to reject."
    )


class ProductionJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    zip_name = serializers.SerializerMethodField(help_text="The zip's file name, once done.")

    class Meta:
        model = ProductionJob
        fields = [
            "id",
            "edition",
            "page_size",
            "max_file_mb",
            "status",
            "stage",
            "percent",
            "failure_reason",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "zip_name",
            "zip_sha256",
            "zip_size",
            "manifest_sha256",
            "zip_removed_at",
        ]
        read_only_fields = fields

    def get_zip_name(self, job: ProductionJob) -> str | None:
        return job.zip_name if job.zip_path else None


class ProductionFileSerializer(serializers.Serializer):
    """One file of a production as its manifest lists it, and where to download it."""

    path = serializers.CharField(help_text="Relative to the production's folder.")
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(allow_null=True, help_text="None once the zip was removed.")


class ProductionFilesSerializer(serializers.Serializer):
    production = serializers.IntegerField()
    manifest_sha256 = serializers.CharField()
    zip_removed_at = serializers.DateTimeField(allow_null=True)
    files = ProductionFileSerializer(many=True)


class ProductionRequestSerializer(serializers.Serializer):
    edition = serializers.ChoiceField(choices=ReportEdition.choices)
    page_size = serializers.ChoiceField(
        choices=ProductionJob.PageSize.choices, default=ProductionJob.PageSize.LETTER
    )
    max_file_mb = serializers.DecimalField(
        max_digits=6,
        decimal_places=1,
        min_value=Decimal("0.1"),
        max_value=10000,
        default=35,
        help_text="The largest file the production may hold, in (decimal) megabytes: the "
        "court's per-file limit.",
    )


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "seq",
            "recorded_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_sha256",
            "details",
            "prev_hash",
            "entry_hash",
        ]
        read_only_fields = fields
