"""The URL map of the API, mounted at the site's root by casework.config.urls: under /api/v1/
the record's endpoints (`evidence.api.urls`), then the case side's (views in
`casework.api`), then the API's JSON 404 for every other path, so a client never gets an
HTML page from the API; beside them the OpenAPI schema (/api/schema/) and its
documentation (/api/docs/).
"""

from django.urls import include, path, re_path

from casework import api, api_elements, api_productions
from casework.api_platform.errors import api_not_found
from casework.api_platform.schema import DocsView, SchemaView

# Importing it also registers the "pacta_text" path converter the case routes use.
from evidence.api import urls as record_api_urls

CASE = "cases/<pacta_text:reference>/"

case_api_urlpatterns = [
    path("cases/", api.CaseListView.as_view(), name="case-list"),
    path(CASE, api.CaseDetailView.as_view(), name="case-detail"),
    path(f"{CASE}accounts/", api.CaseAccountListView.as_view(), name="case-account-list"),
    path(f"{CASE}allegations/", api.AllegationListView.as_view(), name="allegation-list"),
    path(
        f"{CASE}allegations/<int:pk>/",
        api.AllegationDetailView.as_view(),
        name="allegation-detail",
    ),
    path(f"{CASE}elements/", api_elements.CaseElementsView.as_view(), name="case-elements"),
    path(f"{CASE}notes/", api.NoteListView.as_view(), name="note-list"),
    path(
        f"{CASE}output-evidence/",
        api.OutputEvidenceListView.as_view(),
        name="output-evidence-list",
    ),
    path(f"{CASE}declarant/", api.CaseDeclarantView.as_view(), name="case-declarant"),
    path(f"{CASE}reports/", api.ReportJobListView.as_view(), name="report-list"),
    path(f"{CASE}reports/<int:pk>/", api.ReportJobDetailView.as_view(), name="report-detail"),
    path(f"{CASE}reports/<int:pk>/pdf/", api.ReportPdfView.as_view(), name="report-pdf"),
    path(
        f"{CASE}reports/<int:pk>/reviews/",
        api.ReportReviewListView.as_view(),
        name="report-review-list",
    ),
    path(f"{CASE}reports/<int:pk>/final/", api.ReportFinalView.as_view(), name="report-final"),
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
        f"{CASE}productions/",
        api_productions.ProductionJobListView.as_view(),
        name="production-list",
    ),
    path(
        f"{CASE}productions/<int:pk>/",
        api_productions.ProductionJobDetailView.as_view(),
        name="production-detail",
    ),
    path(
        f"{CASE}productions/<int:pk>/zip/",
        api_productions.ProductionZipView.as_view(),
        name="production-zip",
    ),
    path(
        f"{CASE}productions/<int:pk>/files/",
        api_productions.ProductionFileListView.as_view(),
        name="production-file-list",
    ),
    path(
        f"{CASE}productions/<int:pk>/files/<path:path>",
        api_productions.ProductionFileView.as_view(),
        name="production-file",
    ),
    path(
        "ledger/<pacta_text:object_type>/<pacta_account:object_id>/",
        api.LedgerEntryListView.as_view(),
        name="ledger-entries",
    ),
    re_path(r"", api_not_found, name="not-found"),
]

urlpatterns = [
    path("api/v1/", include(record_api_urls)),
    path("api/v1/", include((case_api_urlpatterns, "casework_api"))),
    path("api/schema/", SchemaView.as_view(), name="api_schema"),
    path("api/docs/", DocsView.as_view(url_name="api_schema"), name="api_docs"),
]
