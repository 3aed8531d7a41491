"""URLs of the record's REST API, mounted at /api/v1/ by casework.config.urls."""

from django.urls import path, register_converter

from evidence import api

# Path segments that reach a query: no slash, no NUL (which PostgreSQL refuses in text).
register_converter(api.TextConverter, "pacta_text")

app_name = "evidence_api"

urlpatterns = [
    path("ingest/<str:kind>/", api.IngestView.as_view(), name="ingest"),
    path("batches/", api.IngestBatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>/", api.IngestBatchDetailView.as_view(), name="batch-detail"),
    path("accounts/", api.AccountListView.as_view(), name="account-list"),
    path(
        "accounts/<pacta_text:account_id>/",
        api.AccountDetailView.as_view(),
        name="account-detail",
    ),
    path("usage-events/", api.UsageEventListView.as_view(), name="usage-event-list"),
    path("usage-events/<int:pk>/", api.UsageEventDetailView.as_view(), name="usage-event-detail"),
    path("clusters/", api.ClusterListView.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", api.ClusterDetailView.as_view(), name="cluster-detail"),
    path("findings/", api.FindingListView.as_view(), name="finding-list"),
    path("findings/<int:pk>/", api.FindingDetailView.as_view(), name="finding-detail"),
    path("terms/", api.TermsDocumentListView.as_view(), name="terms-list"),
    path("terms/<pacta_text:slug>/", api.TermsDocumentDetailView.as_view(), name="terms-detail"),
    path(
        "terms/<pacta_text:slug>/versions/<pacta_text:label>/",
        api.TermsVersionDetailView.as_view(),
        name="terms-version-detail",
    ),
    path("clauses/", api.ClauseListView.as_view(), name="clause-list"),
    path("clauses/<int:pk>/", api.ClauseDetailView.as_view(), name="clause-detail"),
    path("verification/", api.VerificationView.as_view(), name="verification"),
]
