"""The record's usage events over the API (`/api/v1/usage-events/`), filtered and paged by cursor.

Record readers only (`evidence.selectors`): anyone else sees empty pages and 404s.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.api.fields import QueryTextField, Rfc3339Field
from evidence.api.parameters import query_int, query_parameters
from evidence.models import UsageEvent
from evidence.selectors import usage_event_get, usage_event_list


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
        return query_int(
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
