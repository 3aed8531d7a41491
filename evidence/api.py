"""The record's REST API (/api/v1/): ingest files the way `manage.py ingest` does, and read
the record (batches, accounts, usage events, clusters, findings, Terms and clauses).

Access (tokens, scopes, throttles) and the error shape are the project's defaults
(`casework.api_auth`, `casework.api_errors`); views here only state what they require.
Who may read what is decided by `evidence.selectors`: the raw record only for record
readers (internal roles), the Terms for every signed-in user. Every response a view can
give is declared for the OpenAPI schema (/api/schema/), errors included.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.ingest.formats import FORMATS
from evidence.ingest.records import ACCOUNT_PROFILE_FIELDS
from evidence.ingest.service import KINDS, IngestResult, IngestUsageError, ingest_file
from evidence.models import (
    Account,
    Band,
    Clause,
    ClauseCategory,
    Cluster,
    Finding,
    IngestBatch,
    TermsDocument,
    TermsVersion,
    UsageEvent,
)
from evidence.selectors import (
    account_list,
    account_profile,
    clause_get,
    clause_list,
    cluster_get,
    cluster_links,
    cluster_list,
    finding_get,
    finding_list,
    record_batch_list,
    terms_document_get,
    terms_documents,
    terms_version_get,
    usage_event_get,
    usage_event_list,
    verification_status,
)

UPLOAD_CHUNK_BYTES = 1024 * 1024
ACCEPTED_CONTENT_ENCODINGS = {"", "identity", "gzip", "x-gzip"}
STRICT_VALUES = {"true": True, "1": True, "false": False, "0": False}
FILE_NAME_HEADER = "HTTP_X_PACTA_FILE_NAME"
GZIP_MAGIC = b"\x1f\x8b"


def _bad_parameter(name: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({name: [message]})


# --- The error shape, as the schema declares it ---------------------------------------------
# `casework.api_errors` renders every error; these serializers only describe it (and live on
# the record side because the case side's API imports this module, never the reverse).


class ApiErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="A stable, machine-readable reason.")
    message = serializers.CharField(help_text="What went wrong, in words.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Each input (body field or query parameter) that was wrong, with its messages.",
    )


class ApiErrorSerializer(serializers.Serializer):
    error = ApiErrorDetailSerializer()


ERROR_MEANINGS = {
    400: "A parameter or field is not valid: `error.fields` names each one and says why.",
    401: "No valid credentials: the token is missing, unknown, expired or revoked, or the "
    "user inactive (`WWW-Authenticate: Bearer`).",
    403: "The token lacks the scope this method needs, or the user's role does not allow it.",
    404: "No such object, or none this user may see (the same answer either way).",
    406: "The Accept header asks for something other than JSON.",
    409: "The object already exists.",
    411: "A chunked body arrived empty: send it with a Content-Length.",
    413: "The body is larger than the server accepts.",
    415: "The body's Content-Type (or Content-Encoding) is not accepted.",
    422: "The file was read and refused as a whole.",
    429: "Too many requests: wait for the seconds in `Retry-After`.",
}
# What any authenticated, throttled JSON endpoint may answer, whatever it does.
COMMON_ERRORS = (401, 403, 406, 429)


def api_errors(*statuses: int, common=COMMON_ERRORS) -> dict[int, OpenApiResponse]:
    """Schema responses for these error statuses and the common ones, in the one error shape."""
    return {
        code: OpenApiResponse(ApiErrorSerializer, description=ERROR_MEANINGS[code])
        for code in sorted({*common, *statuses})
    }


def query_parameters(serializer_class: type[serializers.Serializer], request) -> dict:
    """The query parameters a list view takes, validated: a bad one is a 400 naming it."""
    # A plain dict, not the QueryDict: DRF reads "" in a QueryDict as "not given", which
    # would let `?since=` or `?band=` through unchecked.
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return {name: value for name, value in query.validated_data.items() if value not in ("", None)}


_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_ID = 2**63 - 1


def _query_int(request, name: str, *, default: int, maximum: int, minimum: int = 0) -> int:
    """A non-negative integer parameter, strictly: "abc", "-1" or "1e3" is a 400, not ignored."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise _bad_parameter(name, f"{name} must be a whole number from {minimum} to {maximum}.")
    return int(raw)


class RecordPagination(LimitOffsetPagination):
    """`?limit=&offset=` with `{count, next, previous, results}`; bad values are refused."""

    default_limit = 50
    max_limit = 500
    max_offset = 2**31 - 1

    def get_limit(self, request) -> int:
        return _query_int(
            request,
            self.limit_query_param,
            default=self.default_limit,
            minimum=1,
            maximum=self.max_limit,
        )

    def get_offset(self, request) -> int:
        return _query_int(request, self.offset_query_param, default=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters


class TextConverter:
    """A path segment that PostgreSQL can compare: no slash, no NUL byte."""

    regex = r"[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# --- Strict input fields ---------------------------------------------------------------------
# DRF coerces (0 becomes "0", "yes" becomes True, "20260105T0000Z" a date). The schema
# promises types, and a client that sends the wrong one should hear so, not be guessed at.

# Text PostgreSQL can store (no NUL) with something in it besides white space.
TEXT = r"^[^\x00]*\S[^\x00]*$"
TEXT_OR_EMPTY = r"^[^\x00]*$"
RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class StrictCharField(serializers.CharField):
    """A JSON string, never a coerced number, matching `pattern` when one is given (and
    without a NUL character in any case: DRF refuses those, PostgreSQL cannot store them)."""

    def __init__(self, *, pattern: str | None = TEXT, **kwargs) -> None:
        super().__init__(**kwargs)
        if pattern is not None:
            self.validators.append(
                RegexValidator(pattern, message="Must contain text (and no NUL character).")
            )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        # The schema's maxLength is of the string as sent: check it before DRF trims
        # surrounding whitespace, or a too-long value would pass once trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """A StrictCharField without a pattern still promises no NUL: said with `not`, because a
    blank-able field with a `pattern` is wrapped by drf-spectacular in a `oneOf` that the
    empty string matches twice (i.e. not at all). Length and pattern come from validators."""

    target_class = StrictCharField

    def map_serializer_field(self, auto_schema, direction):
        if any(isinstance(v, RegexValidator) for v in self.target.validators):
            return {"type": "string"}
        return {"type": "string", "not": {"pattern": "\\x00"}}


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false, nothing else."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string of digits, a float or a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339Field(serializers.Field):
    """An RFC 3339 date-time with its offset (`2026-01-05T10:00:00Z`), as the schema says.

    With `clamp`, a time beyond what can be expressed in UTC (year 1 at +14:00) becomes the
    earliest or latest instant: right for the bound of a search window, wrong for a stored
    value, which is refused instead.
    """

    default_error_messages = {
        "invalid": "Use an RFC 3339 date-time with its UTC offset, e.g. 2026-01-05T10:00:00Z.",
        "overflow": "This date-time is out of range in UTC.",
    }

    def __init__(self, *, clamp: bool = False, **kwargs) -> None:
        self.clamp = clamp
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> dt.datetime:
        match = RFC3339.fullmatch(data) if isinstance(data, str) else None
        if match is None:
            self.fail("invalid")
        fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
        second = int(match["s"])
        zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
        if second == 60:  # a leap second: the instant is the end of that minute
            second, fraction = 59, "999999"
        try:
            value = dt.datetime.fromisoformat(
                f"{match['date']}T{match['h']}:{match['m']}:{second:02d}.{fraction}{zone}"
            )
        except ValueError:
            self.fail("invalid")
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            if not self.clamp:
                self.fail("overflow")
            return (dt.datetime.min if value.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)

    def to_representation(self, value) -> str:
        return value.isoformat()


_QUERY_INTEGER = re.compile(r"[0-9]{1,19}")


@extend_schema_field(OpenApiTypes.INT)
class QueryIntegerField(serializers.IntegerField):
    """A query parameter of ASCII digits only: "1e3", " 5" or "+5" is refused, not read."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not _QUERY_INTEGER.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(serializers.Field):
    """`true` or `false`, as the schema writes a boolean in a query string."""

    default_error_messages = {"invalid": "Use true or false."}
    VALUES = {"true": True, "false": False}

    def to_internal_value(self, data) -> bool:
        if data not in self.VALUES:
            self.fail("invalid")
        return self.VALUES[data]


@extend_schema_field({"type": "string", "pattern": TEXT_OR_EMPTY})
class QueryTextField(serializers.Field):
    """An exact-match text filter: blank means no filter; no NUL (PostgreSQL refuses it).

    A plain Field with its schema given whole: drf-spectacular describes a blank-able
    CharField with a pattern as a `oneOf` that the empty string matches twice (so not at
    all). A value longer than any stored one simply matches nothing.
    """

    default_error_messages = {"invalid": "Must be text without a NUL character."}

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return data

    def to_representation(self, value) -> str:
        return value


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
    - 401 without a valid token; 403 for a token without the `ingest` scope, or whose
      user's role may not add to the record (`evidence.access.record_writer`);
    - 411 when a chunked body (no Content-Length) arrives empty because the WSGI server
      does not pass chunked bodies on; 413 past PACTA_INGEST_MAX_UPLOAD_BYTES; 415 for a
      Content-Encoding other than gzip; 429 when throttled (with Retry-After).

    The body is never read through request.body, request.data or request.POST (which
    would hold it in memory): `parser_classes` is empty and the view streams it to disk.
    """

    parser_classes = []
    required_scopes = {"POST": "ingest"}
    throttle_scope = "ingest"

    @extend_schema(
        operation_id="ingest",
        tags=["ingest"],
        summary="Ingest one file of accounts, usage events or assent records",
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
                "X-Pacta-File-Name",
                str,
                OpenApiParameter.HEADER,
                description="The file's name, recorded in the batch and the ledger.",
            ),
        ],
        request=INGEST_BODY,
        responses={
            201: IngestResultSerializer,
            422: OpenApiResponse(IngestRefusedSerializer, description=ERROR_MEANINGS[422]),
            **api_errors(400, 411, 413, 415),
        },
    )
    def post(self, request, kind: str) -> Response:
        if not record_writer(request.user):  # checked before a byte of the body is read
            raise exceptions.PermissionDenied(
                "your role may not add to the record: ingest is for the "
                f"{', '.join(RECORD_WRITER_ROLES)} roles"
            )
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
    collector = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

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


class _IngestBatchReadMixin:
    """Batches are the record's provenance: record readers with the `read` scope."""

    serializer_class = IngestBatchSerializer
    queryset = IngestBatch.objects.none()
    required_scopes = "read"

    def get_queryset(self):
        return record_batch_list(user=self.request.user)


@extend_schema(
    tags=["record"], responses={200: IngestBatchSerializer(many=True), **api_errors(400)}
)
class IngestBatchListView(_IngestBatchReadMixin, generics.ListAPIView):
    """`GET /api/v1/batches/?limit=&offset=`: newest first, `{count, next, previous, results}`."""

    pagination_class = RecordPagination


@extend_schema(tags=["record"], responses={200: IngestBatchSerializer, **api_errors(404)})
class IngestBatchDetailView(_IngestBatchReadMixin, generics.RetrieveAPIView):
    """`GET /api/v1/batches/<id>/`: one batch."""


# --- The record: accounts, usage events, detection results -------------------------------
# Record readers only (`evidence.selectors`): anyone else sees empty lists and 404s.


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "account_id",
            *ACCOUNT_PROFILE_FIELDS,
            "seen_only_in_usage",
            "content_sha256",
            "batch",
            "recorded_at",
        ]
        read_only_fields = fields


@extend_schema(tags=["record"], responses={200: AccountSerializer(many=True), **api_errors(400)})
class AccountListView(generics.ListAPIView):
    """`GET /api/v1/accounts/`: accounts in id order."""

    serializer_class = AccountSerializer
    queryset = Account.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return account_list(user=self.request.user)


@extend_schema(tags=["record"], responses={200: AccountSerializer, **api_errors(404)})
class AccountDetailView(APIView):
    """`GET /api/v1/accounts/<account_id>/`: one account's profile as its account system had it."""

    required_scopes = "read"

    def get(self, request, account_id: str) -> Response:
        account = account_profile(user=request.user, account_id=account_id)
        return Response(AccountSerializer(account).data)


class UsageEventSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account_id", read_only=True)

    class Meta:
        model = UsageEvent
        fields = [
            "id",
            "request_id",
            "ts",
            "account",
            "api_key_id",
            "model",
            "endpoint",
            "input_tokens",
            "output_tokens",
            "source_ip",
            "user_agent",
            "end_user",
            "params",
            "prompt_sha256",
            "prompt_template_key",
            "prompt_excerpt",
            "status",
            "batch",
            "row_sha256",
        ]
        read_only_fields = fields


class UsageEventQuery(serializers.Serializer):
    account = QueryTextField(help_text="Only this account's events (account_id).")
    model = QueryTextField(help_text="Only this model's events; an unknown model matches nothing.")
    since = Rfc3339Field(
        required=False, clamp=True, help_text="From this time on, inclusive (RFC 3339)."
    )
    until = Rfc3339Field(
        required=False,
        clamp=True,
        help_text="Before this time, exclusive. A window that ends before it starts is empty.",
    )


class InvalidCursor(exceptions.NotFound):
    default_code = "invalid_cursor"
    default_detail = "No page has this cursor: follow the `next` and `previous` links as given."


class UsageEventPagination(CursorPagination):
    """Cursor pages in (ts, id) order: stable and cheap however deep a client pages through
    millions of rows (no count, no offset scan)."""

    ordering = ("ts", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        return _query_int(
            request,
            self.page_size_query_param,
            default=self.page_size,
            minimum=1,
            maximum=self.max_page_size,
        )

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor is a link the API gave out; one that names no page (forged, damaged or
        # from another listing) is a 404 naming the parameter, never a database error.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (exceptions.NotFound, ValueError, TypeError, DjangoValidationError) as exc:
            raise InvalidCursor({self.cursor_query_param: [InvalidCursor.default_detail]}) from exc

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters


@extend_schema(
    tags=["record"],
    parameters=[UsageEventQuery],
    responses={200: UsageEventSerializer(many=True), **api_errors(400, 404)},
)
class UsageEventListView(generics.ListAPIView):
    """`GET /api/v1/usage-events/?account=&model=&since=&until=&page_size=&cursor=`.

    Follow `next` until it is null. Filters are exact; a bad date or page size is a 400
    naming the parameter, an unknown account or model is simply an empty page.
    """

    serializer_class = UsageEventSerializer
    queryset = UsageEvent.objects.none()
    pagination_class = UsageEventPagination
    required_scopes = "read"

    def get_queryset(self):
        filters = query_parameters(UsageEventQuery, self.request)
        return usage_event_list(user=self.request.user, **filters)


@extend_schema(tags=["record"], responses={200: UsageEventSerializer, **api_errors(404)})
class UsageEventDetailView(APIView):
    """`GET /api/v1/usage-events/<id>/`: one usage row."""

    required_scopes = "read"

    def get(self, request, pk: int) -> Response:
        return Response(UsageEventSerializer(usage_event_get(user=request.user, pk=pk)).data)


class LinkSerializer(serializers.Serializer):
    accounts = serializers.SerializerMethodField()
    kind = serializers.CharField()
    strength = serializers.CharField()
    declared = serializers.BooleanField()
    detector_version = serializers.CharField()
    evidence = serializers.JSONField()
    explanation = serializers.CharField()
    sample_request_ids = serializers.ListField(child=serializers.CharField())

    def get_accounts(self, link) -> list[str]:
        return [link.account_a.account_id, link.account_b.account_id]


class ClusterSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="account_id")

    class Meta:
        model = Cluster
        fields = ["id", "run", "score", "band", "size", "explanation", "evidence", "members"]
        read_only_fields = fields


class ClusterDetailSerializer(ClusterSerializer):
    links = serializers.SerializerMethodField()

    class Meta(ClusterSerializer.Meta):
        fields = [*ClusterSerializer.Meta.fields, "links", "created_at"]
        read_only_fields = fields

    @extend_schema_field(LinkSerializer(many=True))
    def get_links(self, cluster) -> list:
        return LinkSerializer(cluster_links(cluster=cluster), many=True).data


class ClusterQuery(serializers.Serializer):
    run = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="A finished detection run; default the latest.",
    )
    band = serializers.ChoiceField(choices=Band.choices, required=False)


@extend_schema(
    tags=["record"],
    parameters=[ClusterQuery],
    responses={200: ClusterSerializer(many=True), **api_errors(400)},
)
class ClusterListView(generics.ListAPIView):
    """`GET /api/v1/clusters/?run=&band=`: one run's clusters (the latest finished run's by
    default), strongest first."""

    serializer_class = ClusterSerializer
    queryset = Cluster.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        filters = query_parameters(ClusterQuery, self.request)
        return cluster_list(user=self.request.user, **filters).prefetch_related("members")


@extend_schema(tags=["record"], responses={200: ClusterDetailSerializer, **api_errors(404)})
class ClusterDetailView(APIView):
    """`GET /api/v1/clusters/<id>/`: a cluster with its members and the links that join them."""

    required_scopes = "read"

    def get(self, request, pk: int) -> Response:
        return Response(ClusterDetailSerializer(cluster_get(user=request.user, pk=pk)).data)


class FindingSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(read_only=True, slug_field="account_id", allow_null=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "run",
            "detector",
            "detector_version",
            "account",
            "cluster",
            "window_start",
            "window_end",
            "value",
            "baseline",
            "threshold",
            "fired",
            "explanation",
            "sample_request_ids",
            "created_at",
        ]
        read_only_fields = fields


class FindingQuery(serializers.Serializer):
    run = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="A finished detection run; default the latest.",
    )
    account = QueryTextField(help_text="One account's findings (account_id).")
    cluster = QueryIntegerField(required=False, min_value=1, max_value=MAX_ID)
    detector = QueryTextField()
    fired = QueryBooleanField(required=False)


@extend_schema(
    tags=["record"],
    parameters=[FindingQuery],
    responses={200: FindingSerializer(many=True), **api_errors(400)},
)
class FindingListView(generics.ListAPIView):
    """`GET /api/v1/findings/?run=&account=&cluster=&detector=&fired=`: what each detector
    measured, against which baseline, in one run (the latest finished by default)."""

    serializer_class = FindingSerializer
    queryset = Finding.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        filters = query_parameters(FindingQuery, self.request)
        return finding_list(user=self.request.user, **filters)


@extend_schema(tags=["record"], responses={200: FindingSerializer, **api_errors(404)})
class FindingDetailView(APIView):
    """`GET /api/v1/findings/<id>/`: one finding."""

    required_scopes = "read"

    def get(self, request, pk: int) -> Response:
        return Response(FindingSerializer(finding_get(user=request.user, pk=pk)).data)


# --- The Terms: the provider's published contract, for every signed-in user ----------------


class TermsVersionSummarySerializer(serializers.ModelSerializer):
    # Plain text rather than `format: uri`: the field may be empty.
    source_url = serializers.CharField(read_only=True)

    class Meta:
        model = TermsVersion
        fields = ["label", "effective_date", "text_sha256", "source_url", "imported_at"]
        read_only_fields = fields


class TermsDocumentSerializer(serializers.ModelSerializer):
    versions = TermsVersionSummarySerializer(many=True, read_only=True)
    url = serializers.CharField(read_only=True)

    class Meta:
        model = TermsDocument
        fields = ["slug", "title", "url", "created_at", "versions"]
        read_only_fields = fields


class ClauseSerializer(serializers.ModelSerializer):
    document = serializers.CharField(source="version.document.slug", read_only=True)
    version = serializers.CharField(source="version.label", read_only=True)

    class Meta:
        model = Clause
        fields = [
            "id",
            "document",
            "version",
            "path",
            "heading",
            "text",
            "text_sha256",
            "category",
            "position",
            "same_as",
        ]
        read_only_fields = fields


class TermsVersionSerializer(serializers.ModelSerializer):
    document = serializers.CharField(source="document.slug", read_only=True)
    source_url = serializers.CharField(read_only=True)
    clauses = serializers.SerializerMethodField()

    class Meta:
        model = TermsVersion
        fields = [
            "document",
            "label",
            "effective_date",
            "text",
            "text_sha256",
            "source_url",
            "imported_at",
            "clauses",
        ]
        read_only_fields = fields

    @extend_schema_field(ClauseSerializer(many=True))
    def get_clauses(self, version) -> list:
        clauses = version.clauses.select_related("version__document").order_by("position")
        return ClauseSerializer(clauses, many=True).data


@extend_schema(
    tags=["terms"], responses={200: TermsDocumentSerializer(many=True), **api_errors(400)}
)
class TermsDocumentListView(generics.ListAPIView):
    """`GET /api/v1/terms/`: every Terms document with its versions."""

    serializer_class = TermsDocumentSerializer
    queryset = TermsDocument.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return terms_documents(user=self.request.user)


@extend_schema(tags=["terms"], responses={200: TermsDocumentSerializer, **api_errors(404)})
class TermsDocumentDetailView(APIView):
    """`GET /api/v1/terms/<slug>/`: one document and its versions."""

    required_scopes = "read"

    def get(self, request, slug: str) -> Response:
        document = terms_document_get(user=request.user, slug=slug)
        return Response(TermsDocumentSerializer(document).data)


@extend_schema(tags=["terms"], responses={200: TermsVersionSerializer, **api_errors(404)})
class TermsVersionDetailView(APIView):
    """`GET /api/v1/terms/<slug>/versions/<label>/`: the version's text, hash and clauses."""

    required_scopes = "read"

    def get(self, request, slug: str, label: str) -> Response:
        version = terms_version_get(user=request.user, slug=slug, label=label)
        return Response(TermsVersionSerializer(version).data)


class ClauseQuery(serializers.Serializer):
    document = QueryTextField(help_text="A Terms document's slug.")
    version = QueryTextField(help_text="A version label.")
    category = serializers.ChoiceField(choices=ClauseCategory.choices, required=False)


@extend_schema(
    tags=["terms"],
    parameters=[ClauseQuery],
    responses={200: ClauseSerializer(many=True), **api_errors(400)},
)
class ClauseListView(generics.ListAPIView):
    """`GET /api/v1/clauses/?document=&version=&category=`: clauses, quoted verbatim; an
    allegation names one by `id`."""

    serializer_class = ClauseSerializer
    queryset = Clause.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return clause_list(user=self.request.user, **query_parameters(ClauseQuery, self.request))


@extend_schema(tags=["terms"], responses={200: ClauseSerializer, **api_errors(404)})
class ClauseDetailView(APIView):
    """`GET /api/v1/clauses/<id>/`: one clause."""

    required_scopes = "read"

    def get(self, request, pk: int) -> Response:
        return Response(ClauseSerializer(clause_get(user=request.user, pk=pk)).data)


# --- Verification --------------------------------------------------------------------------


class LedgerHeadSerializer(serializers.Serializer):
    head_seq = serializers.IntegerField()
    head_hash = serializers.CharField()


class VerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(allow_null=True, help_text="Null: never verified.")
    run = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    checked = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    failures_total = serializers.IntegerField(allow_null=True)
    failures = serializers.ListField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="What no longer matches; shown to record readers only (null for others).",
    )
    ledger = LedgerHeadSerializer(allow_null=True)


NEVER_VERIFIED = dict.fromkeys(VerificationSerializer().fields)


@extend_schema(tags=["record"], responses={200: VerificationSerializer, **api_errors()})
class VerificationView(APIView):
    """`GET /api/v1/verification/`: the latest `verify_evidence` outcome (the UI's banner).

    Everyone signed in sees whether the record verified; the failures themselves, which
    name records, only record readers.
    """

    required_scopes = "read"

    def get(self, request) -> Response:
        return Response(verification_status(user=request.user) or NEVER_VERIFIED)
