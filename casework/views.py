"""HTML views for the case side: thin, they parse input, call a selector or service, render."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from casework import services
from casework.selectors import case_audit, case_file_get, case_files, case_get, case_list
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


@login_required
@require_GET
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    services.case_viewed(actor=request.user, case=case)
    accounts = case.case_accounts.select_related("account").order_by("account__account_id")
    return render(
        request,
        "casework/case_detail.html",
        {
            "case": case,
            "accounts": accounts[:500],
            "accounts_total": accounts.count(),
            "files": case_files(user=request.user, case=case),
        },
    )


@login_required
@require_GET
def case_audit_page(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    entries = case_audit(user=request.user, case=case)
    return render(request, "casework/case_audit.html", {"case": case, "entries": entries})


@login_required
@require_GET
def case_file_download(request: HttpRequest, reference: str, pk: int) -> FileResponse:
    case = case_get(user=request.user, reference=reference)
    item = case_file_get(user=request.user, case=case, pk=pk)
    services.evidence_item_exported(actor=request.user, item=item, case=case)
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.file_name)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for scripts (`make demo` waits on it): the app answers and the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
