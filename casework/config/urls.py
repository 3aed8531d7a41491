"""URL map: the case UI, the admin and the API (under /api/v1/)."""

import re

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from casework import record_pages, screen_pages, timeline_views, views, work_pages
from casework.countermeasures import views as countermeasure_views


class AccountPageConverter:
    """An account id in a page's URL, written so that nothing on the way changes which
    account the link names.

    Account ids are the provider's and may hold anything. A `/` would end the segment,
    and browsers and proxies rewrite `.` and `..` segments and doubled slashes before
    Pacta sees the path (so `acct/../other` would open `other`). A link therefore writes
    every character but letters, digits and `-._:@` as `~` and the two hex digits of each
    of its UTF-8 bytes (`acct/1` is `acct~2F1`, `acct 1` is `acct~201`, `~` is `~7E`), and
    the dots of an id made only of dots likewise; an ordinary id reads as it is.
    """

    regex = r"[^/\x00]+"
    _escapes = re.compile(r"(?:~[0-9A-F]{2})+")
    _plain = frozenset("-._:@")

    def to_python(self, value: str) -> str:
        if "~" in self._escapes.sub("", value):
            raise ValueError("a ~ not followed by two hex digits")  # no such page: 404
        try:
            account_id = self._escapes.sub(
                lambda m: bytes.fromhex(m.group(0).replace("~", "")).decode("utf-8"), value
            )
        except UnicodeDecodeError as exc:
            raise ValueError("escapes that are not UTF-8") from exc
        if "\x00" in account_id:
            raise ValueError("a NUL byte")
        return account_id

    def to_url(self, value: str) -> str:
        value = str(value)
        dots_only = not value.strip(".")
        return "".join(
            ch
            if (ch.isalnum() or ch in self._plain) and not (dots_only and ch == ".")
            else "".join(f"~{byte:02X}" for byte in ch.encode("utf-8"))
            for ch in value
        )


register_converter(AccountPageConverter, "account")

admin.site.site_header = "Pacta administration"
admin.site.site_title = "Pacta"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/<account:account_id>/", record_pages.account_detail, name="account_detail"),
    path("clusters/", record_pages.cluster_index, name="cluster_index"),
    path("clusters/<int:pk>/", record_pages.cluster_detail, name="cluster_detail"),
    path("search/", record_pages.search, name="search"),
    path("detection-runs/", work_pages.detection_runs, name="detection_runs"),
    path("detection-runs/<int:pk>/", work_pages.detection_run_page, name="detection_run_page"),
    path("ingest/", work_pages.ingest_upload, name="ingest_upload"),
    path("ingest/<int:pk>/", work_pages.ingest_job_page, name="ingest_job_page"),
    path("terms/", record_pages.terms_index, name="terms_index"),
    path("screens/<int:pk>/file/", screen_pages.assent_screen_file, name="assent_screen_file"),
    path("terms/<slug:slug>/<str:label>/", record_pages.terms_version, name="terms_version"),
    path(
        "terms/<slug:slug>/<str:old>/compare/<str:new>/",
        record_pages.terms_compare,
        name="terms_compare",
    ),
    path("clauses/<int:pk>/", record_pages.clause_detail, name="clause_detail"),
    path("cases/", views.case_index, name="case_index"),
    path("cases/<str:reference>/", views.case_detail, name="case_detail"),
    path("cases/<str:reference>/accounts/", views.case_attribute, name="case_attribute"),
    path("cases/<str:reference>/allegations/", views.case_allege, name="case_allege"),
    path("cases/<str:reference>/notes/", views.case_note, name="case_note"),
    path(
        "cases/<str:reference>/output-evidence/",
        views.case_output_evidence,
        name="case_output_evidence",
    ),
    path("cases/<str:reference>/actions/", views.case_action_propose, name="case_action_propose"),
    path(
        "cases/<str:reference>/actions/<int:pk>/approve/",
        views.case_action_approve,
        name="case_action_approve",
    ),
    path(
        "cases/<str:reference>/actions/<int:pk>/send/",
        countermeasure_views.case_action_send,
        name="case_action_send",
    ),
    path(
        "cases/<str:reference>/actions/<int:pk>/confirm/",
        countermeasure_views.case_action_confirm,
        name="case_action_confirm",
    ),
    path(
        "cases/<str:reference>/actions/<int:pk>/reverse/",
        countermeasure_views.case_action_reverse,
        name="case_action_reverse",
    ),
    path(
        "cases/<str:reference>/actions/csv/",
        countermeasure_views.case_actions_csv,
        name="case_actions_csv",
    ),
    path("cases/<str:reference>/notices/", views.case_notice_send, name="case_notice_send"),
    path("cases/<str:reference>/members/", views.case_member, name="case_member"),
    path("cases/<str:reference>/hold/", views.case_hold, name="case_hold"),
    path("cases/<str:reference>/reports/", views.case_report_request, name="case_report_request"),
    path(
        "cases/<str:reference>/productions/",
        views.case_production_request,
        name="case_production_request",
    ),
    path(
        "cases/<str:reference>/productions/<int:pk>/", views.case_production, name="case_production"
    ),
    path(
        "cases/<str:reference>/productions/<int:pk>/zip/",
        views.case_production_zip,
        name="case_production_zip",
    ),
    path("cases/<str:reference>/reports/<int:pk>/", views.case_report, name="case_report"),
    path(
        "cases/<str:reference>/reports/<int:pk>/review/",
        views.case_report_review,
        name="case_report_review",
    ),
    path(
        "cases/<str:reference>/reports/<int:pk>/declarant/",
        views.case_report_declarant,
        name="case_report_declarant",
    ),
    path(
        "cases/<str:reference>/reports/<int:pk>/final/",
        views.case_report_final,
        name="case_report_final",
    ),
    path(
        "cases/<str:reference>/reports/<int:pk>/pdf/", views.case_report_pdf, name="case_report_pdf"
    ),
    path("cases/<str:reference>/audit/", views.case_audit_page, name="case_audit"),
    path(
        "cases/<str:reference>/timeline/",
        timeline_views.case_timeline_page,
        name="case_timeline",
    ),
    path(
        "cases/<str:reference>/timeline.csv",
        timeline_views.case_timeline_csv,
        name="case_timeline_csv",
    ),
    path(
        "cases/<str:reference>/files/<int:pk>/download/",
        views.case_file_download,
        name="case_file_download",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # /api/v1/ (both apps' endpoints), /api/schema/ and /api/docs/.
    path("", include("casework.api_platform.urls")),
]
