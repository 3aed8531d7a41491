"""URLs of the case side's REST API, mounted at /api/v1/ by casework.config.urls after the record's.

The last pattern answers every other /api/v1/ path with the API's JSON 404, so a client
never gets an HTML page from the API.
"""

from django.urls import path, re_path

import evidence.api_urls  # noqa: F401 - registers the "pacta_text" path converter
from casework import api

app_name = "casework_api"

CASE = "cases/<pacta_text:reference>/"

urlpatterns = [
    path("cases/", api.CaseListView.as_view(), name="case-list"),
    path(CASE, api.CaseDetailView.as_view(), name="case-detail"),
    path(f"{CASE}accounts/", api.CaseAccountListView.as_view(), name="case-account-list"),
    path(f"{CASE}allegations/", api.AllegationListView.as_view(), name="allegation-list"),
    path(
        f"{CASE}allegations/<int:pk>/",
        api.AllegationDetailView.as_view(),
        name="allegation-detail",
    ),
    path(f"{CASE}notes/", api.NoteListView.as_view(), name="note-list"),
    path(f"{CASE}reports/", api.ReportJobListView.as_view(), name="report-list"),
    path(f"{CASE}reports/<int:pk>/", api.ReportJobDetailView.as_view(), name="report-detail"),
    path(f"{CASE}reports/<int:pk>/pdf/", api.ReportPdfView.as_view(), name="report-pdf"),
    path(
        f"{CASE}reports/<int:pk>/exhibits/",
        api.ReportExhibitListView.as_view(),
        name="report-exhibit-list",
    ),
    path(
        f"{CASE}reports/<int:pk>/exhibits/<int:item>/",
        api.ReportExhibitDownloadView.as_view(),
        name="report-exhibit-download",
    ),
    path(
        "ledger/<pacta_text:object_type>/<pacta_text:object_id>/",
        api.LedgerEntryListView.as_view(),
        name="ledger-entries",
    ),
    re_path(r"", api.api_not_found, name="not-found"),
]
