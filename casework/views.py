"""HTML views for the case side: thin, they parse input, call a selector or service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseGone,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from casework import services
from casework.countermeasures.forms import ActionProposeForm, NoticeForm
from casework.countermeasures.models import EnforcementAction
from casework.countermeasures.notices import NoticeError, notice_send
from casework.countermeasures.selectors import case_countermeasures
from casework.countermeasures.services import ActionError, action_approve, action_propose
from casework.elements_live import case_elements
from casework.forms import (
    AllegationForm,
    AttributeForm,
    CaseAccountFilterForm,
    CaseOpenForm,
    ClausesOffered,
    MemberForm,
    NoteForm,
    OutputEvidenceForm,
)
from casework.models import CaseAccount, ReportJob
from casework.permissions import (
    MANAGE,
    MEMBERS,
    NOTE,
    REPORT,
    WORK_PRODUCT,
    case_can,
    case_require,
)
from casework.production.build import ProductionError
from casework.production.jobs import production_job_exported, production_job_request
from casework.reports import ReportError, report_job_request
from casework.reports.review import (
    ReviewError,
    report_final_request,
    report_review,
    report_sign_off,
    reviewer_role,
)
from casework.reports.signing import SigningError
from casework.selectors import (
    case_audit,
    case_clauses_in_force,
    case_file_get,
    case_get,
    case_list,
    case_overview,
    case_production_get,
    case_report_job_get,
    case_reports_overview,
    production_job_zip,
    report_job_reviews,
    reports_verification,
)
from casework.templatetags.pacta import counted
from evidence.selectors import clusters_new_since, record_summary


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    since = services.home_visit(user=request.user)
    return render(
        request,
        "casework/home.html",
        {
            "cases": case_list(user=request.user).filter(status="open")[:50],
            "record": record_summary(),
            "since": since,
            "new_clusters": clusters_new_since(user=request.user, since=since),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_index(request: HttpRequest) -> HttpResponse:
    form = CaseOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_open(actor=request.user, **form.cleaned_data)
        except services.CaseError as exc:
            form.add_error("reference", str(exc))
        else:
            messages.success(request, f"Case {case.reference} opened.")
            return redirect("case_detail", reference=case.reference)
    return render(
        request,
        "casework/case_index.html",
        {
            "cases": case_list(user=request.user),
            "form": form,
            "may_open": services.may_open_cases(request.user),
        },
        status=400 if form.errors else 200,
    )


def _case_page(
    request: HttpRequest,
    case,
    *,
    forms: dict | None = None,
    refused: dict | None = None,
    status: int = 200,
):
    """The case page, with any forms that failed validation shown with their errors;
    `refused` holds what a service refused of the forms without a Django form (reports,
    productions): {form: {"errors": {field: message}, "values": the POST}}, shown beside
    the field at fault."""
    forms = forms or {}
    for form in forms.values():
        _focus_first_error(form)
    account_filter = CaseAccountFilterForm(request.GET, prefix="accounts")
    account_filter.is_valid()
    context = case_overview(
        user=request.user,
        case=case,
        accounts_page=request.GET.get("accounts", 1),
        accounts_filter={
            "find": account_filter.cleaned_data.get("find", ""),
            "on_basis": account_filter.cleaned_data.get("basis", ""),
        },
    )
    clauses = ClausesOffered(context["clauses_in_force"])  # read once for both pickers
    context.update(
        {
            "attribute_form": forms.get("attribute") or AttributeForm(),
            "allegation_form": forms.get("allegation") or AllegationForm(clauses=clauses),
            "note_form": forms.get("note") or NoteForm(),
            "member_form": forms.get("member") or MemberForm(),
            "countermeasures": case_countermeasures(user=request.user, case=case),
            "action_form": forms.get("action") or ActionProposeForm(clauses=clauses),
            "notice_form": forms.get("notice") or NoticeForm(),
            "output_evidence_form": forms.get("output_evidence") or OutputEvidenceForm(),
            "may_attach_use": services.may_attach_output_evidence(request.user, case),
            "refused": refused or {},
            "account_filter": account_filter,
            "elements": case_elements(user=request.user, case=case, measured=context),
        }
    )
    return render(request, "casework/case_detail.html", context, status=status)


def _focus_first_error(form) -> None:
    """Put the cursor (and the browser's scroll) on the first field in error, so a refused
    form is seen where it is, even far down the page."""
    for name in form.fields:
        if name in form.errors:
            form.fields[name].widget.attrs["autofocus"] = True
            return


@login_required
@require_GET
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    services.case_viewed(actor=request.user, case=case)
    return _case_page(request, case)


@login_required
@require_POST
def case_attribute(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    form = AttributeForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, forms={"attribute": form}, status=400)
    attribution = services.case_accounts_attribute(
        actor=request.user,
        case=case,
        accounts=form.cleaned_data["accounts"],
        basis=form.cleaned_data["basis"],
        detail=form.cleaned_data["detail"],
    )
    basis = CaseAccount.Basis(form.cleaned_data["basis"]).label
    messages.success(request, _attribution_said(attribution, basis=basis))
    return redirect("case_detail", reference=case.reference)


def _attribution_said(attribution, *, basis: str) -> str:
    """What an attribution did, in one sentence: never "0 accounts attributed." when the
    accounts were already attributed and gained a basis."""
    said = []
    if attribution.added:
        said.append(f"{counted(attribution.added, 'account')} attributed ({basis})")
    if attribution.basis_added:
        which = "second" if attribution.second else "further"
        said.append(
            f"{counted(attribution.basis_added, 'account')} already attributed: "
            f"{which} basis recorded ({basis})"
        )
    if attribution.unchanged:
        n = attribution.unchanged
        said.append(
            f"{counted(n, 'account')} already {'rests' if n == 1 else 'rest'} on this basis: "
            "nothing to add"
        )
    return "; ".join(said) + "."


@login_required
@require_POST
def case_allege(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    # The page offers the version in force at the end of the case window (one per
    # document, so the choices read unambiguously); the service holds the full rule.
    form = AllegationForm(request.POST, clauses=ClausesOffered(case_clauses_in_force(case=case)))
    if not form.is_valid():
        return _case_page(request, case, forms={"allegation": form}, status=400)
    try:
        services.allegation_add(
            actor=request.user,
            case=case,
            clause=form.cleaned_data["clause"],
            theory=form.cleaned_data["theory"],
            evidence_item_ids=form.cleaned_data["evidence_items"],
        )
    except services.CaseError as exc:
        form.add_error(exc.field or "theory", str(exc))
        return _case_page(request, case, forms={"allegation": form}, status=400)
    messages.success(request, "Allegation added.")
    return redirect("case_detail", reference=case.reference)


@login_required
@require_POST
def case_output_evidence(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, NOTE)
    form = OutputEvidenceForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, forms={"output_evidence": form}, status=400)
    try:
        attached = services.case_output_evidence_attach(
            actor=request.user, case=case, **form.cleaned_data
        )
    except services.CaseError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return _case_page(request, case, forms={"output_evidence": form}, status=400)
    messages.success(
        request,
        f"{counted(len(attached), 'item')} of evidence of use attached"
        + ("." if attached else ": the case already holds what was named."),
    )
    return redirect(f"{reverse('case_detail', args=[case.reference])}#use-heading")


@login_required
@require_POST
def case_action_propose(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, NOTE)
    # The clauses offered are those the allegation form offers; the service holds the rule.
    form = ActionProposeForm(request.POST, clauses=ClausesOffered(case_clauses_in_force(case=case)))
    if not form.is_valid():
        return _case_page(request, case, forms={"action": form}, status=400)
    try:
        action = action_propose(actor=request.user, case=case, **form.cleaned_data)
    except ActionError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, str(exc))
        return _case_page(request, case, forms={"action": form}, status=400)
    messages.success(request, f"{action.get_kind_display()} proposed.")
    return redirect(f"{reverse('case_detail', args=[case.reference])}#countermeasures-heading")


@login_required
@require_POST
def case_action_approve(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, MANAGE)
    action = get_object_or_404(EnforcementAction, case=case, pk=pk)
    try:
        action_approve(actor=request.user, action=action)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{action.get_kind_display()} approved.")
    return redirect(f"{reverse('case_detail', args=[case.reference])}#countermeasures-heading")


@login_required
@require_POST
def case_notice_send(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, MANAGE)
    form = NoticeForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, forms={"notice": form}, status=400)
    try:
        notice = notice_send(actor=request.user, case=case, **form.cleaned_data)
    except NoticeError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return _case_page(request, case, forms={"notice": form}, status=400)
    except SigningError as exc:
        form.add_error(None, str(exc))
        return _case_page(request, case, forms={"notice": form}, status=400)
    if notice.delivery == notice.Delivery.SENT:
        messages.success(request, f"{notice.get_kind_display()} {notice.reference} sent.")
    else:
        messages.error(
            request,
            f"{notice.get_kind_display()} {notice.reference} was signed and kept, but sending "
            f"failed: {notice.delivery_error}",
        )
    return redirect(f"{reverse('case_detail', args=[case.reference])}#countermeasures-heading")


@login_required
@require_POST
def case_note(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, forms={"note": form}, status=400)
    services.note_add(actor=request.user, case=case, text=form.cleaned_data["text"])
    messages.success(request, "Note added.")
    return redirect("case_detail", reference=case.reference)


@login_required
@require_POST
def case_member(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    # Refused before the form is read: it answers whether a username exists.
    case_require(request.user, case, MEMBERS)
    form = MemberForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, forms={"member": form}, status=400)
    try:
        services.case_member_add(
            actor=request.user,
            case=case,
            user=form.cleaned_data["username"],
            role=form.cleaned_data["role"],
        )
    except services.CaseError as exc:
        form.add_error(exc.field or "role", str(exc))
        return _case_page(request, case, forms={"member": form}, status=400)
    messages.success(request, "Membership updated.")
    return redirect("case_detail", reference=case.reference)


@login_required
@require_POST
def case_hold(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    try:
        if request.POST.get("hold") == "on":
            services.case_hold_place(actor=request.user, case=case)
            messages.success(request, "Legal hold placed: linked material is preserved.")
        else:
            services.case_hold_release(actor=request.user, case=case)
            messages.success(request, "Legal hold released.")
    except services.CaseError as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", reference=case.reference)


@login_required
@require_http_methods(["GET", "POST"])
def case_report_request(request: HttpRequest, reference: str) -> HttpResponse:
    """GET: the case's reports (the address a report page's "Back" and a typed URL reach);
    POST: request one."""
    case = case_get(user=request.user, reference=reference)
    if request.method == "GET":
        context = case_reports_overview(user=request.user, case=case)
        context.update({"case": case, "can": {"report": case_can(request.user, case, REPORT)}})
        return render(request, "casework/case_reports.html", context)
    case_require(request.user, case, REPORT)
    edition = request.POST.get("edition", "")
    try:
        job = report_job_request(actor=request.user, case=case, edition=edition, enqueue=True)
    except ReportError as exc:
        # Every refusal of a request concerns the one choice the form offers.
        refused = {"report": {"errors": {"edition": str(exc)}, "values": request.POST}}
        return _case_page(request, case, refused=refused, status=400)
    return redirect("case_report", reference=case.reference, pk=job.pk)


@login_required
@require_GET
def case_report(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    job = case_report_job_get(user=request.user, case=case, pk=pk)
    final_job = None if job.final else ReportJob.objects.filter(draft=job).first()
    # Reviewers' decisions and comments are work product, as the notes are.
    sign_off = report_sign_off(job=job) if case_can(request.user, case, WORK_PRODUCT) else None
    open_draft = not job.final and job.status == job.Status.DONE and final_job is None
    return render(
        request,
        "casework/report_job.html",
        {
            "case": case,
            "job": job,
            "report_verification": reports_verification(jobs=[job]).get(job.pk),
            "in_progress": job.status in (job.Status.QUEUED, job.Status.RUNNING),
            "reviews": report_job_reviews(user=request.user, case=case, pk=job.pk),
            "sign_off": sign_off,
            "final_job": final_job,
            "review_role": reviewer_role(request.user, case) if open_draft else None,
            "may_name_declarant": case_can(request.user, case, MANAGE),
            "may_finalise": open_draft
            and sign_off is not None
            and sign_off.approved
            and case_can(request.user, case, REPORT),
        },
    )


@login_required
@require_POST
def case_report_review(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Approve or reject a draft (counsel: the whole report; the expert: its methods)."""
    case = case_get(user=request.user, reference=reference)
    job = case_report_job_get(user=request.user, case=case, pk=pk)
    try:
        review = report_review(
            actor=request.user,
            job=job,
            decision=request.POST.get("decision", ""),
            comment=request.POST.get("comment", ""),
        )
    except ReviewError as exc:
        messages.error(request, f"Review not recorded ({exc.field or 'request'}): {exc}")
    else:
        scope = review.get_scope_display().lower()
        messages.success(request, f"{review.get_decision_display()}: {scope}.")
    return redirect("case_report", reference=case.reference, pk=job.pk)


@login_required
@require_POST
def case_report_declarant(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Name (or clear) the declarant of the case's final reports, from a report's page."""
    case = case_get(user=request.user, reference=reference)
    job = case_report_job_get(user=request.user, case=case, pk=pk)
    fields = {f: request.POST.get(f, "") for f in services.DECLARANT_FIELDS}
    try:
        services.case_declarant_set(actor=request.user, case=case, **fields)
    except services.CaseError as exc:
        messages.error(request, f"Declarant not saved ({exc.field or 'request'}): {exc}")
    else:
        messages.success(request, "Declarant saved.")
    return redirect("case_report", reference=case.reference, pk=job.pk)


@login_required
@require_POST
def case_report_final(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Build the final report of an approved draft."""
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, REPORT)
    draft = case_report_job_get(user=request.user, case=case, pk=pk)
    try:
        job = report_final_request(actor=request.user, draft=draft, enqueue=True)
    except ReportError as exc:
        messages.error(request, f"Final report not requested: {exc}")
        return redirect("case_report", reference=case.reference, pk=draft.pk)
    return redirect("case_report", reference=case.reference, pk=job.pk)


@login_required
@require_GET
def case_report_pdf(request: HttpRequest, reference: str, pk: int) -> FileResponse:
    case = case_get(user=request.user, reference=reference)
    job = case_report_job_get(user=request.user, case=case, pk=pk)
    if job.pdf is None:
        raise Http404("The report is not built yet.")
    services.evidence_item_exported(actor=request.user, item=job.pdf, case=case)
    return FileResponse(job.pdf.file.open("rb"), as_attachment=True, filename=job.pdf.file_name)


@login_required
@require_POST
def case_production_request(request: HttpRequest, reference: str) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, REPORT)
    try:
        job = production_job_request(
            actor=request.user,
            case=case,
            edition=request.POST.get("edition", ""),
            page_size=request.POST.get("page_size") or "letter",
            max_file_mb=request.POST.get("max_file_mb") or 35,
            enqueue=True,
        )
    except ProductionError as exc:
        errors = {exc.field or "request": f"Production not started: {exc}"}
        refused = {"production": {"errors": errors, "values": request.POST}}
        return _case_page(request, case, refused=refused, status=400)
    return redirect("case_production", reference=case.reference, pk=job.pk)


@login_required
@require_GET
def case_production(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case = case_get(user=request.user, reference=reference)
    job = case_production_get(user=request.user, case=case, pk=pk)
    return render(
        request,
        "casework/production_job.html",
        {
            "case": case,
            "job": job,
            "in_progress": job.status in (job.Status.QUEUED, job.Status.RUNNING),
        },
    )


@login_required
@require_GET
def case_production_zip(request: HttpRequest, reference: str, pk: int) -> FileResponse:
    """The production as one zip, read from disk in chunks as it is sent."""
    case = case_get(user=request.user, reference=reference)
    job, path = production_job_zip(user=request.user, case=case, pk=pk)
    if job.zip_removed_at:
        return HttpResponseGone("The production's zip was removed past its retention.")
    if path is None:
        raise Http404("The production is not built yet.")
    production_job_exported(actor=request.user, job=job)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=job.zip_name, content_type="application/zip"
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
