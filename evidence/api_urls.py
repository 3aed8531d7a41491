"""URLs of the record's REST API, mounted at /api/v1/ by casework.urls."""

from django.urls import path

from evidence import api

app_name = "evidence_api"

urlpatterns = [
    path("ingest/<str:kind>/", api.IngestView.as_view(), name="ingest"),
    path("batches/", api.IngestBatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>/", api.IngestBatchDetailView.as_view(), name="batch-detail"),
]
