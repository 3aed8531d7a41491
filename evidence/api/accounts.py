"""The record's accounts over the API (`/api/v1/accounts/`), each as its account system had it.

Record readers only (`evidence.selectors`): anyone else sees empty lists and 404s.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.api.pagination import RecordPagination
from evidence.custody.canonical import ACCOUNT_PROFILE_FIELDS
from evidence.models import Account
from evidence.selectors import account_list, account_profile


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "account_id",
            *ACCOUNT_PROFILE_FIELDS,
            "seen_only_in_usage",
            "content_sha256",
            "batch",
            "recorded_at",
        ]
        read_only_fields = fields


@extend_schema(tags=["record"], responses={200: AccountSerializer(many=True), **api_errors(400)})
class AccountListView(generics.ListAPIView):
    """`GET /api/v1/accounts/`: accounts in id order."""

    serializer_class = AccountSerializer
    queryset = Account.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return account_list(user=self.request.user)


@extend_schema(tags=["record"], responses={200: AccountSerializer, **api_errors(404)})
class AccountDetailView(APIView):
    """`GET /api/v1/accounts/<account_id>/`: one account's profile as its account system had it."""

    required_scopes = "read"

    def get(self, request, account_id: str) -> Response:
        account = account_profile(user=request.user, account_id=account_id)
        return Response(AccountSerializer(account).data)
