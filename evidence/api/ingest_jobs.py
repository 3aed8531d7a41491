"""Ingest jobs over the API (`/api/v1/ingest-jobs/`): a file sent with `?async=true` (or
`Prefer: respond-async`) to `POST /api/v1/ingest/{kind}/`, watched while a worker ingests
it — bytes read of the total, lines read and rejected — then its batch and result.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from evidence.api.errors import api_errors
from evidence.api.pagination import RecordPagination
from evidence.ingest.jobs import ingest_job_list
from evidence.models import IngestJob


class IngestJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    percent = serializers.IntegerField(help_text="Bytes read of the total, as a percentage.")
    result = serializers.JSONField(
        help_text="Once done: the ingest result (`manage.py ingest --json`'s document), its "
        "first rejected lines named in `errors`; `{}` until then."
    )

    class Meta:
        model = IngestJob
        fields = [
            "id",
            "status",
            "kind",
            "format",
            "strict",
            "file_name",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "step",
            "bytes_total",
            "bytes_read",
            "lines_read",
            "lines_rejected",
            "percent",
            "batch",
            "failure_reason",
            "result",
            "updated_at",
        ]
        read_only_fields = fields


class _IngestJobReadMixin:
    serializer_class = IngestJobSerializer
    queryset = IngestJob.objects.none()
    # The machine that sends files polls its jobs with the same ingest token.
    required_scopes = "ingest"

    def get_queryset(self):
        return ingest_job_list(user=self.request.user)


@extend_schema(tags=["ingest"], responses={200: IngestJobSerializer(many=True), **api_errors(400)})
class IngestJobListView(_IngestJobReadMixin, generics.ListAPIView):
    """`GET /api/v1/ingest-jobs/?limit=&offset=`: newest first."""

    pagination_class = RecordPagination


@extend_schema(tags=["ingest"], responses={200: IngestJobSerializer, **api_errors(404)})
class IngestJobDetailView(_IngestJobReadMixin, generics.RetrieveAPIView):
    """`GET /api/v1/ingest-jobs/<id>/`: one job, with its progress while it runs."""
