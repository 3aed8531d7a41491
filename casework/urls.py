"""URL map: the case UI, the admin and the API (under /api/v1/)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from casework import views

admin.site.site_header = "Pacta administration"
admin.site.site_title = "Pacta"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("cases/<str:reference>/", views.case_detail, name="case_detail"),
    path("cases/<str:reference>/audit/", views.case_audit_page, name="case_audit"),
    path(
        "cases/<str:reference>/files/<int:pk>/download/",
        views.case_file_download,
        name="case_file_download",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("evidence.api_urls")),
]
