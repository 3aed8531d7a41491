"""Detection's clusters over the API (`/api/v1/clusters/`): accounts joined by links, with
the links' evidence.

Record readers only (`evidence.selectors`): anyone else sees empty lists and 404s.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.api.fields import QueryIntegerField
from evidence.api.pagination import RecordPagination
from evidence.api.parameters import MAX_ID, query_parameters
from evidence.models import Band, Cluster
from evidence.selectors import cluster_get, cluster_links, cluster_list


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
        fields = [
            "id",
            "identity",
            "run",
            "score",
            "band",
            "size",
            "explanation",
            "evidence",
            "members",
        ]
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
