"""The case API's productions (issue #19): queue one, follow it, download its zip or its
files one by one, each download ledgered. Split from `casework.api` for the module size;
the same access rules (`_case`: a case's members only) apply."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

# --- Helpers -----------------------------------------------------------------------------
from casework.api import (
    DOWNLOAD_ERRORS,
    FILE_TYPES,
    WRITE_ERRORS,
    FileNegotiation,
    _case,
    _validated,
)
from casework.models import (
    ProductionJob,
)
from casework.permissions import REPORT, case_require
from casework.selectors import (
    case_production_get,
    case_productions,
    production_job_zip,
)
from casework.serializers import (
    ProductionFilesSerializer,
    ProductionJobSerializer,
    ProductionRequestSerializer,
)
from evidence.api import RecordPagination, api_errors


class ProductionJobListView(generics.ListAPIView):
    serializer_class = ProductionJobSerializer
    queryset = ProductionJob.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        case = _case(self.request, self.kwargs["reference"])
        return case_productions(user=self.request.user, case=case)

    @extend_schema(
        tags=["productions"],
        responses={200: ProductionJobSerializer(many=True), **api_errors(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        """The case's production jobs, newest first, in the editions the user's role may see."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["productions"],
        request=ProductionRequestSerializer,
        responses={202: ProductionJobSerializer, **api_errors(*WRITE_ERRORS)},
    )
    def post(self, request, reference: str) -> Response:
        """Request a production of the case as it stands (owner and counsel): a filing copy
        without attachments in volumes within `max_file_mb`, control-numbered natives, a
        load file and a signed manifest, packed in one zip. 202 and the job, with its URL
        in `Location`; poll it until `status` is `done`, then download the zip. The same
        request while one is queued or running answers that job."""
        from casework.production.build import ProductionError
        from casework.production.jobs import production_job_request

        case = _case(request, reference)
        case_require(request.user, case, REPORT)
        data = _validated(ProductionRequestSerializer, request)
        try:
            job = production_job_request(
                actor=request.user,
                case=case,
                edition=data["edition"],
                page_size=data["page_size"],
                max_file_mb=float(data["max_file_mb"]),
                enqueue=True,
            )
        except ProductionError as exc:
            raise exceptions.ValidationError({exc.field or "edition": [str(exc)]}) from exc
        location = reverse(
            "casework_api:production-detail", kwargs={"reference": case.reference, "pk": job.pk}
        )
        return Response(
            ProductionJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


@extend_schema(tags=["productions"], responses={200: ProductionJobSerializer, **api_errors(404)})
class ProductionJobDetailView(APIView):
    """One production job: poll `status`, `stage` and `percent` until it is done or failed."""

    required_scopes = "read"

    def get(self, request, reference: str, pk: int) -> Response:
        case = _case(request, reference)
        return Response(
            ProductionJobSerializer(case_production_get(user=request.user, case=case, pk=pk)).data
        )


class ProductionNotBuilt(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "production_not_built"
    default_detail = "The production is not built yet: poll the job until its status is done."


@extend_schema(
    tags=["productions"],
    responses={
        (200, "application/zip"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The production in one folder: filing/, natives/, the load file, "
            "manifest.json and its detached signature.",
        ),
        **api_errors(404, 409, 410, common=DOWNLOAD_ERRORS),
    },
)
class ProductionZipView(APIView):
    """The production's zip, streamed from disk (409 until the job is done). Each download
    is ledgered."""

    required_scopes = "read"
    content_negotiation_class = FileNegotiation

    def get(self, request, reference: str, pk: int):
        from casework.production.jobs import production_job_exported

        case = _case(request, reference)
        job, path = production_job_zip(user=request.user, case=case, pk=pk)
        if job.zip_removed_at:
            raise ProductionRemoved(f"production {job.pk}'s zip was removed past its retention")
        if path is None:
            raise ProductionNotBuilt()
        production_job_exported(actor=request.user, job=job)
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=job.zip_name,
            content_type="application/zip",
        )


class ProductionRemoved(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "production_removed"
    default_detail = "The production's zip was removed past its retention; its manifest is kept."


class ProductionFileListView(APIView):
    """The production's files as its manifest lists them (path, SHA-256, size), with the
    manifest and its detached signature first, each with its download URL. Once the zip
    was removed past its retention the manifest is still listed, with no URLs."""

    required_scopes = "read"

    @extend_schema(
        tags=["productions"],
        operation_id="cases_productions_files_list",
        responses={200: ProductionFilesSerializer, **api_errors(404, 409)},
    )
    def get(self, request, reference: str, pk: int) -> Response:
        from casework.production.build import ProductionError
        from casework.production.files import production_file_entries

        case = _case(request, reference)
        job = case_production_get(user=request.user, case=case, pk=pk)
        try:
            entries = production_file_entries(job=job)
        except ProductionError as exc:
            raise ProductionNotBuilt(str(exc)) from exc
        files = [
            {
                **entry,
                "url": None
                if job.zip_removed_at
                else reverse(
                    "casework_api:production-file",
                    kwargs={"reference": case.reference, "pk": job.pk, "path": entry["path"]},
                ),
            }
            for entry in entries
        ]
        document = {
            "production": job.pk,
            "manifest_sha256": job.manifest_sha256,
            "zip_removed_at": job.zip_removed_at,
            "files": files,
        }
        return Response(ProductionFilesSerializer(document).data)


class ProductionFileView(APIView):
    """One file of the production, streamed from its zip: only a path the manifest lists
    (or the manifest and its signature), 404 for any other. Each download is ledgered
    with the file's path and SHA-256, as a download of the zip is."""

    required_scopes = "read"
    content_negotiation_class = FileNegotiation

    @extend_schema(
        tags=["productions"],
        operation_id="cases_productions_file_retrieve",
        parameters=[
            OpenApiParameter(
                "path", str, OpenApiParameter.PATH, description="A path the manifest lists."
            )
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="One file of the production, as the manifest lists it "
                "(`X-Pacta-SHA256` is its SHA-256 there).",
            ),
            **api_errors(404, 409, 410, common=DOWNLOAD_ERRORS),
        },
    )
    def get(self, request, reference: str, pk: int, path: str):
        from casework.production.build import ProductionError
        from casework.production.files import ProductionGone, production_file_open
        from casework.production.jobs import production_job_exported

        case = _case(request, reference)
        job = case_production_get(user=request.user, case=case, pk=pk)
        if job.status != ProductionJob.Status.DONE:
            raise ProductionNotBuilt()
        try:
            entry, chunks = production_file_open(job=job, path=path)
        except ProductionGone as exc:
            raise ProductionRemoved(str(exc)) from exc
        except ProductionError as exc:
            raise exceptions.NotFound(str(exc)) from exc
        production_job_exported(actor=request.user, job=job, file=entry)
        response = StreamingHttpResponse(
            chunks,
            content_type=FILE_TYPES.get(
                Path(entry["path"]).suffix.lower(), "application/octet-stream"
            ),
        )
        response["Content-Length"] = str(entry["size"])
        response["Content-Disposition"] = content_disposition_header(
            True, PurePosixPath(entry["path"]).name
        )
        response["X-Pacta-SHA256"] = entry["sha256"]
        return response


# --- Ledger ------------------------------------------------------------------------------
