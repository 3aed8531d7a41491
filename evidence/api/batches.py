"""The record's ingest batches over the API (`/api/v1/batches/`): where each file came from,
when, and what was accepted, duplicated or rejected.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from evidence.api.errors import api_errors
from evidence.api.pagination import RecordPagination
from evidence.models import IngestBatch
from evidence.selectors import record_batch_list


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
