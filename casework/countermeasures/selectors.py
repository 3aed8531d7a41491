"""Reads of countermeasures. Access is enforced here: a case's actions through the case
(members only, as `case_get` decides), partners' matches through the record."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from casework.countermeasures.handoff import webhook_configured
from casework.countermeasures.models import (
    EnforcementAction,
    IndicatorExchange,
    IndicatorMatch,
    Notice,
)
from casework.models import Case
from casework.permissions import WORK_PRODUCT, case_can
from casework.selectors import CASE_PAGE_ROWS, case_checked
from evidence.access import record_reader


def case_enforcement_actions(*, user, case: Case) -> QuerySet[EnforcementAction]:
    """The case's actions, oldest first, for its members (404 for anyone else)."""
    case = case_checked(user=user, case=case)
    return (
        case.enforcement_actions.select_related("clause__version__document")
        .prefetch_related("accounts", "handoffs")
        .order_by("proposed_at", "pk")
    )


def account_partner_matches(*, user, account_ids) -> QuerySet[IndicatorMatch]:
    """Where else the accounts were seen: partners' indicators that matched them, newest
    import first. The record's readers only (a regulator's reviewer reads cases, not this)."""
    if not record_reader(user):
        return IndicatorMatch.objects.none()
    return (
        IndicatorMatch.objects.filter(account__account_id__in=list(account_ids))
        .select_related("exchange__partner", "account")
        .order_by("-exchange__exchanged_at", "account__account_id", "kind")
    )


def case_countermeasures(*, user, case: Case) -> dict | None:
    """The case page's countermeasures: its actions, its notices and their deadlines, and
    the indicator exchanges about its cluster or its accounts. For the provider's own team
    (who read the work product); a regulator's reviewer reads them in the report edition.
    Exchanges are of the record: shown to the record's readers only."""
    case = case_checked(user=user, case=case)
    if not case_can(user, case, WORK_PRODUCT):
        return None
    now = timezone.now()
    notices = list(
        case.notices.select_related("pdf").prefetch_related("actions").order_by("-issued_at")
    )
    deadlines = sorted(
        (
            {"notice": x, "overdue": x.deadline_at <= now}
            for x in notices
            if x.deadline_at and x.delivery == Notice.Delivery.SENT
        ),
        key=lambda d: d["notice"].deadline_at,
    )
    exchanges = IndicatorExchange.objects.none()
    if record_reader(user):
        about_case = Q(matches__account__case_links__case=case)
        if case.source_cluster_id is not None:
            about_case |= Q(cluster__identity=case.source_cluster.identity)
        exchanges = (
            IndicatorExchange.objects.filter(about_case)
            .select_related("partner", "cluster")
            .distinct()
            .order_by("-exchanged_at")[:CASE_PAGE_ROWS]
        )
    return {
        # Access is settled above (a second `case_get` would only repeat it).
        "actions": case.enforcement_actions.select_related("clause__version")
        .prefetch_related("accounts", "handoffs")
        .order_by("proposed_at", "pk"),
        # Whether an approved action can be handed over by webhook, or by CSV file only.
        "webhook": webhook_configured(),
        "notices": notices,
        "deadlines": deadlines,
        "exchanges": exchanges,
    }
