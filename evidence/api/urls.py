"""URLs of the record's REST API, mounted at /api/v1/ by `casework.api_platform.urls`."""

from django.urls import path, register_converter

from evidence.api import (
    accounts,
    batches,
    clusters,
    detection_runs,
    findings,
    ingest_jobs,
    labels,
    terms,
    usage_events,
    verification,
)
from evidence.api.ingest import IngestView
from evidence.api.parameters import AccountIdConverter, TextConverter
from evidence.api.screens import AssentScreenView

# Path segments that reach a query: no slash, no NUL (which PostgreSQL refuses in text).
register_converter(TextConverter, "pacta_text")
# An account id, which may hold a slash: the rest of the path (no NUL either).
register_converter(AccountIdConverter, "pacta_account")

app_name = "evidence_api"

urlpatterns = [
    path("ingest/<str:kind>/", IngestView.as_view(), name="ingest"),
    path("assent-screens/", AssentScreenView.as_view(), name="assent-screens"),
    path("ingest-jobs/", ingest_jobs.IngestJobListView.as_view(), name="ingest-job-list"),
    path(
        "ingest-jobs/<int:pk>/", ingest_jobs.IngestJobDetailView.as_view(), name="ingest-job-detail"
    ),
    path(
        "detection-runs/", detection_runs.DetectionRunListView.as_view(), name="detection-run-list"
    ),
    path(
        "detection-runs/<int:pk>/",
        detection_runs.DetectionRunDetailView.as_view(),
        name="detection-run-detail",
    ),
    path("batches/", batches.IngestBatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>/", batches.IngestBatchDetailView.as_view(), name="batch-detail"),
    path("accounts/", accounts.AccountListView.as_view(), name="account-list"),
    path(
        "accounts/<pacta_account:account_id>/",
        accounts.AccountDetailView.as_view(),
        name="account-detail",
    ),
    path("usage-events/", usage_events.UsageEventListView.as_view(), name="usage-event-list"),
    path(
        "usage-events/<int:pk>/",
        usage_events.UsageEventDetailView.as_view(),
        name="usage-event-detail",
    ),
    path("clusters/", clusters.ClusterListView.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", clusters.ClusterDetailView.as_view(), name="cluster-detail"),
    path("findings/", findings.FindingListView.as_view(), name="finding-list"),
    path("findings/<int:pk>/", findings.FindingDetailView.as_view(), name="finding-detail"),
    path("labels/", labels.LabelListView.as_view(), name="label-list"),
    path("terms/", terms.TermsDocumentListView.as_view(), name="terms-list"),
    path("terms/<pacta_text:slug>/", terms.TermsDocumentDetailView.as_view(), name="terms-detail"),
    path(
        "terms/<pacta_text:slug>/versions/<pacta_text:label>/",
        terms.TermsVersionDetailView.as_view(),
        name="terms-version-detail",
    ),
    path("clauses/", terms.ClauseListView.as_view(), name="clause-list"),
    path("clauses/<int:pk>/", terms.ClauseDetailView.as_view(), name="clause-detail"),
    path("verification/", verification.VerificationView.as_view(), name="verification"),
]
