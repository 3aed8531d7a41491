"""URL map: the case UI, the admin and the API (under /api/v1/)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from casework import record_pages, views

admin.site.site_header = "Pacta administration"
admin.site.site_title = "Pacta"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/<str:account_id>/", record_pages.account_detail, name="account_detail"),
    path("clusters/", record_pages.cluster_index, name="cluster_index"),
    path("clusters/<int:pk>/", record_pages.cluster_detail, name="cluster_detail"),
    path("terms/", record_pages.terms_index, name="terms_index"),
    path("terms/<slug:slug>/<str:label>/", record_pages.terms_version, name="terms_version"),
    path(
        "terms/<slug:slug>/<str:old>/compare/<str:new>/",
        record_pages.terms_compare,
        name="terms_compare",
    ),
    path("cases/", views.case_index, name="case_index"),
    path("cases/<str:reference>/", views.case_detail, name="case_detail"),
    path("cases/<str:reference>/accounts/", views.case_attribute, name="case_attribute"),
    path("cases/<str:reference>/allegations/", views.case_allege, name="case_allege"),
    path("cases/<str:reference>/notes/", views.case_note, name="case_note"),
    path("cases/<str:reference>/members/", views.case_member, name="case_member"),
    path("cases/<str:reference>/hold/", views.case_hold, name="case_hold"),
    path("cases/<str:reference>/reports/", views.case_report_request, name="case_report_request"),
    path("cases/<str:reference>/reports/<int:pk>/", views.case_report, name="case_report"),
    path(
        "cases/<str:reference>/reports/<int:pk>/pdf/", views.case_report_pdf, name="case_report_pdf"
    ),
    path("cases/<str:reference>/audit/", views.case_audit_page, name="case_audit"),
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
