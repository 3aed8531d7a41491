"""The Terms over the API (`/api/v1/terms/`, `/api/v1/clauses/`): the provider's published
contract, its versions and clauses quoted verbatim, for every signed-in user.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence.api.errors import api_errors
from evidence.api.fields import QueryTextField
from evidence.api.pagination import RecordPagination
from evidence.api.parameters import query_parameters
from evidence.models import Clause, ClauseCategory, ClauseKind, TermsDocument, TermsVersion
from evidence.selectors import (
    clause_get,
    clause_list,
    terms_document_get,
    terms_documents,
    terms_version_get,
)


class TermsVersionSummarySerializer(serializers.ModelSerializer):
    # Plain text rather than `format: uri`: the field may be empty.
    source_url = serializers.CharField(read_only=True)

    class Meta:
        model = TermsVersion
        fields = ["label", "effective_date", "text_sha256", "source_url", "imported_at"]
        read_only_fields = fields


class TermsDocumentSerializer(serializers.ModelSerializer):
    versions = TermsVersionSummarySerializer(many=True, read_only=True)
    url = serializers.CharField(read_only=True)

    class Meta:
        model = TermsDocument
        fields = ["slug", "title", "url", "created_at", "versions"]
        read_only_fields = fields


class ClauseSerializer(serializers.ModelSerializer):
    document = serializers.CharField(source="version.document.slug", read_only=True)
    version = serializers.CharField(source="version.label", read_only=True)

    class Meta:
        model = Clause
        fields = [
            "id",
            "document",
            "version",
            "path",
            "heading",
            "text",
            "text_sha256",
            "kind",
            "category",
            "category_suggested",
            "position",
            "same_as",
        ]
        read_only_fields = fields


class TermsVersionSerializer(serializers.ModelSerializer):
    document = serializers.CharField(source="document.slug", read_only=True)
    source_url = serializers.CharField(read_only=True)
    clauses = serializers.SerializerMethodField()

    class Meta:
        model = TermsVersion
        fields = [
            "document",
            "label",
            "effective_date",
            "text",
            "text_sha256",
            "source_url",
            "imported_at",
            "clauses",
        ]
        read_only_fields = fields

    @extend_schema_field(ClauseSerializer(many=True))
    def get_clauses(self, version) -> list:
        clauses = version.clauses.select_related("version__document").order_by("position")
        return ClauseSerializer(clauses, many=True).data


@extend_schema(
    tags=["terms"], responses={200: TermsDocumentSerializer(many=True), **api_errors(400)}
)
class TermsDocumentListView(generics.ListAPIView):
    """`GET /api/v1/terms/`: every Terms document with its versions."""

    serializer_class = TermsDocumentSerializer
    queryset = TermsDocument.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return terms_documents(user=self.request.user)


@extend_schema(tags=["terms"], responses={200: TermsDocumentSerializer, **api_errors(404)})
class TermsDocumentDetailView(APIView):
    """`GET /api/v1/terms/<slug>/`: one document and its versions."""

    required_scopes = "read"

    def get(self, request, slug: str) -> Response:
        document = terms_document_get(user=request.user, slug=slug)
        return Response(TermsDocumentSerializer(document).data)


@extend_schema(tags=["terms"], responses={200: TermsVersionSerializer, **api_errors(404)})
class TermsVersionDetailView(APIView):
    """`GET /api/v1/terms/<slug>/versions/<label>/`: the version's text, hash and clauses."""

    required_scopes = "read"

    def get(self, request, slug: str, label: str) -> Response:
        version = terms_version_get(user=request.user, slug=slug, label=label)
        return Response(TermsVersionSerializer(version).data)


class ClauseQuery(serializers.Serializer):
    document = QueryTextField(help_text="A Terms document's slug.")
    version = QueryTextField(help_text="A version label.")
    category = serializers.ChoiceField(choices=ClauseCategory.choices, required=False)
    kind = serializers.ChoiceField(
        choices=ClauseKind.choices,
        required=False,
        help_text="operative: only the clauses conduct can breach (no titles, headings, "
        "preambles or definitions).",
    )


@extend_schema(
    tags=["terms"],
    parameters=[ClauseQuery],
    responses={200: ClauseSerializer(many=True), **api_errors(400)},
)
class ClauseListView(generics.ListAPIView):
    """`GET /api/v1/clauses/?document=&version=&category=&kind=`: clauses, quoted verbatim;
    an allegation names one by `id` (an operative one: `kind=operative`)."""

    serializer_class = ClauseSerializer
    queryset = Clause.objects.none()
    pagination_class = RecordPagination
    required_scopes = "read"

    def get_queryset(self):
        return clause_list(user=self.request.user, **query_parameters(ClauseQuery, self.request))


@extend_schema(tags=["terms"], responses={200: ClauseSerializer, **api_errors(404)})
class ClauseDetailView(APIView):
    """`GET /api/v1/clauses/<id>/`: one clause."""

    required_scopes = "read"

    def get(self, request, pk: int) -> Response:
        return Response(ClauseSerializer(clause_get(user=request.user, pk=pk)).data)
