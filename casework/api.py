"""The case side's REST API (/api/v1/): cases, their accounts, allegations, notes, reports and
ledger entries. (The schema, tokens and the error shape are `casework.api_platform`'s.)

Views are thin: they parse, call one selector or service, serialize. A case is always
found through `case_get`, so a non-member gets 404 exactly as in the UI; a write under a
case is checked against the member's role (`casework.permissions`, 403) before its body
is read, and again by the service that performs it. Tokens need `read` for GET and `write` for
POST (`casework.api_platform.auth`); people signed in are not scope-limited.
"""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from casework import services
from casework.elements_live import case_allegation_elements
from casework.models import (
    Allegation,
    Case,
    CaseAccount,
    CaseNote,
    CaseOutputEvidence,
    ReportJob,
    ReportReview,
)
from casework.permissions import ALLEGE, MANAGE, NOTE, REPORT, case_require
from casework.selectors import (
    LEDGER_OBJECT_TYPES,
    case_accounts,
    case_allegation_get,
    case_allegations,
    case_get,
    case_list,
    case_notes,
    case_output_evidence,
    case_report_job_get,
    case_report_jobs,
    ledger_entries_for,
    report_job_exhibits,
    report_job_pdf,
    report_job_reviews,
)
from casework.serializers import (
    AllegationCreateSerializer,
    AllegationSerializer,
    AttributedSerializer,
    AttributeSerializer,
    CaseAccountSerializer,
    CaseOpenSerializer,
    CaseSerializer,
    DeclarantSerializer,
    LedgerEntrySerializer,
    NoteCreateSerializer,
    NoteSerializer,
    OutputEvidenceAttachSerializer,
    OutputEvidenceSerializer,
    ReportJobSerializer,
    ReportRequestSerializer,
    ReportReviewCreateSerializer,
    ReportReviewSerializer,
)
from casework.serializers_elements import AllegationDetailSerializer
from evidence.api import RecordPagination, api_errors
from evidence.models import EvidenceItem, LedgerEntry
from evidence.selectors import account_list, clause_get

# --- Helpers -----------------------------------------------------------------------------


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _case(request, reference: str) -> Case:
    return case_get(user=request.user, reference=reference)


# A write under a case: its body may be refused (400), its case unknown (404), its role
# insufficient (403), its media type unsupported (415).
WRITE_ERRORS = (400, 404, 415)


class CaseConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object already exists."


# --- Cases -------------------------------------------------------------------------------


class CaseListView(generics.ListAPIView):
    serializer_class = CaseSerializer
    queryset = Case.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        return case_list(user=self.request.user).select_related("opened_by")

    @extend_schema(tags=["cases"], responses={200: CaseSerializer(many=True), **api_errors(400)})
    def get(self, request, *args, **kwargs):
        """The cases the user may open (their members; superusers see all), newest first."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["cases"],
        request=CaseOpenSerializer,
        responses={201: CaseSerializer, **api_errors(400, 409, 415)},
    )
    def post(self, request) -> Response:
        """Open a case; the user who opens it owns it. Admins, counsel and investigators
        open cases (others: 403); a reference already in use is a 409."""
        data = _validated(CaseOpenSerializer, request)
        try:
            case = services.case_open(actor=request.user, **data)
        except services.CaseError as exc:
            raise CaseConflict(str(exc)) from exc
        location = reverse("casework_api:case-detail", kwargs={"reference": case.reference})
        body = CaseSerializer(case, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


@extend_schema(tags=["cases"], responses={200: CaseSerializer, **api_errors(404)})
class CaseDetailView(APIView):
    """One case. Reading it is recorded in the ledger, as opening its page is."""

    required_scopes = "read"

    def get(self, request, reference: str) -> Response:
        case = _case(request, reference)
        services.case_viewed(actor=request.user, case=case, page="api")
        return Response(CaseSerializer(case, context={"request": request}).data)


class CaseAccountListView(generics.ListAPIView):
    serializer_class = CaseAccountSerializer
    queryset = CaseAccount.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_accounts(user=self.request.user, case=case)

    @extend_schema(
        tags=["cases"], responses={200: CaseAccountSerializer(many=True), **api_errors(400, 404)}
    )
    def get(self, request, *args, **kwargs):
        """The accounts attributed to the respondent, with the basis of each attribution."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["cases"],
        request=AttributeSerializer,
        responses={201: AttributedSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str) -> Response:
        """Attribute accounts to the respondent (roles that may note: owner, counsel,
        investigator). An account already attributed keeps its first basis and gains this
        one beside it (listed on the case page); an unknown account id is a 400 naming it."""
        case = _case(request, reference)
        case_require(request.user, case, NOTE)
        data = _validated(AttributeSerializer, request)
        wanted = list(dict.fromkeys(data["accounts"]))
        accounts = list(account_list(user=request.user).filter(account_id__in=wanted))
        missing = sorted(set(wanted) - {account.account_id for account in accounts})
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise exceptions.ValidationError({"accounts": [f"Unknown account(s): {shown}"]})
        attribution = services.case_accounts_attribute(
            actor=request.user,
            case=case,
            accounts=accounts,
            basis=data["basis"],
            detail=data["detail"],
        )
        body = {
            "added": attribution.added,
            "basis_added": attribution.basis_added,
            "unchanged": attribution.unchanged,
            "attributed": case.case_accounts.count(),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AllegationListView(generics.ListAPIView):
    serializer_class = AllegationSerializer
    queryset = Allegation.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_allegations(user=self.request.user, case=case)

    @extend_schema(
        tags=["cases"], responses={200: AllegationSerializer(many=True), **api_errors(400, 404)}
    )
    def get(self, request, *args, **kwargs):
        """The case's allegations: each names the clause breached, quoted from its version."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["cases"],
        request=AllegationCreateSerializer,
        responses={201: AllegationSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str) -> Response:
        """Allege that conduct breaches a clause (owner and counsel). The clause is named by
        id (`/api/v1/clauses/`); supporting files by evidence item id, each one the user
        already reaches through this case (its report files, files already cited in it)
        or a file of the record (such as ingest rejects): any other id is a 400 naming it.
        Each citation is written to the ledger under the file."""
        case = _case(request, reference)
        case_require(request.user, case, ALLEGE)
        data = _validated(AllegationCreateSerializer, request)
        try:
            clause = clause_get(user=request.user, pk=data["clause"])
        except Http404 as exc:  # in a body, an unknown id is a bad field, not a lost page
            raise exceptions.ValidationError({"clause": ["No clause has this id."]}) from exc
        try:
            allegation = services.allegation_add(
                actor=request.user,
                case=case,
                clause=clause,
                theory=data["theory"],
                evidence_item_ids=data["evidence_items"],
            )
        except services.CaseError as exc:
            raise exceptions.ValidationError({exc.field or "theory": [str(exc)]}) from exc
        allegation = case_allegation_get(user=request.user, case=case, pk=allegation.pk)
        return Response(AllegationSerializer(allegation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["cases"], responses={200: AllegationDetailSerializer, **api_errors(404)})
class AllegationDetailView(APIView):
    """One allegation of the case, with its elements checklist: each element of the claim
    supported or not, the exhibit rows behind it, its flags and the case's."""

    required_scopes = "read"

    def get(self, request, reference: str, pk: int) -> Response:
        case = _case(request, reference)
        allegation = case_allegation_get(user=request.user, case=case, pk=pk)
        checklist = case_allegation_elements(user=request.user, case=case, pk=allegation.pk)
        return Response(
            {
                **AllegationSerializer(allegation).data,
                **{k: checklist[k] for k in ("elements", "flags", "case_flags")},
            }
        )


class NoteListView(generics.ListAPIView):
    serializer_class = NoteSerializer
    queryset = CaseNote.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_notes(user=self.request.user, case=case)

    @extend_schema(
        tags=["cases"], responses={200: NoteSerializer(many=True), **api_errors(400, 404)}
    )
    def get(self, request, *args, **kwargs):
        """The case's notes, oldest first (attorney work product: members only)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["cases"],
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str) -> Response:
        """Add a note (owner, counsel, investigator)."""
        case = _case(request, reference)
        case_require(request.user, case, NOTE)
        data = _validated(NoteCreateSerializer, request)
        try:
            note = services.note_add(actor=request.user, case=case, text=data["text"])
        except services.CaseError as exc:
            raise exceptions.ValidationError({"text": [str(exc)]}) from exc
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class OutputEvidenceListView(generics.ListAPIView):
    serializer_class = OutputEvidenceSerializer
    queryset = CaseOutputEvidence.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_output_evidence(user=self.request.user, case=case)

    @extend_schema(
        tags=["cases"],
        responses={200: OutputEvidenceSerializer(many=True), **api_errors(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        """The evidence that the outputs were used, attached to the case: probe batches,
        targets whose identity claims are counted (with the names), canary matches."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["cases"],
        request=OutputEvidenceAttachSerializer,
        responses={
            201: OutputEvidenceSerializer(many=True),
            200: OutputEvidenceSerializer(many=True),
            **api_errors(*WRITE_ERRORS),
        },
    )
    def post(self, request, reference: str) -> Response:
        """Attach probe batches, targets' identity claims and canary matches to the case
        (owner, counsel, investigator, who also read the record). Returns what is newly
        attached (201), or an empty list (200) when the case already held all of it; an
        unknown id or a target without transcripts in the case's batches is a 400 naming
        it. Each attachment is written to the ledger under the case."""
        case = _case(request, reference)
        case_require(request.user, case, NOTE)
        data = _validated(OutputEvidenceAttachSerializer, request)
        try:
            attached = services.case_output_evidence_attach(actor=request.user, case=case, **data)
        except services.CaseError as exc:
            raise exceptions.ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc
        return Response(
            OutputEvidenceSerializer(attached, many=True).data,
            status=status.HTTP_201_CREATED if attached else status.HTTP_200_OK,
        )


# --- Reports -----------------------------------------------------------------------------


def _report_job_accepted(case: Case, job: ReportJob) -> Response:
    """202 with the job, and its URL to poll in `Location`."""
    location = reverse(
        "casework_api:report-detail", kwargs={"reference": case.reference, "pk": job.pk}
    )
    body = ReportJobSerializer(job).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ReportJobListView(generics.ListAPIView):
    serializer_class = ReportJobSerializer
    queryset = ReportJob.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_report_jobs(user=self.request.user, case=case)

    @extend_schema(
        tags=["reports"], responses={200: ReportJobSerializer(many=True), **api_errors(400, 404)}
    )
    def get(self, request, *args, **kwargs):
        """The case's report jobs, newest first, in the editions the user's role may see
        (an external reviewer: the regulator and public editions only)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["reports"],
        request=ReportRequestSerializer,
        responses={202: ReportJobSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str) -> Response:
        """Request a report of the case as it stands now (owner and counsel): 202 and the
        job, with its URL in `Location`. Poll the job until `status` is `done` (or
        `failed`), then download the PDF and its exhibits. The case is frozen in a
        snapshot, and one snapshot and edition never yield two reports: asking again
        for an unchanged case answers the same job."""
        # Imported when used: the report machinery (WeasyPrint, charts) is heavy, and no
        # other endpoint needs it.
        from casework.reports import ReportError, report_job_request

        case = _case(request, reference)
        case_require(request.user, case, REPORT)
        data = _validated(ReportRequestSerializer, request)
        try:
            job = report_job_request(
                actor=request.user, case=case, edition=data["edition"], enqueue=True
            )
        except ReportError as exc:
            raise exceptions.ValidationError({"edition": [str(exc)]}) from exc
        return _report_job_accepted(case, job)


@extend_schema(tags=["reports"], responses={200: ReportJobSerializer, **api_errors(404)})
class ReportJobDetailView(APIView):
    """One report job: poll `status`, `stage` and `percent` until it is done or failed."""

    required_scopes = "read"

    def get(self, request, reference: str, pk: int) -> Response:
        case = _case(request, reference)
        return Response(
            ReportJobSerializer(case_report_job_get(user=request.user, case=case, pk=pk)).data
        )


class ReportReviewListView(generics.ListAPIView):
    serializer_class = ReportReviewSerializer
    queryset = ReportReview.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return report_job_reviews(user=self.request.user, case=case, pk=self.kwargs["pk"])

    @extend_schema(
        tags=["reports"],
        responses={200: ReportReviewSerializer(many=True), **api_errors(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        """The reviewers' decisions on a draft report (for a final report: on its draft), in
        the order given; the latest of each scope is the one that counts."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["reports"],
        request=ReportReviewCreateSerializer,
        responses={201: ReportReviewSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str, pk: int) -> Response:
        """Approve or reject a built draft (a rejection says why in `comment`): counsel on
        the case for the whole report, the case's expert for its methods sections; anyone
        else 403. A decision is never edited: a change of mind is a new review. Ledgered."""
        from casework.reports.review import ReviewError, report_review, reviewer_role

        case = _case(request, reference)
        job = case_report_job_get(user=request.user, case=case, pk=pk)
        if reviewer_role(request.user, case) is None:
            raise exceptions.PermissionDenied(
                "Only counsel on the case and the case's expert review reports."
            )
        data = _validated(ReportReviewCreateSerializer, request)
        try:
            review = report_review(actor=request.user, job=job, **data)
        except ReviewError as exc:
            raise exceptions.ValidationError({exc.field or "job": [str(exc)]}) from exc
        return Response(ReportReviewSerializer(review).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["reports"],
    request=DeclarantSerializer,
    responses={200: DeclarantSerializer, **api_errors(*WRITE_ERRORS)},
)
class CaseDeclarantView(APIView):
    """Name the custodian who declares the case's final reports (owner and counsel): name,
    title, organisation and place, all four, or all blank to use the settings. Ledgered."""

    required_scopes = "write"

    def post(self, request, reference: str) -> Response:
        case = _case(request, reference)
        case_require(request.user, case, MANAGE)
        data = _validated(DeclarantSerializer, request)
        try:
            case = services.case_declarant_set(actor=request.user, case=case, **data)
        except services.CaseError as exc:
            raise exceptions.ValidationError({exc.field or "name": [str(exc)]}) from exc
        return Response({f: getattr(case, f"declarant_{f}") for f in services.DECLARANT_FIELDS})


@extend_schema(
    tags=["reports"],
    request=None,
    responses={202: ReportJobSerializer, **api_errors(*WRITE_ERRORS)},
)
class ReportFinalView(APIView):
    """Request the final report of an approved draft (owner and counsel): 202 and the final
    job, with its URL in `Location`; 400 naming the approvals still missing. The build
    refuses (the job fails with the reason) without a declarant, a production signing
    identity or a passing verification of the record."""

    required_scopes = "write"

    def post(self, request, reference: str, pk: int) -> Response:
        from casework.reports import ReportError
        from casework.reports.review import report_final_request

        case = _case(request, reference)
        case_require(request.user, case, REPORT)
        draft = case_report_job_get(user=request.user, case=case, pk=pk)
        try:
            job = report_final_request(actor=request.user, draft=draft, enqueue=True)
        except ReportError as exc:
            raise exceptions.ValidationError({"job": [str(exc)]}) from exc
        return _report_job_accepted(case, job)


class FileNegotiation(BaseContentNegotiation):
    """A download answers with its file whatever the Accept header asks (errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


FILE_TYPES = {".pdf": "application/pdf", ".csv": "text/csv", ".json": "application/json"}
# A download never answers 406 (see FileNegotiation).
DOWNLOAD_ERRORS = (401, 403, 404, 429)


def _file_response(request, *, case: Case, item: EvidenceItem) -> FileResponse:
    """The file as stored, its download written to the ledger (the case's access audit)."""
    services.evidence_item_exported(actor=request.user, item=item, case=case)
    content_type = FILE_TYPES.get(Path(item.file_name).suffix.lower(), "application/octet-stream")
    return FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.file_name,
        content_type=content_type,
    )


class ReportNotBuilt(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "report_not_built"
    default_detail = "The report is not built yet: poll the job until its status is done."


@extend_schema(
    tags=["reports"],
    responses={
        (200, "application/pdf"): OpenApiResponse(
            OpenApiTypes.BINARY, description="The signed PDF/A-3b, exhibits embedded."
        ),
        **api_errors(404, 409, common=DOWNLOAD_ERRORS),
    },
)
class ReportPdfView(APIView):
    """The report's signed PDF (409 until the job is done). Each download is ledgered."""

    required_scopes = "read"
    content_negotiation_class = FileNegotiation

    def get(self, request, reference: str, pk: int):
        case = _case(request, reference)
        pdf = report_job_pdf(user=request.user, case=case, pk=pk)
        if pdf is None:
            raise ReportNotBuilt()
        return _file_response(request, case=case, item=pdf)


class ReportFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvidenceItem
        fields = ["id", "kind", "file_name", "sha256", "size", "description", "collected_at"]
        read_only_fields = fields


@extend_schema(
    tags=["reports"],
    responses={200: ReportFileSerializer(many=True), **api_errors(400, 404)},
)
class ReportExhibitListView(generics.ListAPIView):
    """The files attached to the report (exhibits and manifest), with their SHA-256, in
    exhibit order; empty until the job is done."""

    serializer_class = ReportFileSerializer
    queryset = EvidenceItem.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return report_job_exhibits(user=self.request.user, case=case, pk=self.kwargs["pk"])


@extend_schema(
    tags=["reports"],
    responses={
        **{
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file.")
            for media_type in (*FILE_TYPES.values(), "application/octet-stream")
        },
        **api_errors(404, common=DOWNLOAD_ERRORS),
    },
)
class ReportExhibitDownloadView(APIView):
    """One attached file of the report, as stored. Each download is ledgered."""

    required_scopes = "read"
    content_negotiation_class = FileNegotiation

    def get(self, request, reference: str, pk: int, item: int):
        case = _case(request, reference)
        exhibits = report_job_exhibits(user=request.user, case=case, pk=pk)
        return _file_response(request, case=case, item=get_object_or_404(exhibits, pk=item))


@extend_schema(
    tags=["ledger"],
    parameters=[
        OpenApiParameter("object_type", str, OpenApiParameter.PATH, enum=list(LEDGER_OBJECT_TYPES)),
        OpenApiParameter(
            "object_id",
            str,
            OpenApiParameter.PATH,
            description="A case's reference, an account's account_id, or a number.",
        ),
    ],
    responses={200: LedgerEntrySerializer(many=True), **api_errors(400, 404)},
)
class LedgerEntryListView(generics.ListAPIView):
    """`GET /api/v1/ledger/<object_type>/<object_id>/`: every ledger entry on one object,
    oldest first, each with the hashes that chain it.

    A case's entries (with the accounts linked to it and the files exported from it) for
    its members, the access audit (views, downloads) only for its owner; an account's,
    evidence item's or ingest batch's for record readers, less the entries naming a case
    the reader is not on (and that case's access audit unless they may read it). A report's
    files are a case's: their entries only for members who see that edition. Anything
    else is 404.
    """

    serializer_class = LedgerEntrySerializer
    queryset = LedgerEntry.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return ledger_entries_for(
            user=self.request.user,
            object_type=self.kwargs["object_type"],
            object_id=self.kwargs["object_id"],
        )
