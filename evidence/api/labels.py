"""Investigator-confirmed labels over the API (`/api/v1/labels/`): an account confirmed
benign or abusive, and why.

GET lists them for record readers (anyone else sees an empty list); POST records one, for
the roles that may add to the record (`evidence.access.record_writer`), through the same
service as `manage.py label_account`. Tokens need `read` for GET and `write` for POST.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response

from evidence.access import record_writer
from evidence.api.errors import api_errors, bad_parameter
from evidence.api.fields import QueryBooleanField, QueryTextField, StrictCharField
from evidence.api.pagination import RecordPagination
from evidence.api.parameters import query_parameters
from evidence.labels import LABEL_REFUSED, REASON_MAX, LabelError, Verdict, account_label
from evidence.models import ConfirmedLabel
from evidence.selectors import confirmed_label_list


class ConfirmedLabelSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", read_only=True)

    class Meta:
        model = ConfirmedLabel
        fields = ["id", "account_id", "verdict", "reason", "actor", "created_at"]
        read_only_fields = fields


class LabelRequestSerializer(serializers.Serializer):
    account_id = StrictCharField(max_length=200, help_text="The account, as the record names it.")
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    reason = StrictCharField(
        max_length=REASON_MAX, help_text="What confirmed the verdict (required)."
    )


class LabelQuery(serializers.Serializer):
    account = QueryTextField(help_text="Only this account's labels.")
    current = QueryBooleanField(
        required=False, help_text="true: only the verdict in force for each account."
    )


class LabelListView(generics.ListAPIView):
    serializer_class = ConfirmedLabelSerializer
    queryset = ConfirmedLabel.objects.none()
    pagination_class = RecordPagination
    required_scopes = {"GET": "read", "POST": "write"}

    def get_queryset(self):
        filters = query_parameters(LabelQuery, self.request)
        return confirmed_label_list(user=self.request.user, **filters)

    @extend_schema(
        tags=["record"],
        parameters=[LabelQuery],
        responses={200: ConfirmedLabelSerializer(many=True), **api_errors(400)},
    )
    def get(self, request, *args, **kwargs):
        """`GET /api/v1/labels/?account=&current=`: investigators' verdicts, oldest first."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["record"],
        request=LabelRequestSerializer,
        responses={201: ConfirmedLabelSerializer, **api_errors(400, 415)},
    )
    def post(self, request) -> Response:
        """`POST /api/v1/labels/`: confirm an account benign or abusive, with the reason.
        A change of mind is a new label; the latest one is the verdict in force. An
        unknown account is a 400 naming `account_id`; a role that may not add to the
        record is a 403."""
        if not record_writer(request.user):  # before the body is read
            raise exceptions.PermissionDenied(LABEL_REFUSED)
        body = LabelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            label = account_label(actor=request.user, **body.validated_data)
        except LabelError as exc:
            raise bad_parameter(exc.field, str(exc)) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response(ConfirmedLabelSerializer(label).data, status=status.HTTP_201_CREATED)
