"""HTML pages for the record as counsel read it: accounts, Terms and detection's clusters.

They live on the case side because they show, beside the record, the cases a user may
open, and a cluster page opens a case from the cluster (evidence never imports casework).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from casework import services
from casework.countermeasures.selectors import account_partner_matches
from casework.forms import CaseOpenForm, ClauseCategoryForm, ClusterFilterForm
from casework.search import SearchError, record_search
from casework.selectors import CASE_PAGE_ROWS, case_list, cluster_cases_open
from evidence.access import clause_categoriser
from evidence.detectors.error_rates import label_statements, population_statements
from evidence.models import ClauseCategory
from evidence.screen_selectors import terms_version_screens
from evidence.selectors import (
    account_profile,
    account_usage_daily,
    account_usage_totals,
    clause_category_corrections,
    clause_get,
    cluster_canaries,
    cluster_get,
    cluster_list_page,
    cluster_page,
    terms_diff,
    terms_documents,
    terms_version_get,
)
from evidence.terms import services as terms_services


@login_required
@require_GET
def account_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    account = account_profile(user=request.user, account_id=account_id)
    cases = case_list(user=request.user).filter(case_accounts__account=account).distinct()
    assents = account.assents.select_related("terms_version__document").order_by("accepted_at")
    # Newest first: the profile above is the first row; each earlier one stays on record.
    versions = account.versions.select_related("batch").order_by("-version")
    return render(
        request,
        "record/account_detail.html",
        {
            "account": account,
            "assents": assents,
            "versions": versions,
            "daily": account_usage_daily(account=account),
            "totals": account_usage_totals(account=account),
            "cases": cases,
            **_partner_matches(request, [account.account_id]),
        },
    )


def _partner_matches(request: HttpRequest, account_ids: list[str]) -> dict:
    """Partners' indicators that matched the accounts ("seen at partner X"), first rows."""
    matches = list(
        account_partner_matches(user=request.user, account_ids=account_ids)[: CASE_PAGE_ROWS + 1]
    )
    return {
        "partner_matches": matches[:CASE_PAGE_ROWS],
        "partner_matches_more": len(matches) > CASE_PAGE_ROWS,
    }


@login_required
@require_GET
def terms_index(request: HttpRequest) -> HttpResponse:
    documents = []
    for document in terms_documents(user=request.user):
        versions = sorted(document.versions.all(), key=lambda v: v.effective_date)
        documents.append(
            {
                "document": document,
                "versions": [
                    (version, versions[i - 1] if i else None) for i, version in enumerate(versions)
                ],
            }
        )
    return render(request, "record/terms_index.html", {"documents": documents})


@login_required
@require_GET
def terms_version(request: HttpRequest, slug: str, label: str) -> HttpResponse:
    version = terms_version_get(user=request.user, slug=slug, label=label)
    clauses = version.clauses.order_by("position")
    category = request.GET.get("category", "")
    if category:
        clauses = clauses.filter(category=category)
    return render(
        request,
        "record/terms_version.html",
        {
            "version": version,
            "clauses": clauses,
            "category": category,
            "categories": ClauseCategory.choices,
            "others": version.document.versions.exclude(pk=version.pk).order_by("effective_date"),
            "screens": terms_version_screens(user=request.user, version=version),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def clause_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One clause, its category (the classifier's suggestion and counsel's corrections)
    and, for counsel, the form that corrects it."""
    clause = clause_get(user=request.user, pk=pk)
    may_correct = clause_categoriser(request.user) and clause.operative
    form = ClauseCategoryForm(
        request.POST if request.method == "POST" else None,
        initial={"category": clause.category},
    )
    if request.method == "POST":
        if not may_correct:
            raise PermissionDenied("Only counsel may correct the category of an operative clause.")
        if form.is_valid():
            try:
                terms_services.clause_category_set(
                    actor=request.user, clause=clause, **form.cleaned_data
                )
            except terms_services.ClauseCategoryError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(
                    request,
                    f"§{clause.path} is now {clause.get_category_display()}; allegations under "
                    "it are argued under this category.",
                )
                return redirect("clause_detail", pk=clause.pk)
    labels = dict(ClauseCategory.choices)
    corrections = [
        {
            "at": entry.recorded_at,
            "actor": entry.actor,
            "from": labels.get(entry.details.get("from"), entry.details.get("from")),
            "to": labels.get(entry.details.get("to"), entry.details.get("to")),
            "reason": entry.details.get("reason", ""),
        }
        for entry in clause_category_corrections(user=request.user, clause=clause)
    ]
    return render(
        request,
        "record/clause_detail.html",
        {
            "clause": clause,
            "version": clause.version,
            "corrections": corrections,
            "form": form,
            "may_correct": may_correct,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def terms_compare(request: HttpRequest, slug: str, old: str, new: str) -> HttpResponse:
    old_version = terms_version_get(user=request.user, slug=slug, label=old)
    new_version = terms_version_get(user=request.user, slug=slug, label=new)
    if old_version.pk == new_version.pk:
        raise Http404("Compare two different versions.")
    rows = terms_diff(old=old_version, new=new_version)
    show_all = request.GET.get("all") == "1"
    return render(
        request,
        "record/terms_diff.html",
        {
            "old": old_version,
            "new": new_version,
            "rows": rows if show_all else [r for r in rows if r["status"] != "unchanged"],
            "unchanged": sum(1 for r in rows if r["status"] == "unchanged"),
            "show_all": show_all,
        },
    )


# --- Clusters: what detection found, and "open a case from this cluster" ---------------


@login_required
@require_GET
def cluster_index(request: HttpRequest) -> HttpResponse:
    filters = ClusterFilterForm(request.GET or None)
    # A filter out of range is said beside its field; the valid ones still apply.
    filters.is_valid()
    chosen = filters.cleaned_data if filters.is_bound else {}
    context = cluster_list_page(
        user=request.user,
        band=chosen.get("band") or None,
        min_accounts=chosen.get("min_accounts"),
        page=request.GET.get("page", 1),
    )
    run = context["run"]
    # Record readers only reach a run here: naming the accounts the run and the
    # investigators disagree on is for them.
    rates = (run.counts or {}).get("error_rates") if run else None
    context.update(
        {
            "filters": filters,
            "filtered": bool(chosen.get("band") or chosen.get("min_accounts")),
            "error_rates": (
                [*population_statements(rates), *label_statements(rates, with_accounts=True)]
                if run
                else []
            ),
        }
    )
    return render(request, "record/cluster_index.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = cluster_get(user=request.user, pk=pk)
    initial = {
        "title": f"Distillation through {cluster.size} accounts (cluster {cluster.identity})",
        "respondent": f"Unknown respondent (cluster {cluster.identity})",
    }
    form = CaseOpenForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_open_from_cluster(
                actor=request.user, cluster=cluster, **form.cleaned_data
            )
        except services.CaseError as exc:
            form.add_error("reference", str(exc))
        else:
            messages.success(
                request, f"Case {case.reference} opened with the cluster's {cluster.size} accounts."
            )
            return redirect("case_detail", reference=case.reference)
    context = cluster_page(
        cluster=cluster,
        links_page=request.GET.get("links", 1),
        members_page=request.GET.get("accounts", 1),
    )
    members = context["members"].paginator.object_list  # every member, read once
    canaries = cluster_canaries(cluster=cluster, members=members)
    # The user's cases that hold a match of these accounts' canaries as evidence of use.
    use_cases = case_list(user=request.user).filter(
        output_evidence__canary_match__in=[m["pk"] for m in canaries["matches"]]
    )
    context.update(
        {
            "form": form,
            "may_open": services.may_open_cases(request.user),
            "canaries": canaries,
            "use_cases": use_cases.distinct().order_by("reference"),
            "open_cases": cluster_cases_open(user=request.user, cluster=cluster),
        }
    )
    context.update(_partner_matches(request, [a.account_id for a in members]))
    return render(
        request, "record/cluster_detail.html", context, status=400 if form.errors else 200
    )


# --- Search: an identifier to every account, cluster and case it touches ----------------


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    if "q" not in request.GET:
        return render(request, "record/search.html", {"q": ""})
    query = request.GET["q"]
    try:
        result = record_search(user=request.user, query=query)
    except SearchError as exc:
        return render(request, "record/search.html", {"q": query, "error": str(exc)}, status=400)
    return render(request, "record/search.html", {"q": query, "result": result})
