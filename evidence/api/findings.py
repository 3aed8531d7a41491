"""Detection's findings over the API (`/api/v1/findings/`): what each detector measured,
against which baseline.

Record readers only (`evidence.selectors`): anyone else sees empty lists and 404s.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.api.fields import QueryBooleanField, QueryIntegerField, QueryTextField
from evidence.api.pagination import RecordPagination
from evidence.api.parameters import MAX_ID, query_parameters
from evidence.models import Finding
from evidence.selectors import finding_get, finding_list


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
