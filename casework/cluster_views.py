"""Cluster pages: what detection found, and "open a case from this cluster"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from casework import services
from casework.forms import CaseOpenForm
from evidence.models import Band
from evidence.selectors import cluster_get, cluster_list, cluster_page, cluster_volume

BAND_ORDER = {Band.CRITICAL: 0, Band.HIGH: 1, Band.REVIEW: 2, Band.NONE: 3}


@login_required
@require_GET
def cluster_index(request: HttpRequest) -> HttpResponse:
    band = request.GET.get("band") or None
    clusters = list(cluster_list(user=request.user, band=band))
    volume = cluster_volume(clusters=clusters)
    for cluster in clusters:
        cluster.requests, cluster.output_tokens = volume.get(cluster.pk, (0, 0))
    clusters.sort(key=lambda c: (BAND_ORDER.get(c.band, 9), -c.score, c.pk))
    return render(
        request,
        "record/cluster_index.html",
        {
            "run": clusters[0].run if clusters else None,
            "clusters": clusters,
            "band": band or "",
            "bands": Band.choices,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = cluster_get(user=request.user, pk=pk)
    initial = {
        "title": f"Distillation through {cluster.size} accounts (cluster {cluster.pk})",
        "respondent": f"Unknown respondent (cluster {cluster.pk})",
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
    context = cluster_page(cluster=cluster)
    context.update({"form": form, "may_open": services.may_open_cases(request.user)})
    return render(
        request, "record/cluster_detail.html", context, status=400 if form.errors else 200
    )
