"""The ingest upload (`POST /api/v1/ingest/{accounts|usage|assent|probes|serves}/`): one
file in the body, streamed to disk as received and ingested exactly as `manage.py ingest` does.

The body is read a chunk of `PACTA_UPLOAD_CHUNK_BYTES` at a time, never whole; an upload
past `PACTA_INGEST_MAX_UPLOAD_BYTES` is refused while it streams. Every failure answers in
the API's one JSON error shape, an unexpected one too (500, with an incident id logged).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.api.errors import ERROR_MEANINGS, ApiErrorSerializer, api_errors, bad_parameter
from evidence.api.ingest_jobs import IngestJobSerializer
from evidence.ingest.formats import FORMATS
from evidence.ingest.jobs import ingest_job_request
from evidence.ingest.service import KINDS, IngestResult, IngestUsageError, ingest_file
from evidence.models import IngestBatch

ACCEPTED_CONTENT_ENCODINGS = {"", "identity", "gzip", "x-gzip"}
STRICT_VALUES = {"true": True, "1": True, "false": False, "0": False}
FILE_NAME_HEADER = "HTTP_X_PACTA_FILE_NAME"
GZIP_MAGIC = b"\x1f\x8b"

logger = logging.getLogger(__name__)


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"


class IngestFailed(exceptions.APIException):
    """An unexpected error (a bug, a full disk): answered in the error shape, never as an
    HTML page, with the incident id under which the traceback was logged."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_code = "internal_error"

    def __init__(self, incident: str) -> None:
        super().__init__(
            detail=f"The ingest failed unexpectedly and nothing from the file was stored. "
            f"Quote incident {incident} to the operators: the server log has the details."
        )


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"
    default_detail = (
        "The chunked body arrived empty: this server does not pass chunked uploads on; "
        "send the file with a Content-Length header."
    )


class IngestRefused(exceptions.APIException):
    """The file was read and refused as a whole; `result` says why, line by line."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "ingest_refused"

    def __init__(self, result: IngestResult) -> None:
        super().__init__(detail=result.refusal_reason())
        # Rendered beside "error" by casework.api_platform.errors: the same document as a 201.
        self.beside = {"result": result.as_dict()}


@dataclass
class _Upload:
    path: Path
    size: int
    gzipped: bool


def _declared_length(request) -> int | None:
    meta = request.META
    raw = meta.get("CONTENT_LENGTH") or meta.get("HTTP_CONTENT_LENGTH") or ""
    try:
        return int(raw)
    except ValueError:
        return None


def _receive_upload(request, *, max_bytes: int, chunk_bytes: int) -> _Upload:
    """Stream the body, as received, to a temporary file, `chunk_bytes` at a time.

    Only a bounded chunk is ever in memory, whatever the size of the file; past
    `max_bytes` the partial file is deleted and the request refused.
    """
    declared = _declared_length(request)
    if declared is not None and declared > max_bytes:
        raise UploadTooLarge(f"The body ({declared} bytes) exceeds the limit of {max_bytes} bytes.")
    # The HttpRequest itself, not DRF's request.stream: DRF offers no stream without a
    # Content-Length, which an ASGI server may legitimately omit.
    body = request._request
    handle, name = tempfile.mkstemp(prefix="pacta-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    path = Path(name)
    size, head = 0, b""
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := body.read(chunk_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"The body exceeds the limit of {max_bytes} bytes; nothing was stored."
                    )
                if len(head) < len(GZIP_MAGIC):
                    head += chunk[: len(GZIP_MAGIC)]
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0 and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        path.unlink(missing_ok=True)
        raise LengthRequired()
    return _Upload(path=path, size=size, gzipped=head[:2] == GZIP_MAGIC)


def _ingest_format(request) -> str:
    fmt = request.query_params.get("format")
    if fmt is None:
        media_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        return "csv" if media_type == "text/csv" else "native"
    if fmt not in FORMATS:
        raise bad_parameter("format", f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def _ingest_strict(request) -> bool:
    raw = request.query_params.get("strict", "false")
    if raw.lower() not in STRICT_VALUES:
        raise bad_parameter("strict", f"strict must be true, false, 1 or 0 (got {raw!r})")
    return STRICT_VALUES[raw.lower()]


def _ingest_async(request) -> bool:
    """Whether the client asked for the ingest to run on a worker: `?async=true` or an RFC
    7240 `Prefer: respond-async`. Without either the upload answers when it is ingested,
    as it always has (scripts rely on that)."""
    raw = request.query_params.get("async")
    if raw is not None:
        if raw.lower() not in STRICT_VALUES:
            raise bad_parameter("async", f"async must be true, false, 1 or 0 (got {raw!r})")
        return STRICT_VALUES[raw.lower()]
    prefer = request.META.get("HTTP_PREFER", "")
    return any(part.split(";")[0].strip().lower() == "respond-async" for part in prefer.split(","))


def _content_encoding(request) -> str:
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ACCEPTED_CONTENT_ENCODINGS:
        raise exceptions.UnsupportedMediaType(
            encoding,
            detail=f"Content-Encoding {encoding!r} is not accepted: send the file as it is, "
            "or gzip-compressed.",
        )
    return encoding


def _upload_file_name(request, *, fmt: str, gzipped: bool) -> str:
    """The client's name for the file (its last path part, tamed) or a timestamped one.

    The name is recorded in the batch and the ledger; it must never steer where anything
    is written, and must stay readable in a report.
    """
    given = request.META.get(FILE_NAME_HEADER, "")
    base = re.split(r"[/\\]", given)[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")[:200]
    if base:
        return base
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    extension = "csv" if fmt == "csv" else "ndjson"
    return f"upload-{stamp}.{extension}" + (".gz" if gzipped else "")


class IngestLineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    """`manage.py ingest --json`'s document (DESIGN.md's contract, extended never renamed)."""

    batch = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(help_text="SHA-256 of the bytes exactly as received.")
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = IngestLineErrorSerializer(many=True, help_text="The first rejected lines.")
    errors_total = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=KINDS)
    format = serializers.CharField()
    file = serializers.CharField()
    size = serializers.IntegerField()
    status = serializers.ChoiceField(choices=IngestBatch.Status.choices)
    updated = serializers.IntegerField()
    same_as_batch = serializers.IntegerField(allow_null=True)
    rejects_file = serializers.IntegerField(allow_null=True)


class IngestRefusedSerializer(ApiErrorSerializer):
    result = IngestResultSerializer()


INGEST_BODY = {
    media_type: OpenApiTypes.BINARY
    for media_type in (
        "application/x-ndjson",
        "text/csv",
        "application/gzip",
        "application/octet-stream",
    )
}


class IngestView(APIView):
    """`POST /api/v1/ingest/{accounts|usage|assent|probes|serves}/`: one file in the body,
    as received.

    The body is NDJSON or CSV, optionally gzip-compressed (with or without
    `Content-Encoding: gzip`); its SHA-256 is taken over the bytes exactly as sent.
    Query parameters: `format` (native|csv|litellm|bedrock; default csv when the
    Content-Type is text/csv, else native) and `strict` (true|false|1|0, default false).
    Header `X-Pacta-File-Name` names the file in the batch and the ledger.

    With `?async=true` or `Prefer: respond-async` the file is received exactly so and
    answered 202 with the queued ingest job and a Location to poll
    (`/api/v1/ingest-jobs/{id}/`: status, bytes and lines read, lines rejected, then the
    batch and the same result document); a worker ingests it. Without, as below.

    Answers:
    - 201 and the ingest result (`manage.py ingest --json`'s document), with a Location
      header for the batch, when the file was committed (rejected lines, if any, are
      listed in it and kept as evidence);
    - 422 `{"error": {...}, "result": {...}}` when the file was refused as a whole (strict
      mode with a bad line, empty body, unusable CSV header): nothing was stored except the
      record of the refusal, and `result` is the same document a 201 would carry;
    - 400 naming `kind`, `format` or `strict` in `error.fields` when one is wrong;
    - 401 without a valid token; 403 for a token without the `ingest` scope, or whose
      user's role may not add to the record (`evidence.access.record_writer`);
    - 411 when a chunked body (no Content-Length) arrives empty because the WSGI server
      does not pass chunked bodies on; 413 past PACTA_INGEST_MAX_UPLOAD_BYTES; 415 for a
      Content-Encoding other than gzip; 429 when throttled (with Retry-After);
    - 500 in the same error shape, naming an incident id that the server log records with
      the traceback, when something unexpected fails.

    A compressed body that expands past its caps (a decompression bomb) is a refused file
    (422), recorded as a refused batch.

    The body is never read through request.body, request.data or request.POST (which
    would hold it in memory): `parser_classes` is empty and the view streams it to disk.
    """

    parser_classes = []
    required_scopes = {"POST": "ingest"}
    throttle_scope = "ingest"

    @extend_schema(
        operation_id="ingest",
        tags=["ingest"],
        summary=(
            "Ingest one file of accounts, usage events, assent records, probe transcripts "
            "or canary serve logs"
        ),
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(KINDS)),
            OpenApiParameter(
                "format",
                str,
                enum=list(FORMATS),
                description="Default: csv when the Content-Type is text/csv, else native.",
            ),
            OpenApiParameter("strict", str, enum=sorted(STRICT_VALUES)),
            OpenApiParameter(
                "async",
                str,
                enum=sorted(STRICT_VALUES),
                description="true: answer 202 at once with the ingest job (Location: "
                "/api/v1/ingest-jobs/{id}/) and ingest on a worker. Default false: answer "
                "when the file is ingested. `Prefer: respond-async` asks the same.",
            ),
            OpenApiParameter(
                "Prefer",
                str,
                OpenApiParameter.HEADER,
                description="`respond-async`: as `async=true` (RFC 7240).",
            ),
            OpenApiParameter(
                "X-Pacta-File-Name",
                str,
                OpenApiParameter.HEADER,
                description="The file's name, recorded in the batch and the ledger.",
            ),
        ],
        request=INGEST_BODY,
        responses={
            201: IngestResultSerializer,
            202: OpenApiResponse(
                IngestJobSerializer,
                description="Asked to run asynchronously: the queued ingest job, to poll.",
            ),
            422: OpenApiResponse(IngestRefusedSerializer, description=ERROR_MEANINGS[422]),
            **api_errors(400, 411, 413, 415),
            500: OpenApiResponse(
                ApiErrorSerializer,
                description="An unexpected failure; the message quotes the logged incident id.",
            ),
        },
    )
    def post(self, request, kind: str) -> Response:
        if not record_writer(request.user):  # checked before a byte of the body is read
            raise exceptions.PermissionDenied(
                "your role may not add to the record: ingest is for the "
                f"{', '.join(RECORD_WRITER_ROLES)} roles"
            )
        if kind not in KINDS:
            raise bad_parameter("kind", f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        fmt = _ingest_format(request)
        strict = _ingest_strict(request)
        run_async = _ingest_async(request)
        _content_encoding(request)
        upload = _receive_upload(
            request,
            max_bytes=settings.PACTA_INGEST_MAX_UPLOAD_BYTES,
            chunk_bytes=settings.PACTA_UPLOAD_CHUNK_BYTES,
        )
        if run_async:
            return self._queue(request, kind=kind, fmt=fmt, strict=strict, upload=upload)
        try:
            result = ingest_file(
                actor=request.user,
                kind=kind,
                path=upload.path,
                fmt=fmt,
                strict=strict,
                source=IngestBatch.Source.API,
                file_name=_upload_file_name(request, fmt=fmt, gzipped=upload.gzipped),
            )
        except IngestUsageError as exc:
            # Kind and format were checked above; what is left is their combination.
            raise bad_parameter("format", str(exc)) from exc
        finally:
            upload.path.unlink(missing_ok=True)
        if result.refused:
            raise IngestRefused(result)
        location = reverse("evidence_api:batch-detail", kwargs={"pk": result.batch})
        return Response(
            result.as_dict(), status=status.HTTP_201_CREATED, headers={"Location": location}
        )

    def _queue(self, request, *, kind: str, fmt: str, strict: bool, upload: _Upload) -> Response:
        """Hand the received file to a worker: 202 and the job to poll."""
        try:
            job = ingest_job_request(
                actor=request.user,
                kind=kind,
                fmt=fmt,
                strict=strict,
                source=IngestBatch.Source.API,
                file_name=_upload_file_name(request, fmt=fmt, gzipped=upload.gzipped),
                received=upload.path,
            )
        except IngestUsageError as exc:
            raise bad_parameter("format", str(exc)) from exc
        finally:
            upload.path.unlink(missing_ok=True)  # moved away if the job was queued
        location = reverse("evidence_api:ingest-job-detail", kwargs={"pk": job.pk})
        return Response(
            IngestJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location, "Preference-Applied": "respond-async"},
        )

    def handle_exception(self, exc: Exception) -> Response:
        """DRF answers its own exceptions in the error shape and hands any other to Django,
        which answers an HTML 500: an uploader's client parses JSON, so here it is one too,
        and the traceback is logged under an id the answer quotes."""
        if not isinstance(exc, exceptions.APIException | Http404 | DjangoPermissionDenied):
            incident = uuid.uuid4().hex[:16]
            logger.error("ingest upload failed unexpectedly (incident %s)", incident, exc_info=exc)
            exc = IngestFailed(incident)
        return super().handle_exception(exc)
