"""The elements checklist read live, for the case page and the REST API.

The facts are gathered from the record as it stands, in the very shapes the report's
snapshot freezes them (the same collectors where they exist), and judged by the one rule
in `casework.elements`: what the page shows is what the next report will state.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import Http404

from casework.case_rules import output_use_collect
from casework.damages_rules import case_damages_key
from casework.elements import as_data, elements_check
from casework.models import Case
from casework.reports.snapshot.record import accounts_collect, allegations_collect, case_links
from casework.reports.snapshot.values import iso
from casework.selectors import case_checked, case_damages, case_detection_counts
from evidence.detectors import link_kinds, signals
from evidence.detectors.selectors import detection_run_latest
from evidence.models import LedgerEntry, PlanLimit, TermsVersion


def _conduct(damages: dict[str, Any]) -> dict[str, Any]:
    """The conduct period, its requests and those refused at a limit (HTTP 429), from the
    case's cached usage pass (`case_damages`)."""
    return {
        "first_ts": iso(damages["first_ts"]),
        "last_ts": iso(damages["last_ts"]),
        "requests": damages["requests"],
        "throttled": damages["throttled"],
    }


def _detection(case: Case) -> dict[str, Any] | None:
    """The latest finished run's findings and links on the case's accounts, counted per
    detector as the snapshot's detection summary counts them."""
    run = detection_run_latest()
    if run is None:
        return None
    findings, links = case_detection_counts(case=case, run=run)
    return {
        "run": {"id": run.pk},
        "detectors": [d.describe() for d in (*signals(), *link_kinds())],
        "findings": findings,
        "links": [{"kind": kind, "links": n} for kind, n in links.items()],
    }


def elements_facts_live(*, case: Case, measured: dict | None = None) -> dict[str, Any]:
    """The checklist's facts for `case` from the record as it stands now. `measured` may
    hold what the caller has already read by the same rules (the case page's
    `output_use` and `damages`), so the page does not measure them twice."""
    measured = measured or {}
    links = case_links(case)
    accounts = accounts_collect(links, defaultdict(str), {}, None)
    allegations = allegations_collect(case)
    slugs = {a["clause"]["document"] for a in allegations}
    slugs |= {r["terms"] for account in accounts for r in account["assent"]}
    versions = (
        TermsVersion.objects.filter(document__slug__in=slugs).select_related("document")
        if slugs
        else []
    )
    terms = [
        {
            "document": v.document.slug,
            "version": v.label,
            "effective_date": v.effective_date.isoformat(),
        }
        for v in versions
    ]
    plans = {a.account.plan for a in links if a.account.plan}
    damages = measured["damages"] if "damages" in measured else case_damages(case=case)
    output_use = (
        measured["output_use"] if "output_use" in measured else output_use_collect(case=case)
    )
    return {
        "allegations": allegations,
        "accounts": accounts,
        "terms": terms,
        "conduct": _conduct(damages),
        "detection": _detection(case),
        "plan_limits": list(PlanLimit.objects.filter(plan__in=plans).values("plan"))
        if plans
        else [],
        "output_use": output_use,
        "damages": {
            "priced": damages["priced"],
            "value": damages["value"],
            "unpriced": damages["unpriced"],
            "requests": damages["requests"],
        },
    }


def case_elements(*, user, case: Case, measured: dict | None = None) -> dict[str, Any]:
    """The case's elements checklist as JSON-native data, for a member of the case
    (`measured`: see `elements_facts_live`)."""
    case = case_checked(user=user, case=case)
    return cache.get_or_set(
        "case-elements/1:" + case_elements_key(case=case),
        lambda: as_data(elements_check(elements_facts_live(case=case, measured=measured))),
        timeout=24 * 3600,
    )


# Reads of the record (a page opened, a file downloaded) are ledgered too, but change no
# fact the checklist weighs; every write is ledgered in the transaction that makes it.
_READ_ACTIONS = (LedgerEntry.Action.VIEWED, LedgerEntry.Action.EXPORTED)


def case_elements_key(*, case: Case) -> str:
    """A key naming every input of the checklist, so the case page (opened all day long)
    judges a case of hundreds of accounts once per change, never from stale facts: the
    damages' inputs (accounts, window, usage, prices, detection run, Terms, allegations),
    the latest act written to the ledger other than a read (an attribution basis, an
    assent file, an allegation edited, a clause's category corrected, output evidence
    attached, ...), and the plan limits loaded."""
    with connection.cursor() as cursor:
        # Walks the ledger's seq index from its end: only the trailing reads are skipped.
        cursor.execute(
            f"SELECT (SELECT seq FROM {LedgerEntry._meta.db_table} "
            "WHERE action NOT IN (%s, %s) ORDER BY seq DESC LIMIT 1), "
            f"(SELECT count(*) FROM {PlanLimit._meta.db_table}), "
            f"(SELECT max(id) FROM {PlanLimit._meta.db_table})",
            [str(action) for action in _READ_ACTIONS],
        )
        written = cursor.fetchone()
    inputs = ":".join(str(part) for part in (case_damages_key(case=case), *written))
    return hashlib.sha256(inputs.encode()).hexdigest()


def case_allegation_elements(*, user, case: Case, pk: int) -> dict[str, Any]:
    """One allegation's elements and flags, with the case's flags; 404 when the case has
    no such allegation (or the user may not open the case)."""
    checklist = case_elements(user=user, case=case)
    for allegation in checklist["allegations"]:
        if allegation["id"] == pk:
            return {**allegation, "case_flags": checklist["flags"]}
    raise Http404("No allegation matches the given query.")
