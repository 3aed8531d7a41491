"""`POST /api/v1/assent-screens/`: a screenshot or archived sign-up flow in the body, kept
as the screen of a sign-up flow version and linked to the assent records naming its hash
(`evidence.screens`, the same service as `manage.py ingest_evidence_file`)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.api.errors import api_errors, bad_parameter
from evidence.api.ingest import FILE_NAME_HEADER, _receive_upload
from evidence.screens import AssentScreenError, assent_screen_ingest, screen_moment

PARAMETERS = {
    "flow": "The sign-up flow version the file shows, e.g. signup-v4 (required).",
    "terms": "DOCUMENT:VERSION the flow presented for acceptance.",
    "shown_from": "When the flow version went live (date or ISO-8601 time with zone).",
    "shown_until": "When it was replaced.",
    "sha256": "The hash the file must have; a different file is refused.",
}


class AssentScreenResultSerializer(serializers.Serializer):
    screen = serializers.IntegerField()
    evidence_item = serializers.IntegerField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    media_type = serializers.CharField()
    kind = serializers.CharField()
    flow_id = serializers.CharField()
    terms_version = serializers.CharField(allow_null=True)
    shown_from = serializers.CharField(allow_null=True)
    shown_until = serializers.CharField(allow_null=True)
    assent_records = serializers.IntegerField()
    created = serializers.BooleanField()


def _when(name: str, value: str | None) -> dt.datetime | None:
    try:
        return screen_moment(value, field=name)
    except AssentScreenError as exc:
        raise bad_parameter(name, str(exc)) from None


class AssentScreenView(APIView):
    """The body is the file as it is (no multipart, no encoding); header `X-Pacta-File-Name`
    names it and its extension must agree with its bytes. 201 with the result; 200 when
    the same file was already on record with the same description; 400 naming the
    parameter (or `file`) that is wrong, with nothing stored; 413 past
    PACTA_ASSENT_SCREEN_MAX_BYTES; 415 for a Content-Encoding (the file travels as it is);
    403 for a role that may not add to the record."""

    parser_classes = []
    required_scopes = {"POST": "ingest"}
    throttle_scope = "ingest"

    @extend_schema(
        operation_id="assent_screen_ingest",
        tags=["ingest"],
        summary="Keep a screenshot or archived sign-up flow as the screen accounts saw",
        parameters=[
            *(OpenApiParameter(name, str, description=text) for name, text in PARAMETERS.items()),
            OpenApiParameter(
                "X-Pacta-File-Name",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="The file's name; its extension must agree with its bytes.",
            ),
        ],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={
            201: AssentScreenResultSerializer,
            200: AssentScreenResultSerializer,
            **api_errors(400, 413, 415),
        },
    )
    def post(self, request) -> Response:
        if not record_writer(request.user):  # checked before a byte of the body is read
            raise exceptions.PermissionDenied(
                "your role may not add to the record: ingest is for the "
                f"{', '.join(RECORD_WRITER_ROLES)} roles"
            )
        query = request.query_params
        file_name = request.META.get(FILE_NAME_HEADER, "").strip()
        if not file_name:
            raise bad_parameter(
                "X-Pacta-File-Name", "name the file (its extension says what it is)"
            )
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding not in ("", "identity"):
            # The hash is of the file as it is: a screen travels unencoded.
            raise exceptions.UnsupportedMediaType(
                encoding, detail=f"Content-Encoding {encoding!r}: send the file as it is."
            )
        shown_from = _when("shown_from", query.get("shown_from"))
        shown_until = _when("shown_until", query.get("shown_until"))
        upload = _receive_upload(
            request,
            max_bytes=settings.PACTA_ASSENT_SCREEN_MAX_BYTES,
            chunk_bytes=settings.PACTA_UPLOAD_CHUNK_BYTES,
        )
        try:
            with upload.path.open("rb") as stream:
                result = assent_screen_ingest(
                    actor=request.user,
                    stream=stream,
                    file_name=file_name,
                    flow_id=query.get("flow", ""),
                    source=f"REST API upload: {file_name[:200]}",
                    terms=query.get("terms", ""),
                    shown_from=shown_from,
                    shown_until=shown_until,
                    expected_sha256=query.get("sha256", ""),
                )
        except AssentScreenError as exc:
            name = {"shown-from": "shown_from", "shown-until": "shown_until"}.get(
                exc.field, exc.field
            )
            raise bad_parameter(name, str(exc)) from exc
        finally:
            upload.path.unlink(missing_ok=True)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
