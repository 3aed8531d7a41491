"""HTML views for the case side: thin, they parse input, call a selector or service, render."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from casework.selectors import case_list
from evidence.selectors import record_summary


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "casework/home.html",
        {
            "cases": case_list(user=request.user).filter(status="open")[:50],
            "record": record_summary(),
        },
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for scripts (`make demo` waits on it): the app answers and the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
