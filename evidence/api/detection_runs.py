"""Detection runs over the API (`/api/v1/detection-runs/`): ask for one (it runs on a
worker), and watch it go — status, the step it is on, detectors done of all.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response

from evidence.api.errors import api_errors
from evidence.api.pagination import RecordPagination
from evidence.detectors.jobs import detection_run_request
from evidence.detectors.selectors import detection_run_list
from evidence.models import DetectionProgress, DetectionRun


class DetectionProgressSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(help_text="Detectors done of all, as a percentage.")

    class Meta:
        model = DetectionProgress
        fields = [
            "step",
            "detectors_done",
            "detectors_total",
            "accounts_active",
            "rows_processed",
            "percent",
            "updated_at",
        ]
        read_only_fields = fields


class DetectionRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    clusters = serializers.SerializerMethodField()

    class Meta:
        model = DetectionRun
        fields = [
            "id",
            "status",
            "actor",
            "requested_by",
            "started_at",
            "finished_at",
            "progress",
            "clusters",
            "digest",
            "error",
        ]
        read_only_fields = fields

    def get_requested_by(self, run: DetectionRun) -> str | None:
        progress = getattr(run, "progress", None)
        user = progress.requested_by if progress else None
        return user.get_username() if user else None

    @extend_schema_field(DetectionProgressSerializer(allow_null=True))
    def get_progress(self, run: DetectionRun) -> dict | None:
        """None for a run started by `manage.py detect` (nobody asked to watch it)."""
        progress = getattr(run, "progress", None)
        return DetectionProgressSerializer(progress).data if progress else None

    def get_clusters(self, run: DetectionRun) -> int | None:
        """How many clusters the run found, once it has finished."""
        return (run.counts or {}).get("clusters") if run.status == run.Status.FINISHED else None


class DetectionRunRequestSerializer(serializers.Serializer):
    """What a run may be asked to cover; both optional (the whole record)."""

    window_start = serializers.DateTimeField(required=False, allow_null=True)
    window_end = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        start, end = attrs.get("window_start"), attrs.get("window_end")
        if start and end and start > end:
            raise serializers.ValidationError({"window_end": ["must not be before window_start"]})
        return attrs


class _DetectionRunReadMixin:
    serializer_class = DetectionRunSerializer
    queryset = DetectionRun.objects.none()

    def get_queryset(self):
        return detection_run_list(user=self.request.user)


class DetectionRunListView(_DetectionRunReadMixin, generics.ListAPIView):
    """`GET /api/v1/detection-runs/`: newest first. `POST`: ask for a run."""

    pagination_class = RecordPagination
    # Running detection adds findings to the record: a writing token, and a writer's role.
    required_scopes = {"GET": "read", "POST": "write"}

    @extend_schema(
        tags=["record"],
        responses={200: DetectionRunSerializer(many=True), **api_errors(400)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["record"],
        operation_id="detection_run_request",
        summary="Ask for a detection run over the record (runs on a worker)",
        request=DetectionRunRequestSerializer,
        responses={202: DetectionRunSerializer, **api_errors(400, 415)},
        description=(
            'The body is optional: `{"window_start", "window_end"}` (ISO 8601) limits '
            "the run to the usage between them. "
            "Answers 202 at once with the queued run and a `Location` header: poll it "
            "(`GET /api/v1/detection-runs/{id}/`) for `status` (queued, running, finished, "
            "failed) and `progress`. 403 for a token without the `write` scope or a user "
            "whose role may not add to the record (admin, counsel and investigator may)."
        ),
    )
    def post(self, request, *args, **kwargs):
        # No body asks for the whole record (DRF reads it as an empty mapping); a body that
        # is not a JSON object (null, a list) is refused by the serializer, not taken as one.
        asked = DetectionRunRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        try:
            run = detection_run_request(actor=request.user, **asked.validated_data)
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        run = self.get_queryset().get(pk=run.pk)
        location = reverse("evidence_api:detection-run-detail", kwargs={"pk": run.pk})
        return Response(
            DetectionRunSerializer(run).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


@extend_schema(tags=["record"], responses={200: DetectionRunSerializer, **api_errors(404)})
class DetectionRunDetailView(_DetectionRunReadMixin, generics.RetrieveAPIView):
    """`GET /api/v1/detection-runs/<id>/`: one run, with its progress while it runs."""

    required_scopes = "read"
