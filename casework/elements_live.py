"""The elements checklist read live, for the case page and the REST API.

The facts are gathered from the record as it stands, in the very shapes the report's
snapshot freezes them (the same collectors where they exist), and judged by the one rule
in `casework.elements`: what the page shows is what the next report will state.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Count, Prefetch, Q
from django.http import Http404

from casework.case_rules import output_use_collect, usage_window_sql
from casework.elements import as_data, elements_check
from casework.models import Case, CaseAccount, CaseAccountBasis
from casework.reports.snapshot.record import accounts_collect, allegations_collect
from casework.reports.snapshot.values import iso
from casework.selectors import case_damages, case_get
from evidence.detectors import link_kinds, signals
from evidence.detectors.selectors import detection_run_latest
from evidence.models import Finding, Link, ModelRelease, PlanLimit, TermsVersion

# The evidence of use is measured again from the record unless the caller passes it.
MEASURE = object()


def _conduct(case: Case) -> dict[str, Any]:
    """The case usage's first and last request, its count and the requests refused for
    exceeding a limit (HTTP 429), in the case window."""
    window, params = usage_window_sql(start=case.window_start, end=case.window_end)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(u.ts), max(u.ts), count(*), count(*) FILTER (WHERE u.status = 429) "
            "FROM evidence_usageevent u "
            "JOIN evidence_account a ON a.account_id = u.account_id "
            "JOIN casework_caseaccount ca ON ca.account_id = a.id "
            f"WHERE ca.case_id = %(case)s AND {window}",
            {"case": case.pk, **params},
        )
        first, last, requests, throttled = cursor.fetchone()
    return {
        "first_ts": iso(first),
        "last_ts": iso(last),
        "requests": requests,
        "throttled": throttled,
    }


def _detection(case: Case) -> dict[str, Any] | None:
    """The latest finished run's findings and links on the case's accounts, counted per
    detector as the snapshot's detection summary counts them."""
    run = detection_run_latest()
    if run is None:
        return None
    members = case.case_accounts.values("account_id")
    findings = (
        Finding.objects.filter(run=run, account_id__in=members)
        .values("detector")
        .annotate(measured=Count("id"), fired=Count("id", filter=Q(fired=True)))
        .order_by("detector")
    )
    links = (
        Link.objects.filter(run=run)
        .filter(Q(account_a_id__in=members) | Q(account_b_id__in=members))
        .values("kind")
        .annotate(links=Count("id"))
        .order_by("kind")
    )
    return {
        "run": {"id": run.pk},
        "detectors": [d.describe() for d in (*signals(), *link_kinds())],
        "findings": [dict(row) for row in findings],
        "links": [dict(row) for row in links],
    }


def elements_facts_live(*, case: Case, output_use=MEASURE) -> dict[str, Any]:
    """The checklist's facts for `case` from the record as it stands now (`output_use`:
    the case's `output_use_collect`, when the caller has already measured it)."""
    links = list(
        CaseAccount.objects.filter(case=case)
        .select_related("account", "attributed_by")
        .prefetch_related(
            Prefetch("further_bases", CaseAccountBasis.objects.select_related("attributed_by"))
        )
        .order_by("account__account_id")
    )
    accounts = accounts_collect(links, defaultdict(str), {}, None)
    allegations = allegations_collect(case)
    slugs = {a["clause"]["document"] for a in allegations}
    slugs |= {r["terms"] for account in accounts for r in account["assent"]}
    terms = [
        {"document": slug, "version": label, "effective_date": effective.isoformat()}
        for slug, label, effective in TermsVersion.objects.filter(
            document__slug__in=slugs
        ).values_list("document__slug", "label", "effective_date")
    ]
    plans = {a.account.plan for a in links if a.account.plan}
    damages = case_damages(case=case)
    return {
        "allegations": allegations,
        "accounts": accounts,
        "terms": terms,
        "conduct": _conduct(case),
        "detection": _detection(case),
        "plan_limits": list(PlanLimit.objects.filter(plan__in=plans).values("plan")),
        "output_use": output_use_collect(case=case) if output_use is MEASURE else output_use,
        "damages": {
            "priced": ModelRelease.objects.exists(),
            "value": damages["value"],
            "unpriced": damages["unpriced"],
            "requests": damages["requests"],
        },
    }


def case_elements(*, user, case: Case, output_use=MEASURE) -> dict[str, Any]:
    """The case's elements checklist as JSON-native data, for a member of the case."""
    case = case_get(user=user, reference=case.reference)
    return as_data(elements_check(elements_facts_live(case=case, output_use=output_use)))


def case_allegation_elements(*, user, case: Case, pk: int) -> dict[str, Any]:
    """One allegation's elements and flags, with the case's flags; 404 when the case has
    no such allegation (or the user may not open the case)."""
    checklist = case_elements(user=user, case=case)
    for allegation in checklist["allegations"]:
        if allegation["id"] == pk:
            return {**allegation, "case_flags": checklist["flags"]}
    raise Http404("No allegation matches the given query.")
