"""The error shape of both apps' APIs as the OpenAPI schema declares it, and `api_errors()`,
which lists the errors an endpoint may answer in that shape.

`casework.api_platform.errors` renders every error; these serializers only describe it (and
live on the record side because the case side's API imports this package, never the
reverse).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers


def bad_parameter(name: str, message: str) -> exceptions.ValidationError:
    """A 400 naming the query parameter or path segment `name` in `error.fields`."""
    return exceptions.ValidationError({name: [message]})


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
    410: "Gone: removed past its retention period; its record (manifest, ledger) is kept.",
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
