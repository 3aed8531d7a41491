"""HTML pages of the case timeline and its CSV download: thin, they parse the request,
call `casework.timeline` and render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from casework import services
from casework.selectors import case_get
from casework.timeline import (
    GROUPS,
    TIMELINE_PAGE_ROWS,
    TimelineError,
    case_timeline,
    case_timeline_export,
    timeline_groups,
)


def _groups_or_error(request: HttpRequest) -> tuple[frozenset[str], str]:
    try:
        return timeline_groups(request.GET.getlist("group")), ""
    except TimelineError as exc:
        return frozenset(), str(exc)


@login_required
@require_GET
def case_timeline_page(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    groups, error = _groups_or_error(request)
    context = {"case": case, "group_choices": GROUPS.items(), "selected": groups, "error": error}
    if error:
        return render(request, "casework/case_timeline.html", context, status=400)
    timeline = case_timeline(user=request.user, case=case, groups=groups)
    services.case_viewed(actor=request.user, case=case, page="timeline")
    paginator = Paginator(timeline.events, TIMELINE_PAGE_ROWS)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except (PageNotAnInteger, EmptyPage):
        context["error"] = (
            f"page must be a whole number from 1 to {paginator.num_pages} "
            f"(got {request.GET.get('page')!r})"
        )
        return render(request, "casework/case_timeline.html", context, status=400)
    query = "".join(f"&group={name}" for name in GROUPS if name in groups)
    context.update(
        {
            "timeline": timeline,
            "page": page,
            "query": query if groups != frozenset(GROUPS) else "",
        }
    )
    return render(request, "casework/case_timeline.html", context)


@login_required
@require_GET
def case_timeline_csv(request: HttpRequest, reference: str) -> HttpResponse:
    """The timeline the user sees (the groups chosen, every page) as a CSV download."""
    case = case_get(user=request.user, reference=reference)
    groups, error = _groups_or_error(request)
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    file_name, data = case_timeline_export(actor=request.user, case=case, groups=groups)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response
