"""The record's REST API (/api/v1/): ingest files the way `manage.py ingest` does, list batches.

Access (tokens, scopes, throttles) and the error shape are the project's defaults
(`casework.api_auth`, `casework.api_errors`); views here only state what they require.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.ingest.formats import FORMATS
from evidence.ingest.service import KINDS, IngestResult, IngestUsageError, ingest_file
from evidence.models import IngestBatch
from evidence.selectors import ingest_batch_list

UPLOAD_CHUNK_BYTES = 1024 * 1024
ACCEPTED_CONTENT_ENCODINGS = {"", "identity", "gzip", "x-gzip"}
STRICT_VALUES = {"true": True, "1": True, "false": False, "0": False}
FILE_NAME_HEADER = "HTTP_X_PACTA_FILE_NAME"
GZIP_MAGIC = b"\x1f\x8b"


def _bad_parameter(name: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({name: [message]})


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"


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
        first = result.errors[0] if result.errors else None
        reason = ""
        if first:
            where = f"line {first['line']}" + (
                f", field {first['field']}" if first["field"] else ""
            )
            reason = f" {where}: {first['message']}"
            if result.errors_total > 1:
                reason += f" (and {result.errors_total - 1} more error(s))"
        super().__init__(
            detail=f"The file was refused and nothing from it was stored (batch {result.batch})."
            + (f" First error at{reason}" if reason else "")
        )
        # Rendered beside "error" by casework.api_errors: the same document as a 201.
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


def _receive_upload(request, *, max_bytes: int) -> _Upload:
    """Stream the body, as received, to a temporary file, a chunk at a time.

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
            while chunk := body.read(UPLOAD_CHUNK_BYTES):
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
        raise _bad_parameter("format", f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def _ingest_strict(request) -> bool:
    raw = request.query_params.get("strict", "false")
    if raw.lower() not in STRICT_VALUES:
        raise _bad_parameter("strict", f"strict must be true, false, 1 or 0 (got {raw!r})")
    return STRICT_VALUES[raw.lower()]


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


class IngestView(APIView):
    """`POST /api/v1/ingest/{accounts|usage|assent}/`: one file in the body, as received.

    The body is NDJSON or CSV, optionally gzip-compressed (with or without
    `Content-Encoding: gzip`); its SHA-256 is taken over the bytes exactly as sent.
    Query parameters: `format` (native|csv|litellm|bedrock; default csv when the
    Content-Type is text/csv, else native) and `strict` (true|false|1|0, default false).
    Header `X-Pacta-File-Name` names the file in the batch and the ledger.

    Answers:
    - 201 and the ingest result (`manage.py ingest --json`'s document), with a Location
      header for the batch, when the file was committed (rejected lines, if any, are
      listed in it and kept as evidence);
    - 422 `{"error": {...}, "result": {...}}` when the file was refused as a whole (strict
      mode with a bad line, empty body, unusable CSV header): nothing was stored except the
      record of the refusal, and `result` is the same document a 201 would carry;
    - 400 naming `kind`, `format` or `strict` in `error.fields` when one is wrong;
    - 401 without a valid token; 403 for a token without the `ingest` scope;
    - 411 when a chunked body (no Content-Length) arrives empty because the WSGI server
      does not pass chunked bodies on; 413 past PACTA_INGEST_MAX_UPLOAD_BYTES; 415 for a
      Content-Encoding other than gzip; 429 when throttled (with Retry-After).

    The body is never read through request.body, request.data or request.POST (which
    would hold it in memory): `parser_classes` is empty and the view streams it to disk.
    """

    parser_classes = []
    required_scopes = {"POST": "ingest"}
    throttle_scope = "ingest"

    def post(self, request, kind: str) -> Response:
        if kind not in KINDS:
            raise _bad_parameter("kind", f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        fmt = _ingest_format(request)
        strict = _ingest_strict(request)
        _content_encoding(request)
        upload = _receive_upload(request, max_bytes=settings.PACTA_INGEST_MAX_UPLOAD_BYTES)
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
            raise _bad_parameter("format", str(exc)) from exc
        finally:
            upload.path.unlink(missing_ok=True)
        if result.refused:
            raise IngestRefused(result)
        location = reverse("evidence_api:batch-detail", kwargs={"pk": result.batch})
        return Response(
            result.as_dict(), status=status.HTTP_201_CREATED, headers={"Location": location}
        )


class IngestBatchSerializer(serializers.ModelSerializer):
    collector = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IngestBatch
        fields = [
            "id",
            "kind",
            "source",
            "format",
            "file_name",
            "raw_sha256",
            "raw_size",
            "collector",
            "collector_label",
            "started_at",
            "finished_at",
            "status",
            "accepted",
            "duplicates",
            "rejected",
            "rows_digest",
            "rejects_file",
        ]
        read_only_fields = fields


class IngestBatchPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class _IngestBatchReadMixin:
    """Batches are the record's provenance, open to every signed-in user and `read` tokens."""

    serializer_class = IngestBatchSerializer
    required_scopes = "read"

    def get_queryset(self):
        return ingest_batch_list()


class IngestBatchListView(_IngestBatchReadMixin, generics.ListAPIView):
    """`GET /api/v1/batches/?limit=&offset=`: newest first, `{count, next, previous, results}`."""

    pagination_class = IngestBatchPagination


class IngestBatchDetailView(_IngestBatchReadMixin, generics.RetrieveAPIView):
    """`GET /api/v1/batches/<id>/`: one batch."""
