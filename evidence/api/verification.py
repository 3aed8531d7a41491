"""The latest `verify_evidence` outcome over the API (`/api/v1/verification/`): the UI's
banner, for every signed-in user.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.selectors import verification_status


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
