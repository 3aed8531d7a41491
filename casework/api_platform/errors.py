"""One JSON shape for every error the API answers, so a client needs one error path.

    {"error": {"status": 4xx, "code": "...", "message": "...", "fields": {...}}}

`fields` appears only when particular inputs were wrong (a validation error, or a query
parameter a view names); it maps each input's name to its messages. An exception may
carry a `beside` dict of documents answered next to `error`, never inside it (the ingest
endpoint's refused `result`): apps raise plain DRF exceptions and need not import this.

`api_not_found` answers, in the same shape, every /api/v1/ path that names no endpoint.

Unexpected exceptions are not turned into JSON here: they are bugs, and they go to
Django's 500 handling so they are logged and reported rather than swallowed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def api_error_document(
    *, status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status, "code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _messages(detail: Any) -> list[str]:
    """Every message in a (possibly nested) DRF detail, as plain strings."""
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]


def _codes(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [code for value in detail.values() for code in _codes(value)]
    if isinstance(detail, list):
        return [code for value in detail for code in _codes(value)]
    return [getattr(detail, "code", "") or ""]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's status and headers, Pacta's body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    # Keeps DRF's headers (WWW-Authenticate, Retry-After) and transaction rollback.
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    fields = None
    if isinstance(detail, dict):
        fields = {name: _messages(value) for name, value in detail.items()}
        general = fields.pop("non_field_errors", [])
        if len(fields) == 1:
            [(name, messages)] = fields.items()
            general.append(f"{name}: {' '.join(messages)}")
        elif fields:
            general.append(f"Not valid: {', '.join(fields)} (see fields).")
        message = " ".join(general)
    else:
        message = " ".join(_messages(detail))
    codes = [code for code in _codes(detail) if code]
    code = codes[0] if len(set(codes)) == 1 else exc.default_code
    response.data = {
        **api_error_document(
            status=response.status_code, code=code, message=message, fields=fields
        ),
        **getattr(exc, "beside", {}),
    }
    return response


@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v1/: the API's 404, in its one error shape, not an HTML page.

    Exempt from the CSRF check because it changes nothing: without the exemption a POST from a
    browser session is refused by the middleware with Django's HTML 403 before this answers."""
    document = api_error_document(
        status=404, code="not_found", message=f"No API endpoint at {request.path}."
    )
    return JsonResponse(document, status=404)
